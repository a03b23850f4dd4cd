"""Input validation with pydantic, reported as one Chinese ValidationError listing every field."""

from __future__ import annotations

from typing import Any, TypeVar

import pydantic

from node.errors import ValidationError

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
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        fields: dict[str, str] = {}
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "body"
            fields.setdefault(loc, _message(err))
        raise ValidationError(describe(fields), details=fields) from None
