"""The IVR administration screen (运行管理 → 语音导航)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, send_file, url_for

from node.auth import web as auth_web
from node.errors import DomainError
from node.telephony import ivr, ivr_admin, service
from node.web.common import require_form_csrf

bp = Blueprint("ivr_admin", __name__, url_prefix="/admin/ivr")
KEYS = list("1234567890*#")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.before_request
def _guard() -> None:
    require_form_csrf()
    auth_web.current_actor().require("node.manage")


@bp.get("")
def menus() -> Any:
    settings = current_app.config["NODE"]
    items = list(service.load_menus().values())
    return render_template(
        "admin/ivr.html",
        menus=items,
        recorded={m.key: ivr_admin.has_recording(settings, m) for m in items},
        actions=ivr.ACTIONS,
    )


@bp.get("/new")
def new() -> Any:
    key = (request.args.get("key") or "").strip()
    if not key or len(key) > 40 or not key.replace("_", "").isalnum() or not key.isascii():
        flash("菜单编码须为字母、数字或下划线", "error")
        return redirect(url_for("ivr_admin.menus"))
    return redirect(url_for("ivr_admin.edit", key=key))


@bp.route("/<key>", methods=["GET", "POST"])
def edit(key: str) -> Any:
    actor = auth_web.current_actor()
    settings = current_app.config["NODE"]
    menus = service.load_menus()
    spec = menus.get(key)
    message, status, errors = "", 200, {}
    if request.method == "POST":
        f = request.form
        op = f.get("op", "save")
        try:
            if op == "save":
                rows = [
                    {
                        "key": k,
                        "action": f.get(f"action_{i}", ""),
                        "label": f.get(f"label_{i}", ""),
                        "param": f.get(f"param_{i}", ""),
                    }
                    for i, k in enumerate(KEYS)
                ]
                ivr_admin.save(
                    actor,
                    key,
                    {
                        "title": f.get("title", "").strip()[:60],
                        "prompt": f.get("prompt", "").strip()[:1000],
                        "timeout_s": _number(f.get("timeout_s"), 8),
                        "max_retries": int(_number(f.get("max_retries"), 2)),
                        "options": ivr_admin.options_from_rows(rows),
                    },
                )
                flash("菜单已保存", "ok")
            elif op == "upload":
                upload = request.files.get("recording")
                ivr_admin.store_recording(actor, settings, key, upload.read() if upload else b"")
                flash("录音已上传并转换为 8 kHz 单声道", "ok")
            elif op == "remove":
                ivr_admin.remove_recording(actor, settings, key)
                flash("已删除录音，改用语音合成", "ok")
            return redirect(url_for("ivr_admin.edit", key=key))
        except DomainError as exc:
            if exc.status in (401, 403):
                raise
            message, status = exc.message, exc.status
            errors = exc.details if isinstance(exc.details, dict) else {}
    return render_template(
        "admin/ivr_edit.html",
        key=key,
        spec=spec,
        menus=menus,
        keys=KEYS,
        actions=ivr.ACTIONS,
        business=ivr.BUSINESS,
        recorded=ivr_admin.has_recording(settings, spec) if spec else False,
        form=request.form if request.method == "POST" else {},
        errors=errors,
        message=message,
    ), status


def _number(raw: str | None, default: float) -> float:
    try:
        return float(raw) if raw not in (None, "") else default
    except ValueError:
        return -1  # refused by the menu validation with its message


@bp.get("/<key>/audio.wav")
def audio(key: str) -> Any:
    """试听: the prompt as callers hear it (the recording, else synthesised)."""
    path = ivr_admin.audio(current_app.config["NODE"], key)
    return send_file(path, mimetype="audio/wav", max_age=0)
