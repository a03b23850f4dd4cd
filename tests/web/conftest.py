"""Helpers for the server-rendered screens: sign in through the login form and read CSRF tokens."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests import factories

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


@pytest.fixture
def web_login(client: FlaskClient, db: str) -> Any:
    """web_login(role, unit=None) -> (user, csrf): signs a fresh user in through the login form."""

    def do(role: str | list[str], unit: Any = None) -> tuple[Any, str]:
        user = factories.make_user(role, unit)
        token = csrf_of(client.get("/login").get_data(as_text=True))
        resp = client.post(
            "/login", data={"username": user.username, "password": factories.PASSWORD, "csrf_token": token}
        )
        assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
        page = client.get("/no-screen").get_data(as_text=True)
        return user, csrf_of(page)

    return do


HTML = {"Accept": "text/html"}
