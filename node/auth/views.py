"""Screens for user and role administration (用户与权限) and the password-reset page users open
with the one-time code an administrator gave them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for

from node.auth import admin
from node.auth import roles as role_table
from node.auth import web as auth_web
from node.auth.models import User
from node.catalog import service as catalog
from node.errors import DomainError, ValidationError
from node.web.common import page_arg, pages, require_form_csrf

bp = Blueprint("users", __name__)
PAGE_SIZE = 20


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.before_request
def _csrf() -> None:
    require_form_csrf()


def _form_roles() -> list[str]:
    return [r for r in request.form.getlist("roles") if r]


def _unit_id(raw: str | None) -> int | None:
    if not raw:
        return None
    if not raw.isdigit():
        raise ValidationError("承办单位无效", details={"unit": "无效"})
    return int(raw)


def _form_context(**extra: Any) -> dict[str, Any]:
    return {
        "roles": admin.list_roles(),
        "units": catalog.units(),
        "form": request.form if request.method == "POST" else {},
        "errors": {},
        "message": "",
        **extra,
    }


@bp.get("/admin/users")
def users() -> Any:
    actor = auth_web.current_actor()
    flt = admin.UserFilter(
        q=(request.args.get("q") or "").strip(),
        role=request.args.get("role", ""),
        unit_id=_unit_id(request.args.get("unit")),
        status=request.args.get("status", ""),
    )
    page = page_arg()
    rows, total = admin.list_users(actor, flt, page, PAGE_SIZE)
    return render_template(
        "admin/users.html",
        rows=rows,
        sessions=admin.live_sessions([u.id for u in rows]),
        pages=pages(page, total, PAGE_SIZE),
        args=request.args,
        roles=admin.list_roles(),
        units=catalog.units(active_only=False),
        role_name=role_table.role_name,
    )


@bp.route("/admin/users/new", methods=["GET", "POST"])
def user_new() -> Any:
    actor = auth_web.current_actor()
    actor.require(admin.ADMIN_PERMISSION)
    if request.method == "POST":
        f = request.form
        try:
            user = admin.create_user(
                actor,
                username=f.get("username", ""),
                display_name=f.get("display_name", ""),
                password=f.get("password", ""),
                roles=_form_roles(),
                unit_id=_unit_id(f.get("unit")),
                seat=f.get("seat", ""),
                phone=f.get("phone", ""),
            )
        except DomainError as exc:
            ctx = _form_context(
                errors=exc.details if isinstance(exc.details, dict) else {}, message=exc.message
            )
            return render_template("admin/user_form.html", user=None, **ctx), exc.status
        flash(f"已新建用户 {user.username}（{user.display_name}）", "ok")
        return redirect(url_for("users.user_edit", user_id=user.id))
    return render_template("admin/user_form.html", user=None, **_form_context())


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
def user_edit(user_id: int) -> Any:
    actor = auth_web.current_actor()
    actor.require(admin.ADMIN_PERMISSION)
    user = User.get_or_none(User.id == user_id)
    if user is None:
        from node.errors import NotFound

        raise NotFound("用户不存在")
    if request.method == "POST":
        f = request.form
        try:
            admin.update_user(
                actor,
                user_id,
                display_name=f.get("display_name", ""),
                roles=_form_roles(),
                unit_id=_unit_id(f.get("unit")),
                seat=f.get("seat", ""),
                phone=f.get("phone", ""),
            )
        except DomainError as exc:
            ctx = _form_context(
                errors=exc.details if isinstance(exc.details, dict) else {}, message=exc.message
            )
            return render_template("admin/user_form.html", user=user, **ctx), exc.status
        flash(f"已保存用户 {user.username}", "ok")
        return redirect(url_for("users.user_edit", user_id=user_id))
    return render_template(
        "admin/user_form.html",
        user=user,
        sessions=admin.live_sessions([user.id]).get(user.id, 0),
        **_form_context(),
    )


@bp.post("/admin/users/<int:user_id>/<op>")
def user_op(user_id: int, op: str) -> Any:
    """The buttons on a user's page: disable, enable, sign-out, reset-password."""
    actor = auth_web.current_actor()
    target = url_for("users.user_edit", user_id=user_id)
    try:
        if op == "disable":
            user = admin.set_active(actor, user_id, False)
            flash(f"已停用 {user.username}，其登录会话已全部结束", "ok")
        elif op == "enable":
            user = admin.set_active(actor, user_id, True)
            flash(f"已启用 {user.username}", "ok")
        elif op == "sign-out":
            ended = admin.force_sign_out(actor, user_id)
            flash(f"已强制下线：结束会话 {ended} 个", "ok")
        elif op == "reset-password":
            code, expires = admin.reset_password(actor, user_id)
            user = User.get_by_id(user_id)
            link = url_for("users.password_reset", username=user.username, code=code, _external=True)
            return render_template("admin/reset_code.html", user=user, code=code, expires=expires, link=link)
        else:
            from node.errors import NotFound

            raise NotFound("未知操作")
    except DomainError as exc:
        if exc.status in (401, 403):
            raise
        flash(exc.message, "error")
    return redirect(target)


