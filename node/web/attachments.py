"""Attachments of work orders (node/files owner kinds): citizens' photos from the portal, documents
with a unit's reply, files of a callback. Shown, as downloads only, to everyone who may see the
order; attached by who made that step.

- `photo` (群众照片): images only, attached by the portal with the submission (or staff who may edit);
- `reply` (回复材料): PDF, Word or images, attached by the unit replying (active assignment) or the
  reviewer checking the reply;
- `callback` (回访材料): PDF, Word or images, attached by who calls back.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from node import clock
from node.auth.service import Actor
from node.errors import DomainError, NotFound, PermissionDenied, ValidationError
from node.files import checks
from node.files import service as files
from node.workflow import service as workflow
from node.workflow.models import WorkOrder

KINDS: dict[str, str] = {"photo": "群众照片", "reply": "回复材料", "callback": "回访材料"}
# which attachment kind an action's dialog adds
ACTION_KINDS = {"reply": "reply", "callback": "callback"}
PORTAL_USERNAME = "portal"
PORTAL_WINDOW = dt.timedelta(minutes=10)  # the portal attaches photos right after the submission
MAX_PHOTOS = 5
PHOTO_BYTES = 5 * 1024 * 1024
DOC_BYTES = 10 * 1024 * 1024


def _visible(actor: Actor, number: str) -> bool:
    try:
        workflow.get_order(actor, number)
    except (NotFound, PermissionDenied):
        return False
    return True


def _portal_may_attach(actor: Actor, number: str) -> bool:
    if actor.user_id is not None or actor.username != PORTAL_USERNAME:
        return False
    order = WorkOrder.get_or_none(WorkOrder.number == number)
    return order is not None and order.created_at >= clock.now() - PORTAL_WINDOW


def _photo_write(actor: Actor, number: str) -> bool:
    return _portal_may_attach(actor, number) or (actor.can("order.edit") and _visible(actor, number))


def _reply_write(actor: Actor, number: str) -> bool:
    if actor.can("order.reply.review") and _visible(actor, number):
        return True
    order = WorkOrder.get_or_none(WorkOrder.number == number)
    return (
        order is not None and actor.can("order.reply") and workflow._unit_assignment(actor, order) is not None
    )


def _callback_write(actor: Actor, number: str) -> bool:
    return actor.can("order.callback") and _visible(actor, number)


def register() -> None:
    """Declare the order attachment kinds to node/files (idempotent)."""
    images = frozenset({"image"})
    files.register_owner(
        files.Owner(
            "photo",
            "工单照片",
            _visible,
            _photo_write,
            kinds=images,
            max_bytes=PHOTO_BYTES,
            max_files=MAX_PHOTOS,
        )
    )
    files.register_owner(
        files.Owner("reply", "回复", _visible, _reply_write, max_bytes=DOC_BYTES, max_files=10)
    )
    files.register_owner(
        files.Owner("callback", "回访", _visible, _callback_write, max_bytes=DOC_BYTES, max_files=10)
    )


def uploads(form_files: Any, field: str = "files") -> list[tuple[str, bytes]]:
    """The non-empty files of a multipart field as (name, bytes)."""
    out = []
    for upload in form_files.getlist(field):
        if upload and upload.filename:
            data = upload.read()
            if data:
                out.append((upload.filename, data))
    return out


def precheck(kind: str, items: list[tuple[str, bytes]]) -> None:
    """Refuse a bad file before the step it comes with is recorded (type from the bytes, size, count)."""
    spec = files.owner(kind)
    if len(items) > spec.max_files:
        raise ValidationError(f"最多上传 {spec.max_files} 个文件", details={"files": "文件过多"})
    for name, data in items:
        if len(data) > spec.max_bytes:
            raise ValidationError(
                f"文件“{checks.safe_filename(name)}”过大，不能超过 {spec.max_bytes / 1048576:.0f} MB",
                details={"files": "文件过大"},
            )
        checks.detect(data, checks.safe_filename(name), spec.kinds)


def attach(actor: Actor, kind: str, number: str, items: list[tuple[str, bytes]]) -> list[Any]:
    return [files.save(actor, kind, number, name, data) for name, data in items]


def of_order(actor: Actor, number: str) -> list[dict[str, Any]]:
    """Every attachment of the order the actor may see, grouped label first."""
    out = []
    for kind, label in KINDS.items():
        try:
            rows = files.files_of(actor, kind, number)
        except DomainError:
            continue
        out += [{**files.present(r), "group": label} for r in rows]
    return out


def max_request_bytes() -> int:
    return MAX_PHOTOS * PHOTO_BYTES + 256 * 1024
