"""Every model of the node, in creation order. Migrations and tests read this list."""

from __future__ import annotations

import importlib

import peewee as pw

# Domain packages whose `models` module defines tables; order matters for foreign keys.
MODEL_MODULES = [
    "node.catalog.models",
    "node.auth.models",
    "node.intake.models",
    "node.telephony.models",
    "node.workflow.models",
    "node.text.models",
    "node.jobs.models",
    "node.portal.models",
    "federation.models",
]


def all_models() -> list[type[pw.Model]]:
    models: list[type[pw.Model]] = []
    for name in MODEL_MODULES:
        module = importlib.import_module(name)
        models.extend(module.MODELS)
    return pw.sort_models(models)
