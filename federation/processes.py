"""Processes the federation subsystem adds to `hotline run` (node/supervisor.py reads this)."""

from __future__ import annotations

from typing import Any


def process_specs(config: str, settings: Any) -> list[Any]:
    """The gRPC server, once the node holds its TLS certificate (after enrolment)."""
    from federation.pki import enrolled
    from node.supervisor import ProcSpec, hotline

    if not enrolled(settings.keys_dir):
        return []
    return [ProcSpec("federation", hotline(config, "serve-federation"))]
