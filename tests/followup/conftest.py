from __future__ import annotations

import pytest

from node.followup import service as followup


@pytest.fixture(autouse=True)
def _hooks() -> None:
    followup.install()
