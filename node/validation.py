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
        raise ValidationError(
            "输入内容有误：" + "；".join(f"{k} {v}" for k, v in fields.items()), details=fields
        ) from None
