"""Operator tooling invoked as `hotline admin ...`."""
