"""Open311 GeoReport v2 at /open311/v2 (JSON and XML), mapped as DOMAIN.md §6 says:

- service_code ↔ sub-business (4 digits) or a domain without sub-businesses (2 digits);
  the business type is the required attribute `business_type` (1 投诉举报, 2 信息咨询, 3 意见建议);
- service_request_id ↔ order number; agency_responsible ↔ the lead handling unit;
  expected_datetime ↔ due time; token ↔ the intake record (受理记录) of the submission.

Caller data (name, phone, e-mail, device) is accepted on POST and never returned; descriptions
are not returned either, since citizens write personal details into them. Confidential orders
are not listed. Writes are limited per address like the portal.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request

from node import clock
from node.catalog import service as catalog
from node.catalog.models import Unit
from node.errors import DomainError, ValidationError
from node.intake.models import Contact
from node.portal import service
from node.settings import current as current_settings
from node.validation import EARLIEST, LATEST
from node.web import pickers
from node.web.common import client_address
from node.workflow import states
from node.workflow.models import Assignment, WorkOrder

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")

FORMATS = ("json", "xml")
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
DEFAULT_DAYS = 90


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


class Open311Error(Exception):
    def __init__(self, status: int, description: str):
        self.status, self.description = status, description


@bp.errorhandler(Open311Error)
def _error(err: Open311Error) -> Response:
    return _errors(err.status, err.description)


@bp.errorhandler(DomainError)
def _domain_error(err: DomainError) -> Response:
    return _errors(err.status, err.message)


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(404, f"不支持的格式：{fmt}（应为 json 或 xml）")
    return fmt


def _errors(status: int, description: str) -> Response:
    fmt = request.view_args.get("fmt", "json") if request.view_args else "json"
    return _out(fmt, "errors", "error", [{"code": status, "description": description}], status)


def _xml_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _xml_item(parent: ET.Element, tag: str, item: dict[str, Any]) -> None:
    el = ET.SubElement(parent, tag)
    for key, value in item.items():
        if isinstance(value, list):
            wrapper = ET.SubElement(el, key)
            child_tag = {"attributes": "attribute", "values": "value"}.get(key, key.rstrip("s"))
            for v in value:
                if isinstance(v, dict):
                    _xml_item(wrapper, child_tag, v)
                else:
                    ET.SubElement(wrapper, child_tag).text = _xml_value(v)
        else:
            ET.SubElement(el, key).text = _xml_value(value)


def _xml(root_tag: str, item_tag: str, items: list[dict[str, Any]], status: int = 200) -> Response:
    root = ET.Element(root_tag)
    for item in items:
        _xml_item(root, item_tag, item)
    body = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8")
    return Response(body, status=status, mimetype="text/xml")


def _out(fmt: str, root: str, item: str, items: list[dict[str, Any]], status: int = 200) -> Response:
    if fmt == "xml":
        return _xml(root, item, items, status)
    resp = jsonify(items)
    resp.status_code = status
    return resp


def _iso(value: dt.datetime | None) -> str | None:
    # Node time is Asia/Shanghai (naive); Open311 wants W3C datetimes with an offset.
    return value.strftime("%Y-%m-%dT%H:%M:%S+08:00") if value else None


# ---- services ------------------------------------------------------------------------------------


def _services() -> list[dict[str, Any]]:
    subs = catalog.sub_businesses()
    out = []
    for d in sorted(catalog.domains().values(), key=lambda d: d.code):
        if not d.in_scope:
            continue
        children = sorted((s for s in subs.values() if s.domain_id == d.code), key=lambda s: s.code)
        if not children:
            out.append(
                {
                    "service_code": d.code,
                    "service_name": d.name,
                    "description": f"{d.name}领域的诉求",
                    "metadata": True,
                    "type": "realtime",
                    "keywords": d.name,
                    "group": d.name,
                }
            )
        for s in children:
            out.append(
                {
                    "service_code": s.code,
                    "service_name": s.name,
                    "description": f"{d.name} · {s.name}",
                    "metadata": True,
                    "type": "realtime",
                    "keywords": f"{d.name},{s.name}",
                    "group": d.name,
                }
            )
    return out


def _service_codes() -> dict[str, tuple[str, str]]:
    """service_code -> (domain, sub_business)."""
    return {
        s["service_code"]: (s["service_code"][:2], s["service_code"] if len(s["service_code"]) == 4 else "")
        for s in _services()
    }


@bp.get("/services.<fmt>")
def services(fmt: str) -> Response:
    return _out(_fmt(fmt), "services", "service", _services())


def _definition(code: str) -> dict[str, Any]:
    types = catalog.business_types()
    regions = pickers.node_regions()
    return {
        "service_code": code,
        "attributes": [
            {
                "variable": True,
                "code": "business_type",
                "datatype": "singlevaluelist",
                "required": True,
                "datatype_description": "诉求类型",
                "order": 1,
                "description": "诉求类型",
                "values": [{"key": k, "name": v} for k, v in types.items()],
            },
            {
                "variable": True,
                "code": "region_code",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": "GB/T 2260 行政区划代码，缺省为本中心所在地",
                "order": 2,
                "description": "所在区域",
                "values": [{"key": r["code"], "name": r["label"]} for r in regions],
            },
            {
                "variable": True,
                "code": "respondent",
                "datatype": "string",
                "required": False,
                "datatype_description": "涉及企业、车牌号、线路或船舶",
                "order": 3,
                "description": "被反映对象",
            },
        ],
    }


@bp.get("/services/<code>.<fmt>")
def service_definition(code: str, fmt: str) -> Response:
    _fmt(fmt)
    if code not in _service_codes():
        raise Open311Error(404, f"服务代码不存在：{code}")
    return (
        _out(fmt, "service_definition", "service_definition", [_definition(code)])
        if fmt == "xml"
        else jsonify(_definition(code))
    )


# ---- requests ------------------------------------------------------------------------------------


def _lead_units(order_ids: list[int]) -> dict[int, str]:
    if not order_ids:
        return {}
    rows = (
        Assignment.select(Assignment.order, Unit.name)
        .join(Unit)
        .where(
            Assignment.order.in_(order_ids),
            Assignment.role == "lead",
            Assignment.active == True,  # noqa: E712
        )
    )
    return {a.order_id: a.unit.name for a in rows}


def _request_dict(order: WorkOrder, agency: str) -> dict[str, Any]:
    code = order.sub_business or order.domain
    closed = states.category(order.state) == states.CLOSED
    return {
        "service_request_id": order.number,
        "status": "closed" if closed else "open",
        "status_notes": service.PUBLIC_STATUS.get(order.state, ""),
        "service_name": catalog.sub_name(order.sub_business)
        if order.sub_business
        else (catalog.domain_name(order.domain) if order.domain else "待分类"),
        "service_code": code,
        "agency_responsible": agency,
        "service_notice": catalog.type_name(order.business_type),
        "requested_datetime": _iso(order.accepted_at),
        "updated_datetime": _iso(order.updated_at),
        "expected_datetime": _iso(order.due_at),
        "address": catalog.region_name(order.region_code),
        "address_id": order.region_code,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }


def _page_args() -> tuple[int, int]:
    try:
        page = int(request.args.get("page", "1"))
        size = int(request.args.get("page_size", str(DEFAULT_PAGE_SIZE)))
    except ValueError:
        raise Open311Error(400, "page 和 page_size 应为整数") from None
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise Open311Error(400, f"page ≥ 1，page_size 应在 1-{MAX_PAGE_SIZE} 之间")
    return page, size


def _parse_when(name: str) -> dt.datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name} 应为 W3C 日期时间，如 2026-11-01T00:00:00+08:00") from None
    if not EARLIEST <= value.date() <= LATEST:
        raise Open311Error(400, f"{name} 超出范围（{EARLIEST.year}-{LATEST.year} 年）")
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone(dt.timedelta(hours=8))).replace(tzinfo=None)
    return value


def _public_query() -> Any:
    return WorkOrder.select().where(WorkOrder.confidential == False)  # noqa: E712


@bp.get("/requests.<fmt>")
def list_requests(fmt: str) -> Response:
    _fmt(fmt)
    service.check_limit("api", client_address())
    query = _public_query()
    ids = [i.strip() for i in request.args.get("service_request_id", "").split(",") if i.strip()]
    if ids:
        query = query.where(WorkOrder.number.in_(ids[:MAX_PAGE_SIZE]))
    else:
        end = _parse_when("end_date") or clock.now()
        start = _parse_when("start_date") or end - dt.timedelta(days=DEFAULT_DAYS)
        query = query.where(WorkOrder.accepted_at >= start, WorkOrder.accepted_at <= end)
        codes = [c.strip() for c in request.args.get("service_code", "").split(",") if c.strip()]
        if codes:
            cond = None
            for c in codes:
                part = (WorkOrder.sub_business == c) if len(c) == 4 else (WorkOrder.domain == c)
                cond = part if cond is None else cond | part
            query = query.where(cond)
        status = request.args.get("status", "")
        if status:
            wanted = {s.strip() for s in status.split(",")}
            if not wanted <= {"open", "closed"}:
                raise Open311Error(400, "status 应为 open 或 closed")
            if wanted == {"closed"}:
                query = query.where(WorkOrder.state.in_(states.states_in(states.CLOSED)))
            elif wanted == {"open"}:
                query = query.where(WorkOrder.state.not_in(states.states_in(states.CLOSED)))
    page, size = _page_args()
    orders = list(query.order_by(WorkOrder.accepted_at.desc(), WorkOrder.id.desc()).paginate(page, size))
    agencies = _lead_units([o.id for o in orders])
    return _out(
        fmt, "service_requests", "request", [_request_dict(o, agencies.get(o.id, "")) for o in orders]
    )


@bp.get("/requests/<number>.<fmt>")
def get_request(number: str, fmt: str) -> Response:
    _fmt(fmt)
    service.check_limit("api", client_address())
    order = _public_query().where(WorkOrder.number == number).first()
    if order is None:
        raise Open311Error(404, f"服务请求不存在：{number}")
    return _out(
        fmt, "service_requests", "request", [_request_dict(order, _lead_units([order.id]).get(order.id, ""))]
    )


@bp.get("/tokens/<token>.<fmt>")
def get_token(token: str, fmt: str) -> Response:
    _fmt(fmt)
    if not token.isdigit():
        raise Open311Error(404, "令牌不存在")
    contact = Contact.get_or_none(Contact.id == int(token), Contact.channel == service.WEB_CHANNEL)
    if contact is None:
        raise Open311Error(404, "令牌不存在")
    return _out(
        fmt,
        "service_requests",
        "request",
        [{"service_request_id": contact.order_number or None, "token": str(contact.id)}],
    )


def _attribute(name: str) -> str:
    return (request.form.get(f"attribute[{name}]") or "").strip()


@bp.post("/requests.<fmt>")
def create_request(fmt: str) -> Response:
    _fmt(fmt)
    f = request.form
    code = (f.get("service_code") or "").strip()
    mapping = _service_codes()
    if code not in mapping:
        raise Open311Error(400, f"service_code 无效：{code or '（缺少）'}")
    btype = _attribute("business_type")
    if btype not in catalog.business_types():
        raise Open311Error(400, "缺少必填属性 attribute[business_type]（1 投诉举报，2 信息咨询，3 意见建议）")
    domain, sub = mapping[code]
    name = " ".join(p for p in ((f.get("last_name") or "").strip(), (f.get("first_name") or "").strip()) if p)
    lat, lon = _coord(f.get("lat"), "lat", 90), _coord(f.get("long"), "long", 180)
    body = {
        "business_type": btype,
        "domain": domain,
        "sub_business": sub,
        "region_code": _attribute("region_code") or current_settings().region,
        "address": (f.get("address_string") or "").strip()[:200],
        "respondent_name": _attribute("respondent")[:100],
        "content": (f.get("description") or "").strip(),
        "caller_name": name[:40],
        "caller_phone": (f.get("phone") or "").strip(),
        "latitude": lat,
        "longitude": lon,
    }
    if not body["caller_phone"]:
        raise Open311Error(400, "缺少 phone：须留联系电话以便回访（不会公开）")
    try:
        receipt = service.submit(client_address(), body)
    except ValidationError as exc:
        raise Open311Error(400, exc.message) from None
    item = {
        "service_request_id": receipt.number,
        "token": str(receipt.contact_id),
        "service_notice": f"已受理，查询码 {receipt.query_code}（凭工单编号和查询码在网站查询进度并评价）",
        "account_id": None,
    }
    return _out(fmt, "service_requests", "request", [item], 201)


def _coord(raw: str | None, name: str, bound: float) -> float | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Open311Error(400, f"{name} 应为数字") from None
    if not -bound <= value <= bound:
        raise Open311Error(400, f"{name} 超出范围")
    return value
