"""Authentication and the Actor every service call carries."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

import peewee as pw
from werkzeug.security import check_password_hash, generate_password_hash

from node import clock, db
from node import settings as node_settings
from node.auth.models import ApiToken, LoginAttempt, User, UserSession
from node.auth.roles import ALL_PERMISSIONS, permissions_for, role_name
from node.db import database, write_tx
from node.errors import (
    AuthenticationRequired,
    Conflict,
    NotFound,
    PermissionDenied,
    RateLimited,
    ValidationError,
)

MAX_CLIENT_FAILURES = 5
MAX_USER_FAILURES = 10
MAX_ADDRESS_FAILURES = 30
THROTTLE_WINDOW = dt.timedelta(minutes=15)
MIN_PASSWORD = 8


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user, a token holder, or the node itself (jobs, federation)."""

    user_id: int | None
    username: str
    display_name: str
    roles: tuple[str, ...]
    unit_id: int | None = None
    permissions: frozenset[str] = field(default_factory=frozenset)

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def require(self, permission: str) -> None:
        if permission not in self.permissions:
            raise PermissionDenied(f"当前角色无权执行此操作（需要权限 {permission}）")

    @property
    def is_unit_staff(self) -> bool:
        return self.unit_id is not None and not self.can("order.view_all")

    @property
    def role_names(self) -> str:
        return "、".join(role_name(r) for r in self.roles)


SYSTEM = Actor(
    user_id=None, username="system", display_name="系统", roles=("system",), permissions=ALL_PERMISSIONS
)


def actor_for(user: User) -> Actor:
    from node.auth import admin  # administrator-defined roles, kept current per process

    admin.refresh_roles()
    return Actor(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=tuple(user.role_list),
        unit_id=user.unit_id,
        permissions=permissions_for(user.role_list),
    )


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def create_user(
    *,
    actor: Actor | None = None,
    username: str,
    display_name: str,
    password: str,
    roles: list[str],
    unit_id: int | None = None,
    seat: str = "",
    phone: str = "",
    password_hash: str | None = None,
) -> User:
    errors: dict[str, str] = {}
    if not username or len(username) > 40 or not username.replace("_", "").replace(".", "").isalnum():
        errors["username"] = "用户名须为1-40位字母、数字、下划线或点"
    from node.auth import admin

    unknown = [r for r in roles if not admin.is_role(r)]
    if not roles or unknown:
        errors["roles"] = f"未知角色：{'、'.join(unknown)}" if unknown else "至少指定一个角色"
    if password_hash is None and len(password) < MIN_PASSWORD:
        errors["password"] = f"密码至少{MIN_PASSWORD}位"
    if "unit_staff" in roles and unit_id is None:
        errors["unit"] = "承办人必须属于一个承办单位"
    if errors:
        raise ValidationError("用户信息有误：" + "；".join(errors.values()), details=errors)
    from node.audit import service as audit

    with write_tx():
        try:
            with database.atomic():
                user = User.create(
                    username=username,
                    display_name=display_name or username,
                    password_hash=password_hash or hash_password(password),
                    roles=",".join(roles),
                    unit=unit_id,
                    seat=seat,
                    phone=phone,
                    created_at=clock.now(),
                )
        except pw.IntegrityError as exc:
            raise Conflict(f"用户名已存在：{username}") from exc
        audit.record(actor, "user.created", target=username, details={"roles": roles, "unit_id": unit_id})
    return user