# ---- roles ---------------------------------------------------------------------------------------------


@bp.get("/admin/roles")
def roles() -> Any:
    actor = auth_web.current_actor()
    actor.require(admin.ADMIN_PERMISSION)
    return render_template(
        "admin/roles.html",
        roles=admin.list_roles(),
        labels=role_table.PERMISSION_LABELS,
        scopes=role_table.SCOPES,
    )


@bp.route("/admin/roles/new", methods=["GET", "POST"])
@bp.route("/admin/roles/<code>", methods=["GET", "POST"])
def role_edit(code: str | None = None) -> Any:
    actor = auth_web.current_actor()
    actor.require(admin.ADMIN_PERMISSION)
    existing = next((r for r in admin.list_roles() if r.code == code), None) if code else None
    if code and existing is None:
        from node.errors import NotFound

        raise NotFound(f"角色不存在：{code}")
    ctx: dict[str, Any] = {
        "role": existing,
        "labels": role_table.PERMISSION_LABELS,
        "scopes": role_table.SCOPES,
        "errors": {},
        "message": "",
    }
    if request.method == "POST":
        f = request.form
        if f.get("op") == "delete" and existing:
            try:
                admin.delete_role(actor, existing.code)
            except DomainError as exc:
                if exc.status in (401, 403):
                    raise
                flash(exc.message, "error")
                return redirect(url_for("users.role_edit", code=existing.code))
            flash(f"已删除角色 {existing.name}", "ok")
            return redirect(url_for("users.roles"))
        try:
            row = admin.save_role(
                actor,
                code=existing.code if existing else f.get("code", ""),
                name=f.get("name", ""),
                permissions=f.getlist("permissions"),
                scope=f.get("scope", ""),
                description=f.get("description", ""),
                create=existing is None,
            )
        except DomainError as exc:
            if exc.status in (401, 403):
                raise
            ctx.update(
                errors=exc.details if isinstance(exc.details, dict) else {}, message=exc.message, form=f
            )
            return render_template("admin/role_form.html", **ctx), exc.status
        flash(f"已保存角色 {row.name}", "ok")
        return redirect(url_for("users.roles"))
    return render_template("admin/role_form.html", **ctx)


# ---- password reset (open to anyone holding a code) ----------------------------------------------------------


@bp.route("/password-reset", methods=["GET", "POST"])
def password_reset() -> Any:
    error, status = "", 200
    username = (request.values.get("username") or "").strip()[:40]
    code = (request.values.get("code") or "").strip()[:20]
    if request.method == "POST":
        password = request.form.get("password") or ""
        if password != (request.form.get("password2") or ""):
            error, status = "两次输入的新密码不一致", 422
        else:
            try:
                admin.redeem_reset(username, code, password)
            except ValidationError as exc:
                error, status = exc.message, exc.status
            else:
                flash("密码已重置，请用新密码登录", "ok")
                return redirect(url_for("web.login"))
    return render_template("password_reset.html", username=username, code=code, error=error), status
