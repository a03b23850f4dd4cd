"""The session cookie is written only when the session changes."""

from __future__ import annotations


def test_background_requests_never_rewrite_the_session_cookie(client, web_login):
    """A form's flash message lives in the session cookie; a request that merely reads (the 消息
    badge polled while the form redirects) must not send back the older cookie it came with."""
    web_login("shift_leader")
    for path in ("/notices/unread", "/no-screen", "/queues"):
        resp = client.get(path)
        assert resp.status_code == 200, path
        assert not any(h.startswith("hotline_session=") for h in resp.headers.getlist("Set-Cookie")), path
