"""Fixtures of the desk tests: the staff-screen helpers of tests/web."""

from tests.web.conftest import web_login as web_login
