"""One intake from the workstation form: the contact record plus its outcome, in one transaction.

Outcomes: `answer` (即时答复, an order closed on the spot), `order` (生成工单 and submit it),
`transfer` (转接), `invalid` (无效来电), `link` (关联已有工单 as a duplicate). Every one leaves
an intake record (受理记录); a telephony screen-pop may have created it already (`contact_id`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from node.auth.service import Actor
from node.db import group_write
from node.errors import ValidationError
from node.intake import service as intake
from node.intake.schemas import ContactCreate, ContactFinish
from node.text import service as text_service
from node.validation import parse
from node.workflow import schemas, states
from node.workflow import service as workflow

OUTCOMES = {
    "answer": "即时答复",
    "order": "生成工单",
    "transfer": "转接",
    "invalid": "无效来电",
    "link": "关联已有工单",
}

ORDER_FIELDS = (
    "business_type",
    "domain",
    "sub_business",
    "region_code",
    "address",
    "respondent_name",
    "respondent_plate",
    "respondent_route",
    "respondent_vessel",
    "title",
    "content",
    "caller_phone",
    "contact_phone",
    "caller_name",
    "call_id",
    "recording_ref",
    "channel",
)


@dataclass
class IntakeResult:
    outcome: str
    contact_id: int
    order_number: str = ""
    query_code: str = ""
    state_label: str = ""


def _text(form: Any, name: str, limit: int = 5000) -> str:
    return str(form.get(name, "") or "").strip()[:limit]


def order_body(form: Any) -> dict[str, Any]:
    body: dict[str, Any] = {name: _text(form, name) for name in ORDER_FIELDS}
    body["channel"] = body["channel"] or "01"
    if body["domain"] != "01":
        body["road_class"] = ""
    else:
        body["road_class"] = _text(form, "road_class")
    body["priority"] = "urgent" if form.get("urgent") else "normal"
    body["confidential"] = bool(form.get("confidential"))
    body["anonymous"] = bool(form.get("anonymous"))
    return body


def _float(raw: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if 0.0 <= value <= 1.0 else None


def shown_suggestion(form: Any) -> dict[str, dict[str, Any]]:
    """What the suggestion panel showed when the agent submitted (its hidden `sg_*` fields)."""
    shown: dict[str, dict[str, Any]] = {}
    for kind in ("business_type", "domain", "sub_business"):
        code = _text(form, f"sg_{kind}", 4)
        if code and code.isdigit():
            model = _text(form, f"sg_{kind}_model", 9)
            shown[kind] = {
                "code": code,
                "confidence": _float(_text(form, f"sg_{kind}_conf", 12)),
                "model_version": int(model) if model.isdigit() else None,
            }
    return shown


def take_contact(actor: Actor, form: Any) -> IntakeResult:
    """Validate everything first, then write the contact and its outcome atomically."""
    outcome = _text(form, "outcome", 10)
    if outcome not in OUTCOMES:
        raise ValidationError(
            "请选择受理结果：即时答复、生成工单、转接或无效来电", details={"outcome": "必选"}
        )
    raw_contact = _text(form, "contact_id", 12)
    if raw_contact and not raw_contact.isdigit():
        raise ValidationError("受理记录编号有误", details={"contact_id": "应为数字"})
    contact_id = int(raw_contact) if raw_contact else None
    content = _text(form, "content")
    contact_body = parse(
        ContactCreate,
        {
            "channel": _text(form, "channel", 2) or "01",
            "caller_phone": _text(form, "caller_phone", 24),
            "caller_name": _text(form, "caller_name", 40),
            "summary": content[:2000],
            "call_id": _text(form, "call_id", 100),
            "recording_ref": _text(form, "recording_ref", 200),
        },
    )
    order: schemas.OrderCreate | None = None
    finish: ContactFinish | None = None
    if outcome in ("answer", "order"):
        body = order_body(form)
        if outcome == "answer":
            body["immediate_answer"] = _text(form, "answer")
            if not body["immediate_answer"]:
                raise ValidationError("即时答复须填写答复内容", details={"answer": "必填"})
        else:
            if not body["domain"]:
                raise ValidationError("生成工单须选择业务领域", details={"domain": "必填"})
        order = parse(schemas.OrderCreate, body)
    else:
        status = {"transfer": "transferred", "invalid": "invalid", "link": "linked"}[outcome]
        finish = parse(
            ContactFinish,
            {
                "outcome": status,
                "note": _text(form, f"note_{outcome}", 2000) or _text(form, "note", 2000),
                "transfer_target": _text(form, "transfer_target", 60),
                "order_number": _text(form, "order_number", 21),
                "summary": content[:2000],
            },
        )
        if status == "transferred" and not finish.transfer_target:
            raise ValidationError("转接须填写转接去向", details={"transfer_target": "必填"})
        if status == "linked" and not finish.order_number:
            raise ValidationError("关联已有工单须指定工单编号", details={"order_number": "必填"})
    shown = shown_suggestion(form) if order is not None else {}

    def write() -> IntakeResult:
        nonlocal contact_id
        if contact_id is None:
            contact_id = intake.create_contact(actor, contact_body).id
        if order is not None:
            order.contact_id = contact_id
            created = workflow.create_order(actor, order)
            text_service.record_intake_choices(actor, created, shown)
            return IntakeResult(
                outcome, contact_id, created.number, created.query_code, states.label(created.state)
            )
        assert finish is not None
        contact = intake.finish_contact(actor, contact_id, finish)
        return IntakeResult(outcome, contact_id, contact.order_number)

    # the desk's submits share SQLite transactions with concurrent ones (node.db.group_write): the
    # write uses only what was read from the form above, never the request
    return group_write(write)
