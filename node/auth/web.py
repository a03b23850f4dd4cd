"""Who is calling: bearer tokens for machines, signed session cookies for people.

`current_actor()` is the only way views learn the actor. Sessions expire after the node's
`session_minutes` of inactivity; JSON writes made with a session cookie need the CSRF header.
"""

from __future__ import annotations

import hmac
import secrets
import time

from flask import Flask, current_app, g, request, session

from node.auth import service
from node.auth.service import Actor
from node.errors import AuthenticationRequired, PermissionDenied

CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def init_app(app: Flask) -> None:
    app.before_request(_load_actor)


def _load_actor() -> None:
    g.actor = None
    g.auth_via = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        user = service.user_for_token(header[7:].strip())
        g.actor, g.auth_via = service.actor_for(user), "token"
        return
    user_id = session.get("uid")
    if user_id is None:
        return
    timeout = current_app.config["SESSION_MINUTES"] * 60
    last = session.get("seen", 0)
    if time.time() - last > timeout:
        session.clear()
        g.session_expired = True
        return
    user = service.User.get_or_none(service.User.id == user_id)
    if user is None or not user.active or session.get("ver") != user.password_hash[-8:]:
        session.clear()
        return
    session["seen"] = int(time.time())
    g.actor, g.auth_via = service.actor_for(user), "session"


def current_actor() -> Actor:
    actor = getattr(g, "actor", None)
    if actor is None:
        if getattr(g, "session_expired", False):
            raise AuthenticationRequired("登录已超时，请重新登录")
        raise AuthenticationRequired()
    return actor  # type: ignore[no-any-return]


def optional_actor() -> Actor | None:
    return getattr(g, "actor", None)


def login(user: service.User) -> None:
    session.clear()
    session["uid"] = user.id
    session["seen"] = int(time.time())
    session["ver"] = user.password_hash[-8:]
    session["csrf"] = secrets.token_urlsafe(24)
    session.permanent = True


def logout() -> None:
    session.clear()


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(24)
    return str(token)


def check_csrf(sent: str | None) -> None:
    """Refuse a state-changing request made with a session cookie but without the CSRF token."""
    if request.method in SAFE_METHODS or getattr(g, "auth_via", None) != "session":
        return  # tokens are not sent by browsers on their own; anonymous requests carry no authority
    expected = session.get("csrf")
    if not expected or not sent or not hmac.compare_digest(str(expected), sent):
        raise PermissionDenied("表单已失效（CSRF 校验失败），请刷新页面后重试", code="csrf")
