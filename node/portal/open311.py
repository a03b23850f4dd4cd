"""Open311 GeoReport v2 at /open311/v2 (JSON and XML), mapped as DOMAIN.md §6 says:

- service_code ↔ sub-business (4 digits) or a domain without sub-businesses (2 digits);
  the business type is the required attribute `business_type` (1 投诉举报, 2 信息咨询, 3 意见建议);
- service_request_id ↔ order number; agency_responsible ↔ the lead handling unit;
  expected_datetime ↔ due time; token ↔ the intake record (受理记录) of the submission.

POST needs `api_key`: a node API token (`hotline issue-token USER`) of an account allowed to create
orders; `jurisdiction_id`, when given, must be this node's region code. A spec-minimal POST
(service_code, address_string or lat/long, description) is accepted: the business type defaults to
the automatic categorisation of the description, the phone is optional. Caller data (name, phone,
e-mail, device) is never returned; descriptions are returned with personal data masked, with the
submitted lat/long and address. Confidential orders are not listed. Writes are limited per
address like the portal. `/open311/discovery.json` (and .xml) is the discovery document.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request

from node import clock
from node.auth import service as auth_service
from node.catalog import service as catalog
from node.catalog.models import Unit
from node.errors import DomainError, ValidationError
from node.intake.models import Contact
from node.portal import service
from node.settings import current as current_settings
from node.text import service as text_service
from node.text.normalize import mask_pii
from node.validation import EARLIEST, LATEST, field_label, parse
from node.web import pickers
from node.web.common import client_address
from node.workflow import states
from node.workflow.models import Assignment, WorkOrder

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
discovery_bp = Blueprint("open311_discovery", __name__, url_prefix="/open311")

FORMATS = ("json", "xml")
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
DEFAULT_DAYS = 90


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(discovery_bp)


@bp.before_request
def _jurisdiction() -> None:
    """A client that names a jurisdiction must name this node's (its GB/T 2260 region code)."""
    raw = request.values.get("jurisdiction_id")
    if raw is not None and raw.strip() and raw.strip() != current_settings().region:
        raise Open311Error(404, f"jurisdiction_id 无效：本中心为 {current_settings().region}")


class Open311Error(Exception):
    def __init__(self, status: int, description: str):
        self.status, self.description = status, description


@bp.errorhandler(Open311Error)
def _error(err: Open311Error) -> Response:
    return _errors(err.status, err.description)


discovery_bp.register_error_handler(Open311Error, _error)


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


def _xml_one(root_tag: str, item: dict[str, Any]) -> Response:
    """One object as the root element itself (the service definition, the discovery document)."""
    holder = ET.Element("holder")
    _xml_item(holder, root_tag, item)
    body = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(holder[0], encoding="utf-8")
    return Response(body, mimetype="text/xml")


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
                "required": False,
                "datatype_description": "诉求类型，缺省时按描述内容自动判断",
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
    return _xml_one("service_definition", _definition(code)) if fmt == "xml" else jsonify(_definition(code))


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


def _agency(order_id: int, leads: dict[int, str]) -> str:
    """The lead handling unit, else this hotline centre (the same text in JSON and XML)."""
    return leads.get(order_id) or current_settings().name or "12328交通运输服务监督热线"


def _request_dict(order: WorkOrder, agency: str) -> dict[str, Any]:
    code = order.sub_business or order.domain
    closed = states.category(order.state) == states.CLOSED
    region = catalog.region_name(order.region_code)
    return {
        "service_request_id": order.number,
        "status": "closed" if closed else "open",
        "status_notes": service.PUBLIC_STATUS.get(order.state, ""),
        "service_name": catalog.sub_name(order.sub_business)
        if order.sub_business
        else (catalog.domain_name(order.domain) if order.domain else "待分类"),
        "service_code": code,
        "description": mask_pii(order.content or ""),
        "agency_responsible": agency,
        "service_notice": catalog.type_name(order.business_type),
        "requested_datetime": _iso(order.accepted_at),
        "updated_datetime": _iso(order.updated_at),
        "expected_datetime": _iso(order.due_at),
        "address": f"{region} {order.address}".strip() if order.address else region,
        "address_id": order.region_code,
        "zipcode": None,
        "lat": order.latitude,
        "long": order.longitude,
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
        fmt, "service_requests", "request", [_request_dict(o, _agency(o.id, agencies)) for o in orders]
    )


