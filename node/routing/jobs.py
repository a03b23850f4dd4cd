"""The worker installs automatic dispatch too: orders reaching 待分派 there (federation transfers,
spot checks) follow the same rules as those on the web."""

from __future__ import annotations

from typing import Any


def jobs(settings: Any) -> list[Any]:
    from node.routing import service

    service.install()
    return []
