"""Authentication and the Actor every service call carries."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass, field

import peewee as pw
from werkzeug.security import check_password_hash, generate_password_hash

from node import clock
from node.auth.models import ApiToken, LoginAttempt, User
from node.auth.roles import ALL_PERMISSIONS, ROLES, permissions_for
from node.db import database, write_tx
from node.errors import (
    AuthenticationRequired,
    Conflict,
    NotFound,
    PermissionDenied,
    RateLimited,
    ValidationError,
)

MAX_USER_FAILURES = 5
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
        return "、".join(ROLES.get(r, r) for r in self.roles)


SYSTEM = Actor(
    user_id=None, username="system", display_name="系统", roles=("system",), permissions=ALL_PERMISSIONS
)


def actor_for(user: User) -> Actor:
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
    unknown = [r for r in roles if r not in ROLES]
    if not roles or unknown:
        errors["roles"] = f"未知角色：{'、'.join(unknown)}" if unknown else "至少指定一个角色"
    if password_hash is None and len(password) < MIN_PASSWORD:
        errors["password"] = f"密码至少{MIN_PASSWORD}位"
    if "unit_staff" in roles and unit_id is None:
        errors["unit"] = "承办人必须属于一个承办单位"
    if errors:
        raise ValidationError("用户信息有误：" + "；".join(errors.values()), details=errors)
    with write_tx():
        try:
            with database.atomic():
                return User.create(
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


def authenticate(username: str, password: str, address: str = "") -> User:
    """Check a password with throttling per user name and per address."""
    now = clock.now()
    since = now - THROTTLE_WINDOW
    user_failures = (
        LoginAttempt.select()
        .where(LoginAttempt.username == username, LoginAttempt.at > since, LoginAttempt.success == False)  # noqa: E712
        .count()
    )
    addr_failures = (
        LoginAttempt.select()
        .where(LoginAttempt.address == address, LoginAttempt.at > since, LoginAttempt.success == False)  # noqa: E712
        .count()
        if address
        else 0
    )
    if user_failures >= MAX_USER_FAILURES or addr_failures >= MAX_ADDRESS_FAILURES:
        raise RateLimited("登录失败次数过多，请15分钟后再试")
    user = User.get_or_none(User.username == username)
    ok = user is not None and user.active and check_password_hash(user.password_hash, password)
    with write_tx():
        LoginAttempt.create(username=username[:40], address=address[:64], at=now, success=ok)
        if ok:
            assert user is not None
            User.update(last_login_at=now, failed_logins=0).where(User.id == user.id).execute()
        elif user is not None:
            User.update(failed_logins=User.failed_logins + 1).where(User.id == user.id).execute()
    if not ok:
        raise AuthenticationRequired("用户名或密码错误")
    assert user is not None
    return user


def issue_token(user: User, name: str, days: int | None = 365) -> str:
    secret = "hl_" + secrets.token_urlsafe(32)
    with write_tx():
        ApiToken.create(
            user=user,
            name=name[:60],
            token_hash=hashlib.sha256(secret.encode()).hexdigest(),
            prefix=secret[:10],
            created_at=clock.now(),
            expires_at=clock.now() + dt.timedelta(days=days) if days else None,
        )
    return secret


def user_for_token(secret: str) -> User:
    digest = hashlib.sha256(secret.encode()).hexdigest()
    token = ApiToken.select(ApiToken, User).join(User).where(ApiToken.token_hash == digest).first()
    now = clock.now()
    if token is None or token.revoked or (token.expires_at and token.expires_at < now):
        raise AuthenticationRequired("访问令牌无效或已过期")
    user = token.user
    if not user.active:
        raise AuthenticationRequired("账号已停用")
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=5):
        ApiToken.update(last_used_at=now).where(ApiToken.id == token.id).execute()
    return user


def get_user(user_id: int) -> User:
    user = User.get_or_none(User.id == user_id)
    if user is None:
        raise NotFound("用户不存在")
    return user


def set_active(actor: Actor, user_id: int, active: bool) -> User:
    actor.require("user.manage")
    with write_tx():
        user = get_user(user_id)
        user.active = active
        user.save()
    return user