def _dummy_hash() -> str:
    """A hash made like real ones: an unknown user name costs the same time as a known one."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
    return _DUMMY_HASH


_DUMMY_HASH: str | None = None


def _failures(*conds: Any) -> int:
    since = clock.now() - THROTTLE_WINDOW
    return (
        LoginAttempt.select()
        .where(LoginAttempt.at > since, LoginAttempt.success == False, *conds)  # noqa: E712
        .count()
    )


def _throttled(username: str, address: str, client: str, trusted: bool) -> bool:
    """Limits, each over the last 15 minutes:
    - 5 failures for this user name from this client (its device cookie, else its address);
    - 10 failures for this user name from clients without the owner's device cookie (guessing from
      many addresses), which does not lock out the owner on a device that signed in before;
    - 30 failures from one address without a device cookie (many names tried from one place),
      which again spares people behind the same address who signed in before on their device."""
    if _failures(LoginAttempt.username == username, LoginAttempt.client == client) >= MAX_CLIENT_FAILURES:
        return True
    if trusted:
        return False
    if _failures(LoginAttempt.username == username, LoginAttempt.trusted == False) >= MAX_USER_FAILURES:  # noqa: E712
        return True
    return (
        bool(address)
        and _failures(
            LoginAttempt.address == address,
            LoginAttempt.trusted == False,  # noqa: E712
        )
        >= MAX_ADDRESS_FAILURES
    )


def authenticate(username: str, password: str, address: str = "", device: str = "") -> User:
    """Check a password with throttling (see `_throttled`). `device` is the id from a valid device
    cookie of this user name (the web layer checks its signature), "" if none.

    The throttle check and the attempt's record happen together under one lock, before the slow
    password check, so parallel guesses cannot all pass the check before any failure is counted."""
    from node.audit import service as audit

    username = username[:40]
    client = f"d:{device}" if device else f"a:{address}"
    with write_tx():
        db.lock_named("login")
        if _throttled(username, address, client, bool(device)):
            attempt = None
        else:
            attempt = LoginAttempt.create(
                username=username,
                address=address[:64],
                client=client[:80],
                trusted=bool(device),
                at=clock.now(),
                success=False,
            )
    if attempt is None:
        raise RateLimited("登录失败次数过多，请15分钟后再试")
    user = User.get_or_none(User.username == username)
    password_ok = check_password_hash(user.password_hash if user else _dummy_hash(), password)
    ok = password_ok and user is not None and user.active
    with write_tx():
        if ok:
            assert user is not None
            LoginAttempt.update(success=True).where(LoginAttempt.id == attempt.id).execute()
            User.update(last_login_at=attempt.at, failed_logins=0).where(User.id == user.id).execute()
            audit.record(actor_for(user), "auth.login", target=username, details={"device": bool(device)})
        else:
            if user is not None:
                User.update(failed_logins=User.failed_logins + 1).where(User.id == user.id).execute()
            reason = "unknown_user" if user is None else ("inactive" if not user.active else "password")
            audit.record(
                None, "auth.login_failed", target=username, actor_name=username, details={"reason": reason}
            )
            if (
                _failures(LoginAttempt.username == username, LoginAttempt.client == client)
                == MAX_CLIENT_FAILURES
            ):
                audit.record(None, "auth.login_throttled", target=username, actor_name=username)
    if not ok:
        raise AuthenticationRequired("用户名或密码错误")
    assert user is not None
    return user


def _live() -> node_settings.Settings:
    """The node's settings with the administrator's run-time values (session limits) applied."""
    from node.config import service as config

    return config.live()


# ---- browser sessions ---------------------------------------------------------------------------------


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def start_session(user: User, address: str = "", user_agent: str = "") -> str:
    """A new server-side session; returns the secret for the cookie."""
    secret = secrets.token_urlsafe(32)
    now = clock.now()
    with write_tx():
        UserSession.create(
            key_hash=_digest(secret),
            user=user,
            created_at=now,
            last_seen_at=now,
            expires_at=now + dt.timedelta(hours=_live().session_max_hours),
            address=address[:64],
            user_agent=user_agent[:200],
        )
    return secret


SESSION_TOUCH = dt.timedelta(minutes=1)


def session_user(secret: str, *, touch: bool = True) -> User:
    """The user of a live session. Ends the session (and says why) when it has timed out.
    `touch=False` checks it without counting the request as activity (the push stream: an open
    page is not a user at work, so it must not keep an idle session alive)."""
    settings = _live()
    row = (
        UserSession.select(UserSession, User)
        .join(User)
        .where(UserSession.key_hash == _digest(secret))
        .first()
    )
    if row is None or row.ended_at is not None:
        raise AuthenticationRequired("登录已失效，请重新登录")
    now = clock.now()
    if now >= row.expires_at:
        _end(row, "expired")
        raise AuthenticationRequired(
            f"登录已超过{settings.session_max_hours}小时，请重新登录", code="session_expired"
        )
    if now - row.last_seen_at > dt.timedelta(minutes=settings.session_minutes):
        _end(row, "idle")
        raise AuthenticationRequired("登录已超时，请重新登录", code="session_expired")
    if not row.user.active:
        _end(row, "disabled")
        raise AuthenticationRequired("账号已停用")
    if touch and now - row.last_seen_at > SESSION_TOUCH:
        with write_tx():
            UserSession.update(last_seen_at=now).where(UserSession.id == row.id).execute()
    return row.user  # type: ignore[no-any-return]


def _end(row: UserSession, reason: str) -> None:
    with write_tx():
        UserSession.update(ended_at=clock.now(), end_reason=reason).where(
            UserSession.id == row.id, UserSession.ended_at.is_null()
        ).execute()


def end_session(secret: str) -> bool:
    """Logout: the session ends on the server; a saved copy of the cookie no longer signs in."""
    from node.audit import service as audit

    row = (
        UserSession.select(UserSession, User)
        .join(User)
        .where(UserSession.key_hash == _digest(secret))
        .first()
    )
    if row is None or row.ended_at is not None:
        return False
    _end(row, "logout")
    audit.record(actor_for(row.user), "auth.logout", target=row.user.username)
    return True


def force_sign_out(actor: Actor, user_id: int, reason: str = "admin", *, revoke_tokens: bool = False) -> int:
    """End every live session of a user (and optionally revoke the user's tokens); returns how many
    sessions ended. For administrators (`user.manage`) and the node itself."""
    from node.audit import service as audit

    actor.require("user.manage")
    user = get_user(user_id)
    with write_tx():
        ended = (
            UserSession.update(ended_at=clock.now(), end_reason=reason[:20])
            .where(UserSession.user == user, UserSession.ended_at.is_null())
            .execute()
        )
        tokens = (
            ApiToken.update(revoked=True).where(ApiToken.user == user, ApiToken.revoked == False).execute()  # noqa: E712
            if revoke_tokens
            else 0
        )
        audit.record(
            actor,
            "auth.sessions_revoked",
            target=user.username,
            details={"sessions": ended, "tokens": tokens, "reason": reason},
        )
    forget_tokens()  # also when only the sessions end: roles or unit changed, account disabled
    return int(ended)


# ---- API tokens ---------------------------------------------------------------------------------------


def issue_token(user: User, name: str, days: int | None = None) -> str:
    """A bearer token for `days` (default and maximum: the node's `token_max_days`)."""
    from node.audit import service as audit

    limit = _live().token_max_days
    days = limit if days is None else days
    if not 1 <= days <= limit:
        raise ValidationError(f"令牌有效期应为 1-{limit} 天", details={"days": f"1-{limit}"})
    secret = "hl_" + secrets.token_urlsafe(32)
    with write_tx():
        token = ApiToken.create(
            user=user,
            name=name[:60],
            token_hash=_digest(secret),
            prefix=secret[:10],
            created_at=clock.now(),
            expires_at=clock.now() + dt.timedelta(days=days),
        )
        audit.record(
            actor_for(user),
            "auth.token_issued",
            target=user.username,
            details={"token_id": token.id, "prefix": token.prefix, "name": token.name, "days": days},
        )
    return secret


# What a process read about a token is kept this long: a token revoked, an account disabled or its
# roles or unit changed by another process are in force here within that time; in the process that
# made the change at once (`forget_tokens()`). Saves a joined look-up on every API request.
TOKEN_CACHE_SECONDS = 2.0


@dataclass
class _KnownToken:
    token_id: int
    expires_at: dt.datetime | None
    revoked: bool
    last_used_at: dt.datetime | None
    user: User
    read_at: dt.datetime
    database: int


_known_tokens: dict[str, _KnownToken] = {}
_known_lock = threading.Lock()


def forget_tokens() -> None:
    """Drop this process's cached token look-ups (after a revocation or a change of a user)."""
    with _known_lock:
        _known_tokens.clear()


def _token(digest: str, now: dt.datetime) -> _KnownToken | None:
    hit = _known_tokens.get(digest)
    fresh = dt.timedelta(seconds=TOKEN_CACHE_SECONDS)
    if hit is not None and hit.database == id(database.obj) and hit.read_at <= now < hit.read_at + fresh:
        return hit
    token = ApiToken.select(ApiToken, User).join(User).where(ApiToken.token_hash == digest).first()
    if token is None:
        return None
    hit = _KnownToken(
        token.id, token.expires_at, token.revoked, token.last_used_at, token.user, now, id(database.obj)
    )
    with _known_lock:
        if len(_known_tokens) > 10_000:
            _known_tokens.clear()
        _known_tokens[digest] = hit
    return hit


def user_for_token(secret: str) -> User:
    """The holder of a bearer token (read at most every TOKEN_CACHE_SECONDS per process)."""
    now = clock.now()
    token = _token(_digest(secret), now)
    if token is None or token.revoked or (token.expires_at and token.expires_at < now):
        raise AuthenticationRequired("访问令牌无效或已过期")
    if not token.user.active:
        raise AuthenticationRequired("账号已停用")
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=5):
        ApiToken.update(last_used_at=now).where(ApiToken.id == token.token_id).execute()
        token.last_used_at = now
    return token.user


def list_tokens(actor: Actor, username: str | None = None) -> list[ApiToken]:
    """The actor's own tokens; another user's (or everyone's, `username` "*") with `user.manage`."""
    query = ApiToken.select(ApiToken, User).join(User).order_by(ApiToken.id.desc())
    if username is None or username == actor.username:
        return list(query.where(ApiToken.user == actor.user_id))
    actor.require("user.manage")
    return list(query if username == "*" else query.where(User.username == username))


def revoke_token(actor: Actor, token_id: int) -> ApiToken:
    """Revoke a token at once: its own holder may, and so may an administrator."""
    from node.audit import service as audit

    with write_tx():
        token = ApiToken.select(ApiToken, User).join(User).where(ApiToken.id == token_id).first()
        if token is None or (token.user_id != actor.user_id and not actor.can("user.manage")):
            raise NotFound("访问令牌不存在")
        if not token.revoked:
            ApiToken.update(revoked=True).where(ApiToken.id == token.id).execute()
            token.revoked = True
            audit.record(
                actor,
                "auth.token_revoked",
                target=token.user.username,
                details={"token_id": token.id, "prefix": token.prefix},
            )
    forget_tokens()
    return token  # type: ignore[no-any-return]


def get_user(user_id: int) -> User:
    user = User.get_or_none(User.id == user_id)
    if user is None:
        raise NotFound("用户不存在")
    return user


def set_active(actor: Actor, user_id: int, active: bool) -> User:
    """Enable or disable an account; disabling also ends its sessions at once."""
    from node.audit import service as audit

    actor.require("user.manage")
    with write_tx():
        user = get_user(user_id)
        user.active = active
        user.save()
        audit.record(actor, "user.enabled" if active else "user.disabled", target=user.username)
        if not active:
            force_sign_out(actor, user.id, "disabled")
    forget_tokens()
    return user
