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


def post_login(client: FlaskClient, username: str, **extra: str) -> Any:
    """Submit the login form with the factories' password and the session's current CSRF token."""
    page = client.get("/login")
    if page.status_code == 302:  # signed in already (login rotates the token): any screen shows it
        page = client.get("/no-screen")
    token = csrf_of(page.get_data(as_text=True))
    data = {"username": username, "password": factories.PASSWORD, "csrf_token": token, **extra}
    return client.post("/login", data=data)


@pytest.fixture
def web_login(client: FlaskClient, db: str) -> Any:
    """web_login(role, unit=None) -> (user, csrf): signs a fresh user in through the login form."""

    def do(role: str | list[str], unit: Any = None) -> tuple[Any, str]:
        user = factories.make_user(role, unit)
        resp = post_login(client, user.username)
        assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
        page = client.get("/no-screen").get_data(as_text=True)
        return user, csrf_of(page)

    return do


HTML = {"Accept": "text/html"}
