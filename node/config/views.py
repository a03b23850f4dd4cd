"""The administration home (运行管理) with its menu, and the run-time settings screen."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for

from node.auth import web as auth_web
from node.config import service
from node.errors import DomainError
from node.web.common import require_form_csrf

bp = Blueprint("admin_home", __name__, url_prefix="/admin")

# (label, endpoint, permission): the administration menu; entries whose screen is not installed
# in this build (e.g. telephony) are left out.
ADMIN_MENU: list[tuple[str, str, str]] = [
    ("概览", "admin_home.index", "node.manage"),
    ("用户管理", "users.users", "user.manage"),
    ("角色与权限", "users.roles", "user.manage"),
    ("承办单位", "catalog_admin.units", "catalog.manage"),
    ("代码表", "catalog_admin.codes", "catalog.manage"),
    ("办理时限", "catalog_admin.sla", "catalog.manage"),
    ("分派规则", "routing.rules", "catalog.manage"),
    ("工作日历", "catalog_admin.calendar", "catalog.manage"),
    ("语音导航", "ivr_admin.menus", "node.manage"),
    ("运行参数", "admin_home.settings", "node.manage"),
    ("备份与恢复", "admin_home.backups", "node.manage"),
    ("审计日志", "audit_screens.log", "audit.view"),
]


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.context_processor(_menu)


def _menu() -> dict[str, Any]:
    routed = current_app.view_functions
    return {"admin_menu": [m for m in ADMIN_MENU if m[1] in routed]}


def first_admin_screen(actor: Any) -> str | None:
    """The first administration screen this actor may open (their home), else None."""
    routed = current_app.view_functions
    for _, endpoint, perm in ADMIN_MENU:
        if endpoint in routed and actor.can(perm) and perm != "audit.view":
            return url_for(endpoint)
    return None


@bp.before_request
def _csrf() -> None:
    require_form_csrf()


@bp.get("")
@bp.get("/")
def index() -> Any:
    actor = auth_web.current_actor()
    actor.require("node.manage")
    from node.auth.models import User
    from node.backup import service as backup
    from node.catalog.models import Unit

    settings = current_app.config["NODE"]
    return render_template(
        "admin/index.html",
        users=User.select().where(User.active == True).count(),  # noqa: E712
        units=Unit.select().where(Unit.active == True).count(),  # noqa: E712
        backups=backup.list_backups(settings)[:3],
        settings=settings,
    )


@bp.route("/settings", methods=["GET", "POST"])
def settings() -> Any:
    actor = auth_web.current_actor()
    actor.require("node.manage")
    message, status, errors = "", 200, {}
    if request.method == "POST":
        changes = {k: request.form.get(k, "") for k in service.SETTINGS if k in request.form}
        try:
            diff = service.update(actor, changes)
        except DomainError as exc:
            if exc.status in (401, 403):
                raise
            message, status = exc.message, exc.status
            errors = exc.details if isinstance(exc.details, dict) else {}
        else:
            flash(f"已保存 {len(diff)} 项运行参数，立即生效" if diff else "没有改动", "ok")
            return redirect(url_for("admin_home.settings"))
    return render_template(
        "admin/settings.html",
        items=service.listing(),
        groups=service.GROUPS,
        form=request.form if request.method == "POST" else {},
        errors=errors,
        message=message,
    ), status


@bp.route("/backups", methods=["GET", "POST"])
def backups() -> Any:
    actor = auth_web.current_actor()
    from node.backup import service as backup

    settings = current_app.config["NODE"]
    if request.method == "POST":
        try:
            made = backup.create(actor, settings)
        except DomainError as exc:
            if exc.status in (401, 403):
                raise
            flash(exc.message, "error")
        else:
            flash(f"已完成备份 {made.path.name}（{made.orders} 件工单）", "ok")
        return redirect(url_for("admin_home.backups"))
    actor.require("node.manage")
    return render_template(
        "admin/backups.html",
        items=backup.list_backups(settings),
        keep_days=service.value("backup_keep_days"),
        hour=service.value("backup_hour"),
        directory=backup.backup_dir(settings),
    )
