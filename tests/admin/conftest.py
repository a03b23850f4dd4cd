from tests.web.conftest import HTML, csrf_of, post_login, web_login  # noqa: F401  (shared fixtures)
