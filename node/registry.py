"""Every model of the node, in creation order (migrations and tests read this list), and the
optional subsystem modules that add CLI commands, jobs and processes."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import peewee as pw

# Domain packages whose `models` module defines tables; order matters for foreign keys.
MODEL_MODULES = [
    "node.catalog.models",
    "node.config.models",
    "node.auth.models",
    "node.audit.models",
    "node.push.models",
    "node.notices.models",
    "node.intake.models",
    "node.telephony.models",
    "node.workflow.models",
    "node.followup.models",
    "node.text.models",
    "node.files.models",
    "node.knowledge.models",
    "node.routing.models",
    "node.jobs.models",
    "node.portal.models",
    "node.api.models",
    "node.analytics.models",
    "node.appraisal.models",
    "federation.models",
]


def all_models() -> list[type[pw.Model]]:
    import peewee as pw  # not at import: the CLI reads optional_modules() before any database work

    models: list[type[pw.Model]] = []
    for name in MODEL_MODULES:
        module = importlib.import_module(name)
        models.extend(module.MODELS)
    return pw.sort_models(models)


def optional_modules(names: list[str]) -> Iterator[ModuleType]:
    """Import each named subsystem module, skipping a subsystem not installed in this build
    (a missing module inside an installed one still raises)."""
    for name in names:
        try:
            yield importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue
            raise
