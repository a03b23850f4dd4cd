"""Input validation with pydantic, reported as one Chinese ValidationError listing every field.

Also the one layer every request passes before any view (`guard_request`, `JsonProvider`): NUL
bytes, lone surrogates, overlong addresses, deep JSON, numbers beyond 2⁵³ and dates outside
EARLIEST..LATEST are refused here with a clear Chinese 4xx instead of surfacing as a 5xx from the
database (PostgreSQL refuses NUL in text) or the standard library (OverflowError, RecursionError).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from typing import Any, TypeVar
from urllib.parse import unquote

import pydantic
from flask.json.provider import DefaultJSONProvider

from node.errors import DomainError, ValidationError

M = TypeVar("M", bound=pydantic.BaseModel)

_MESSAGES: dict[str, str] = {
    "missing": "必填",
    "string_too_long": "长度不能超过{max_length}个字符",
    "string_too_short": "长度不能少于{min_length}个字符",
    "string_type": "应为文本",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "bool_type": "应为布尔值",
    "bool_parsing": "应为布尔值",
    "list_type": "应为列表",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "literal_error": "取值应为 {expected} 之一",
    "enum": "取值应为 {expected} 之一",
    "greater_than_equal": "不能小于{ge}",
    "less_than_equal": "不能大于{le}",
    "greater_than": "应大于{gt}",
    "less_than": "应小于{lt}",
    "too_short": "至少{min_length}项",
    "too_long": "至多{max_length}项",
    "string_pattern_mismatch": "格式不正确",
    "extra_forbidden": "不允许的字段",
    "datetime_parsing": "应为日期时间（如 2026-01-31T09:30:00）",
    "datetime_type": "应为日期时间",
    "date_parsing": "应为日期（如 2026-01-31）",
    "date_from_datetime_parsing": "应为日期（如 2026-01-31）",
    "value_error": "{error}",
    "string_unicode": "含有无效字符",
    "int_from_float": "应为整数",
    "finite_number": "应为有限数值",
    "date_from_datetime_inexact": "应为日期（如 2026-01-31）",
    "datetime_from_date_parsing": "应为日期时间（如 2026-01-31T09:30:00）",
    "is_instance_of": "类型不正确",
    "assertion_error": "{error}",
}


# How the forms label each field: error messages name a field this way, never by its key.
FIELD_LABELS: dict[str, str] = {
    "address": "事发地点",
    "anonymous": "匿名",
    "answer": "答复内容",
    "approve": "审批意见",
    "assist_units": "协办单位",
    "basic": "基本情况",
    "basis": "办理依据",
    "body": "请求内容",
    "business_type": "业务类型",
    "call_id": "通话编号",
    "caller_name": "来电人",
    "caller_phone": "来电号码",
    "channel": "受理渠道",
    "code": "查询码",
    "comment": "评价意见",
    "confidential": "保密",
    "contact_id": "受理记录",
    "contact_phone": "联系电话",
    "content": "诉求内容",
    "days": "延期天数",
    "domain": "业务领域",
    "extension_id": "延期申请",
    "external_number": "外部编号",
    "immediate_answer": "答复内容",
    "latitude": "纬度",
    "lead_unit": "主办单位",
    "longitude": "经度",
    "master": "主工单编号",
    "method": "回访方式",
    "note": "说明",
    "number": "工单编号",
    "order_number": "工单编号",
    "outcome": "受理结果",
    "parts": "拆分部分",
    "priority": "紧急程度",
    "process": "办理过程",
    "reached": "是否联系上",
    "reason": "原因",
    "reason_code": "原因类别",
    "recording_ref": "录音",
    "region_code": "行政区划",
    "respondent_name": "被反映企业 / 单位",
    "respondent_plate": "车牌号",
    "respondent_route": "线路",
    "respondent_vessel": "船舶",
    "result": "办理结果",
    "result_satisfaction": "结果满意度",
    "road_class": "道路等级",
    "service": "服务满意度",
    "service_satisfaction": "服务满意度",
    "sub_business": "子业务",
    "submit": "提交审核",
    "summary": "摘要",
    "text": "内容",
    "title": "标题",
    "transfer_target": "转接去向",
}


def field_label(loc: str, labels: dict[str, str] | None = None) -> str:
    """`parts.1.content` → 拆分部分第2项 诉求内容; `labels` overrides for a form that words a field
    differently (the portal's 具体内容); unknown keys stay as they are."""
    out: list[str] = []
    for part in loc.split("."):
        if part.isdigit() and out:
            out[-1] += f"第{int(part) + 1}项"
        else:
            out.append((labels or {}).get(part) or FIELD_LABELS.get(part, part))
    return " ".join(out)


def describe(details: dict[str, str], labels: dict[str, str] | None = None) -> str:
    """The one-line message for field errors, each field named as the form labels it."""
    return "输入内容有误：" + "；".join(f"{field_label(k, labels)}{v}" for k, v in details.items())


class Input(pydantic.BaseModel):
    """Base for request bodies: unknown fields are refused, strings are stripped."""

    model_config = pydantic.ConfigDict(extra="forbid", str_strip_whitespace=True)


def _message(err: Any) -> str:
    template = _MESSAGES.get(err["type"])
    if template is None:
        return str(err["msg"])
    ctx = dict(err.get("ctx") or {})
    if "error" in ctx:
        ctx["error"] = str(ctx["error"]).removeprefix("Value error, ")
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return str(err["msg"])


def parse(model: type[M], data: Any) -> M:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValidationError("请求体应为 JSON 对象")
    check_value(data)
    try:
        parsed = model.model_validate(data)
    except pydantic.ValidationError as exc:
        fields: dict[str, str] = {}
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "body"
            fields.setdefault(loc, _message(err))
        raise ValidationError(describe(fields), details=fields) from None
    for name, value in parsed:
        if isinstance(value, dt.date):
            check_day(value, name)
    return parsed


# ---- the request guard ----------------------------------------------------------------------------

EARLIEST = dt.date(1970, 1, 1)
LATEST = dt.date(2099, 12, 31)
MAX_URL = 8000  # characters of path + query
MAX_JSON_DEPTH = 64
MAX_NUMBER = 2**53  # beyond this a JSON number is no count, id or amount this node stores
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


class BadText(ValidationError):
    status = 400
    code = "bad_request"


def check_text(value: str, name: str = "") -> None:
    """Refuse text no database stores: NUL bytes and lone UTF-16 surrogates."""
    where = f"{name} " if name else ""
    if "\x00" in value:
        raise BadText(f"{where}含有空字符（NUL），请删除后重试", details={name or "body": "含有空字符"})
    if _SURROGATE_RE.search(value):
        raise BadText(f"{where}含有无效的 Unicode 字符，请删除后重试", details={name or "body": "无效字符"})


def check_value(value: Any, name: str = "", depth: int = 0) -> None:
    """Walk decoded JSON: text as in `check_text`, numbers within ±2⁵³ and finite."""
    if depth > MAX_JSON_DEPTH:
        raise BadText(f"JSON 嵌套超过{MAX_JSON_DEPTH}层")
    if isinstance(value, str):
        check_text(value, name)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")) or abs(value) > MAX_NUMBER:
            raise ValidationError(f"{name or '数值'} 超出允许范围", details={name or "body": "数值超出范围"})
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(str(key), "字段名")
            check_value(item, f"{name}.{key}" if name else str(key), depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_value(item, f"{name}[{i}]", depth + 1)


def check_day(day: dt.date, name: str = "日期") -> dt.date:
    d = day.date() if isinstance(day, dt.datetime) else day
    if not EARLIEST <= d <= LATEST:
        raise ValidationError(
            f"{name} 超出范围（{EARLIEST.year}-{LATEST.year} 年）", details={name: "日期超出范围"}
        )
    return day


def parse_day(raw: str, name: str) -> dt.date:
    """A `YYYY-MM-DD` value within EARLIEST..LATEST, or a clear ValidationError."""
    try:
        day = dt.date.fromisoformat(str(raw).strip())
    except ValueError:
        raise ValidationError(f"{name} 应为日期（如 2026-01-31）", details={name: "日期格式有误"}) from None
    return check_day(day, name)


def parse_moment(raw: str, name: str) -> dt.datetime:
    """An ISO date-time (or date) within EARLIEST..LATEST, or a clear ValidationError."""
    try:
        moment = dt.datetime.fromisoformat(str(raw).strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            f"{name} 应为日期时间（如 2026-01-31T09:30:00）", details={name: "格式有误"}
        ) from None
    check_day(moment.date(), name)
    return moment


class UriTooLong(DomainError):
    status = 414
    code = "uri_too_long"
    default_message = f"请求地址过长（至多{MAX_URL}个字符）"


def guard_request() -> None:
    """before_request for every route: the address, query and form must be storable text."""
    from flask import request

    _bound_chunked_body(request.environ)
    raw_uri = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
    if len(request.full_path) > MAX_URL or len(raw_uri) > MAX_URL:
        raise UriTooLong()
    check_text(unquote(request.path, errors="surrogatepass"), "请求地址")
    check_text(request.path, "请求地址")
    for key, value in request.args.items(multi=True):
        check_text(key, "参数名")
        check_text(value, f"参数 {key}")
    if request.method in ("POST", "PUT", "PATCH") and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        for key, value in request.form.items(multi=True):
            check_text(key, "字段名")
            check_text(value, f"字段 {key}")


def _bound_chunked_body(environ: dict[str, Any]) -> None:
    """A chunked body carries no Content-Length, so Werkzeug would read it as empty (the ASGI
    bridge does not mark the input terminated): read it here up to MAX_CONTENT_LENGTH, refuse
    anything longer with 413, and hand the views a sized body."""
    from flask import current_app
    from werkzeug.exceptions import RequestEntityTooLarge

    if environ.get("CONTENT_LENGTH") or "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return
    limit = int(current_app.config.get("MAX_CONTENT_LENGTH") or 2 * 1024 * 1024)
    stream = environ["wsgi.input"]
    chunks, size = [], 0
    while size <= limit:
        chunk = stream.read(min(65536, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise RequestEntityTooLarge()
    data = b"".join(chunks)
    environ["wsgi.input"] = io.BytesIO(data)
    environ["CONTENT_LENGTH"] = str(len(data))
    environ.pop("wsgi.input_terminated", None)
    environ.pop("HTTP_TRANSFER_ENCODING", None)  # else Werkzeug still treats the length as unknown


_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET_RE = re.compile(r"[\[\]{}]")


def json_depth(text: str) -> int:
    """How deep the arrays/objects of a JSON text nest (strings skipped), without parsing it."""
    depth = deepest = 0
    for m in _BRACKET_RE.finditer(_STRING_RE.sub("", text)):
        if m.group(0) in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


class JsonProvider(DefaultJSONProvider):
    """Flask's JSON with the request guard's checks on every decoded body."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if isinstance(s, bytes):
            try:
                s = s.decode("utf-8")
            except UnicodeDecodeError:
                raise BadText("请求体不是合法的 UTF-8 文本") from None
        if json_depth(s) > MAX_JSON_DEPTH:
            raise BadText(f"JSON 嵌套超过{MAX_JSON_DEPTH}层")
        try:
            value = json.loads(s, **kwargs)
        except RecursionError:
            raise BadText(f"JSON 嵌套超过{MAX_JSON_DEPTH}层") from None
        check_value(value)
        return value