@bp.get("/requests/<number>.<fmt>")
def get_request(number: str, fmt: str) -> Response:
    _fmt(fmt)
    service.check_limit("api", client_address())
    order = _public_query().where(WorkOrder.number == number).first()
    if order is None:
        raise Open311Error(404, f"服务请求不存在：{number}")
    return _out(
        fmt, "service_requests", "request", [_request_dict(order, _agency(order.id, _lead_units([order.id])))]
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


def _api_key() -> None:
    """POST needs a valid node API token of an account that may create orders (Open311 §POST)."""
    key = (request.form.get("api_key") or request.args.get("api_key") or "").strip()
    if not key:
        raise Open311Error(403, "缺少 api_key（向本中心管理员申请应用密钥）")
    try:
        user = auth_service.user_for_token(key[:200])
    except DomainError:
        raise Open311Error(403, "api_key 无效或已过期") from None
    if not auth_service.actor_for(user).can("order.create"):
        raise Open311Error(403, "该 api_key 无权提交服务请求")


def _business_type(description: str) -> str:
    """attribute[business_type] when given, else the automatic categorisation of the description."""
    given = _attribute("business_type")
    if given:
        if given not in catalog.business_types():
            raise Open311Error(400, "attribute[business_type] 无效（1 投诉举报，2 信息咨询，3 意见建议）")
        return given
    if description.strip():
        try:
            found, _ = text_service.suggest("", description)
        except DomainError:
            found = None
        if found is not None and found.business_type:
            return found.business_type[0].code
    return "1"


# Open311 parameter names for the fields the portal's validation reports.
_PARAMS = {
    "content": "description",
    "caller_phone": "phone",
    "caller_name": "first_name / last_name",
    "address": "address_string",
    "region_code": "attribute[region_code]",
    "respondent_name": "attribute[respondent]",
    "latitude": "lat",
    "longitude": "long",
}


@bp.post("/requests.<fmt>")
def create_request(fmt: str) -> Response:
    _fmt(fmt)
    _api_key()
    f = request.form
    code = (f.get("service_code") or "").strip()
    mapping = _service_codes()
    if code not in mapping:
        raise Open311Error(400, f"service_code 无效：{code or '（缺少）'}")
    description = (f.get("description") or "").strip()
    lat, lon = _coord(f.get("lat"), "lat", 90), _coord(f.get("long"), "long", 180)
    address = (f.get("address_string") or "").strip()[:200]
    if not address and (lat is None or lon is None) and not (f.get("address_id") or "").strip():
        raise Open311Error(400, "须提供 address_string、address_id 或 lat 与 long 之一（事发位置）")
    btype = _business_type(description)
    domain, sub = mapping[code]
    name = " ".join(p for p in ((f.get("last_name") or "").strip(), (f.get("first_name") or "").strip()) if p)
    region = _attribute("region_code") or (f.get("address_id") or "").strip() or current_settings().region
    body = {
        "business_type": btype,
        "domain": domain,
        "sub_business": sub,
        "region_code": region,
        "address": address,
        "respondent_name": _attribute("respondent")[:100],
        "content": description,
        "caller_name": name[:40],
        "caller_phone": (f.get("phone") or "").strip(),
        "latitude": lat,
        "longitude": lon,
    }
    try:
        data = parse(service.Open311Submission, body)
        receipt = service.submit(client_address(), data)
    except ValidationError as exc:
        details = exc.details if isinstance(exc.details, dict) else {}
        if details:
            text = "；".join(f"{_PARAMS.get(k, k)}（{field_label(k)}）{v}" for k, v in details.items())
        else:
            text = exc.message
        raise Open311Error(400, text) from None
    item = {
        "service_request_id": receipt.number,
        "token": str(receipt.contact_id),
        "service_notice": f"已受理，查询码 {receipt.query_code}（凭工单编号和查询码在网站查询进度并评价）",
        "account_id": None,
    }
    return _out(fmt, "service_requests", "request", [item], 201)


@discovery_bp.get("/discovery.<fmt>")
def discovery(fmt: str) -> Response:
    """The GeoReport v2 discovery document: where this node's endpoint is and what it speaks."""
    _fmt(fmt)
    settings = current_settings()
    doc = {
        "changeset": "2026-12-01T00:00:00+08:00",
        "contact": f"{settings.name or '12328交通运输服务监督热线'}，服务电话 12328",
        "key_service": "向本中心管理员申请 api_key（节点访问令牌）",
        "endpoints": [
            {
                "specification": "http://wiki.open311.org/GeoReport_v2",
                "url": request.host_url.rstrip("/") + "/open311/v2",
                "changeset": "2026-12-01T00:00:00+08:00",
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    if fmt == "xml":
        return _xml_one("discovery", doc)
    return jsonify(doc)


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
