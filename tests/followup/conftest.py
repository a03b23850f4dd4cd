from __future__ import annotations

import pytest

from node.followup import service as followup


@pytest.fixture(autouse=True)
def _hooks() -> None:
    followup.install()


from tests.web.conftest import web_login  # noqa: E402, F401  (the sign-in fixture of the screen tests)
