"""User and role administration (用户与权限): administrator-defined roles with a data scope, user
accounts (edit, roles, unit, disable/enable, one-time password-reset codes, force sign-out), and
the rule that the node always keeps at least one active administrator.

Built-in roles stay as `node.auth.roles` defines them; an administrator adds roles made from the
permission list. Every change is validated, audited, and in force in every process of the node
within `node.config.service.CHECK_SECONDS` (the "roles" counter).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

import peewee as pw
from werkzeug.security import generate_password_hash

from node import clock, db
from node.audit import service as audit
from node.auth import roles as role_table
from node.auth import service as auth
from node.auth.models import PasswordReset, Role, User, UserSession
from node.catalog.models import Unit
from node.config import service as config
from node.db import write_tx
from node.errors import Conflict, NotFound, ValidationError

ADMIN_PERMISSION = "user.manage"
ROLE_CODE_RE = re.compile(r"^[a-z][a-z0-9_]{1,29}$")
RESET_HOURS = 24
# Codes read aloud or typed from a slip of paper: no 0/O, 1/I/L.
RESET_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
RESET_LENGTH = 12  # 31^12 ≈ 2^59 guesses

_loaded_version: tuple[int, int] | None = None


# ---- roles --------------------------------------------------------------------------------------------


def refresh_roles() -> None:
    """Load the administrator-defined roles into `node.auth.roles.CUSTOM` when they changed."""
    global _loaded_version
    v = config.stamp("roles")
    if v == _loaded_version:
        return
    role_table.CUSTOM.clear()
    role_table.CUSTOM.update({r.code: (r.name, _with_scope(r.permissions, r.scope)) for r in Role.select()})
    _loaded_version = v


def forget_roles() -> None:
    global _loaded_version
    _loaded_version = None


def _with_scope(permissions: list[str], scope: str) -> frozenset[str]:
    return frozenset(p for p in permissions if p in role_table.ASSIGNABLE) | {
        role_table.SCOPE_PERMISSIONS[scope]
    }


def is_role(code: str) -> bool:
    if code in role_table.ROLES:
        return True
    refresh_roles()
    return code in role_table.CUSTOM


@dataclass(frozen=True)
class RoleView:
    code: str
    name: str
    builtin: bool
    permissions: frozenset[str]
    scope: str
    description: str
    users: int


def list_roles() -> list[RoleView]:
    counts: dict[str, int] = {}
    for (roles,) in User.select(User.roles).where(User.active == True).tuples():  # noqa: E712
        for r in roles.split(","):
            counts[r] = counts.get(r, 0) + 1
    out = [
        RoleView(
            code,
            name,
            True,
            role_table.PERMISSIONS[code],
            role_table.scope_of(role_table.PERMISSIONS[code]),
            "内置角色",
            counts.get(code, 0),
        )
        for code, name in role_table.ROLES.items()
    ]
    for r in Role.select().order_by(Role.code):
        out.append(
            RoleView(
                r.code,
                r.name,
                False,
                _with_scope(r.permissions, r.scope),
                r.scope,
                r.description,
                counts.get(r.code, 0),
            )
        )
    return out


def save_role(
    actor: auth.Actor,
    *,
    code: str,
    name: str,
    permissions: list[str],
    scope: str,
    description: str = "",
    create: bool,
) -> Role:
    """Create or change an administrator-defined role."""
    actor.require(ADMIN_PERMISSION)
    code, name, description = code.strip(), name.strip(), description.strip()
    errors: dict[str, str] = {}
    if not ROLE_CODE_RE.match(code):
        errors["code"] = "角色编码须为2-30位小写字母、数字或下划线，以字母开头"
    elif code in role_table.ROLES:
        errors["code"] = "不能使用内置角色的编码"
    if not 1 <= len(name) <= 20:
        errors["name"] = "角色名称须为1-20字"
    elif name in role_table.ROLES.values():
        errors["name"] = "与内置角色同名"
    unknown = sorted(set(permissions) - role_table.ASSIGNABLE)
    if unknown:
        errors["permissions"] = "未知权限：" + "、".join(unknown)
    elif not permissions:
        errors["permissions"] = "至少选择一项权限"
    if scope not in role_table.SCOPES:
        errors["scope"] = "数据范围须为本人、本单位或全节点"
    if len(description) > 200:
        errors["description"] = "说明不能超过200字"
    if errors:
        raise ValidationError("角色信息有误：" + "；".join(errors.values()), details=errors)
    now = clock.now()
    with write_tx():
        db.lock_named("admins")
        row = Role.get_or_none(Role.code == code)
        if create and row is not None:
            raise Conflict(f"角色编码已存在：{code}")
        if not create and row is None:
            raise NotFound(f"角色不存在：{code}")
        before = {"name": row.name, "permissions": row.permissions, "scope": row.scope} if row else None
        try:
            with db.database.atomic():
                if row is None:
                    row = Role.create(
                        code=code,
                        name=name,
                        permissions=sorted(set(permissions)),
                        scope=scope,
                        description=description,
                        created_at=now,
                        updated_at=now,
                    )
                else:
                    row.name, row.permissions, row.scope = name, sorted(set(permissions)), scope
                    row.description, row.updated_at = description, now
                    row.save()
        except pw.IntegrityError as exc:
            raise Conflict(f"角色名称已被使用：{name}") from exc
        config.bump("roles")
        forget_roles()
        _keep_an_admin()
        audit.record(
            actor,
            "role.changed",
            target=code,
            details={
                "action": "created" if before is None else "changed",
                "before": before,
                "after": {"name": name, "permissions": sorted(set(permissions)), "scope": scope},
            },
        )
    return row


def delete_role(actor: auth.Actor, code: str) -> None:
    actor.require(ADMIN_PERMISSION)
    with write_tx():
        row = Role.get_or_none(Role.code == code)
        if row is None:
            raise NotFound(f"角色不存在：{code}")
        holders = [u.username for u in User.select(User.username, User.roles) if code in u.role_list]
        if holders:
            raise Conflict(
                f"仍有 {len(holders)} 个用户拥有该角色（{'、'.join(holders[:5])}），请先调整这些用户的角色"
            )
        row.delete_instance()
        config.bump("roles")
        forget_roles()
        audit.record(actor, "role.changed", target=code, details={"action": "deleted", "name": row.name})


# ---- users --------------------------------------------------------------------------------------------


def _admins() -> list[str]:
    refresh_roles()
    return [
        u.username
        for u in User.select(User.username, User.roles).where(User.active == True)  # noqa: E712
        if ADMIN_PERMISSION in role_table.permissions_for(u.role_list)
    ]


def _keep_an_admin() -> None:
    """Inside the changing transaction: refuse (and so roll back) a change that leaves no active
    user able to manage users — nobody could undo it from the screens."""
    if not _admins():
        raise Conflict(
            "不能移除最后一个管理员：节点必须至少保留一个启用的、可管理用户的账号", code="last_admin"
        )


@dataclass
class UserFilter:
    q: str = ""
    role: str = ""
    unit_id: int | None = None
    status: str = ""  # "" | active | disabled


def list_users(
    actor: auth.Actor, flt: UserFilter, page: int = 1, page_size: int = 20
) -> tuple[list[User], int]:
    actor.require(ADMIN_PERMISSION)
    query = User.select(User, Unit).join(Unit, pw.JOIN.LEFT_OUTER)
    if flt.q:
        q = flt.q.strip()[:40]
        query = query.where(
            User.username.contains(q) | User.display_name.contains(q) | User.phone.contains(q)
        )
    if flt.role:
        # roles are comma-separated; match the whole code
        query = query.where(pw.Value(",").concat(User.roles).concat(",").contains(f",{flt.role},"))
    if flt.unit_id:
        query = query.where(User.unit == flt.unit_id)
    if flt.status == "active":
        query = query.where(User.active == True)  # noqa: E712
    elif flt.status == "disabled":
        query = query.where(User.active == False)  # noqa: E712
    total = query.count()
    return list(query.order_by(User.username).paginate(page, page_size)), total


def live_sessions(user_ids: list[int]) -> dict[int, int]:
    now = clock.now()
    rows = (
        UserSession.select(UserSession.user, pw.fn.COUNT(UserSession.id))
        .where(UserSession.user.in_(user_ids), UserSession.ended_at.is_null(), UserSession.expires_at > now)
        .group_by(UserSession.user)
        .tuples()
    )
    return {uid: n for uid, n in rows}


def _check_roles_unit(roles: list[str], unit_id: int | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    unknown = [r for r in roles if not is_role(r)]
    if not roles:
        errors["roles"] = "至少指定一个角色"
    elif unknown:
        errors["roles"] = "未知角色：" + "、".join(unknown)
    elif len(",".join(roles)) > 200:
        errors["roles"] = "角色过多"
    if unit_id is not None:
        unit = Unit.get_or_none(Unit.id == unit_id)
        if unit is None:
            errors["unit"] = "承办单位不存在"
        elif not unit.active:
            errors["unit"] = f"承办单位“{unit.name}”已撤销"
    needs_unit = [r for r in roles if is_role(r) and "order.view_unit" in role_table.permissions_for([r])]
    if needs_unit and unit_id is None:
        errors["unit"] = (
            "所选角色（" + "、".join(role_table.role_name(r) for r in needs_unit) + "）须属于一个承办单位"
        )
    return errors


def create_user(
    actor: auth.Actor,
    *,
    username: str,
    display_name: str,
    password: str,
    roles: list[str],
    unit_id: int | None = None,
    seat: str = "",
    phone: str = "",
) -> User:
    """An administrator creates an account (the password is the first one; hand it over or reset)."""
    actor.require(ADMIN_PERMISSION)
    errors = _check_roles_unit(roles, unit_id)
    if errors:
        raise ValidationError("用户信息有误：" + "；".join(errors.values()), details=errors)
    return auth.create_user(
        actor=actor,
        username=username.strip(),
        display_name=display_name.strip()[:40],
        password=password,
        roles=roles,
        unit_id=unit_id,
        seat=seat.strip()[:20],
        phone=phone.strip()[:40],
    )


def update_user(
    actor: auth.Actor,
    user_id: int,
    *,
    display_name: str,
    roles: list[str],
    unit_id: int | None,
    seat: str = "",
    phone: str = "",
) -> User:
    """Change a user's name, roles, unit, seat and phone. A change of roles or unit ends the user's
    sessions, so the next request is made with the new permissions and scope."""
    actor.require(ADMIN_PERMISSION)
    display_name = display_name.strip()
    errors = _check_roles_unit(roles, unit_id)
    if not 1 <= len(display_name) <= 40:
        errors["display_name"] = "姓名须为1-40字"
    if errors:
        raise ValidationError("用户信息有误：" + "；".join(errors.values()), details=errors)
    with write_tx():
        db.lock_named("admins")
        user = auth.get_user(user_id)
        before = {"roles": user.role_list, "unit_id": user.unit_id}
        user.display_name, user.roles, user.unit = display_name, ",".join(roles), unit_id
        user.seat, user.phone = seat.strip()[:20], phone.strip()[:40]
        user.save()
        _keep_an_admin()
        after = {"roles": roles, "unit_id": unit_id}
        audit.record(actor, "user.updated", target=user.username, details={"display_name": display_name})
        if before != after:
            audit.record(
                actor, "user.roles_changed", target=user.username, details={"before": before, "after": after}
            )
            auth.force_sign_out(actor, user.id, "roles_changed")
    auth.forget_tokens()  # the name a token's holder acts under
    return user


def set_active(actor: auth.Actor, user_id: int, active: bool) -> User:
    """Enable or disable an account (disabling ends its sessions); never the last administrator."""
    actor.require(ADMIN_PERMISSION)
    if not active and user_id == actor.user_id:
        raise Conflict("不能停用自己的账号")
    with write_tx():
        db.lock_named("admins")
        user = auth.set_active(actor, user_id, active)
        _keep_an_admin()
    return user


def force_sign_out(actor: auth.Actor, user_id: int) -> int:
    return auth.force_sign_out(actor, user_id, "admin")


def _reset_digest(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def normalise_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code).upper()


def reset_password(actor: auth.Actor, user_id: int) -> tuple[str, dt.datetime]:
    """A one-time reset code for the user (earlier unused codes stop working). The administrator
    gives it to the user, who sets a new password with it at /password-reset. Returns the code
    (shown once, grouped as XXXX-XXXX-XXXX) and when it expires."""
    actor.require(ADMIN_PERMISSION)
    code = "".join(secrets.choice(RESET_ALPHABET) for _ in range(RESET_LENGTH))
    now = clock.now()
    expires = now + dt.timedelta(hours=RESET_HOURS)
    with write_tx():
        user = auth.get_user(user_id)
        PasswordReset.update(used_at=now).where(
            PasswordReset.user == user, PasswordReset.used_at.is_null()
        ).execute()
        PasswordReset.create(
            user=user,
            code_hash=_reset_digest(code),
            created_at=now,
            created_by=actor.username,
            expires_at=expires,
        )
        audit.record(
            actor, "user.password_reset", target=user.username, details={"expires_at": expires.isoformat()}
        )
    return "-".join(code[i : i + 4] for i in range(0, RESET_LENGTH, 4)), expires


def redeem_reset(username: str, code: str, new_password: str) -> User:
    """The user sets a new password with a reset code: used once, before it expires; every session
    of the account ends."""
    if len(new_password) < auth.MIN_PASSWORD:
        raise ValidationError(f"新密码至少{auth.MIN_PASSWORD}位", details={"password": "过短"})
    if len(new_password) > 200:
        raise ValidationError("新密码过长", details={"password": "过长"})
    now = clock.now()
    with write_tx():
        row = (
            PasswordReset.select(PasswordReset, User)
            .join(User)
            .where(PasswordReset.code_hash == _reset_digest(code), User.username == username.strip()[:40])
            .first()
        )
        if row is None or row.used_at is not None or row.expires_at <= now or not row.user.active:
            audit.record(
                None,
                "auth.login_failed",
                target=username[:40],
                actor_name=username[:40],
                details={"reason": "reset_code"},
            )
            raise ValidationError(
                "重置码无效、已使用或已过期，请联系管理员重新获取", details={"code": "无效"}
            )
        user = row.user
        PasswordReset.update(used_at=now).where(PasswordReset.id == row.id).execute()
        User.update(password_hash=generate_password_hash(new_password), failed_logins=0).where(
            User.id == user.id
        ).execute()
        auth.force_sign_out(auth.SYSTEM, user.id, "password_reset")
        audit.record(
            auth.actor_for(user), "auth.password_changed", target=user.username, details={"via": "reset_code"}
        )
    return user
