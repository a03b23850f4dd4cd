"""Route registration that also describes each route for the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, request

from node.errors import ValidationError


@dataclass
class RouteDoc:
    path: str
    method: str
    summary: str
    tag: str
    body: type | None = None
    query: dict[str, str] = field(default_factory=dict)
    auth: bool = True
    status: int = 200


ROUTES: list[RouteDoc] = []


def route(
    bp: Blueprint,
    path: str,
    method: str,
    summary: str,
    tag: str,
    *,
    body: type | None = None,
    query: dict[str, str] | None = None,
    auth: bool = True,
    status: int = 200,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        prefix = bp.url_prefix or ""
        ROUTES.append(RouteDoc(prefix + path, method.lower(), summary, tag, body, query or {}, auth, status))
        bp.add_url_rule(path, fn.__name__, fn, methods=[method])
        return fn

    return decorator


def json_body() -> Any:
    """The request's JSON body; malformed JSON or a wrong content type is a clear 400, a body
    beyond MAX_CONTENT_LENGTH (chunked or not) a 413 (reading it raises RequestEntityTooLarge)."""
    if not request.content_length and not request.get_data(cache=True):
        return {}
    if not request.is_json:
        raise ValidationError("请求体须为 JSON（Content-Type: application/json）")
    data = request.get_json(silent=True)
    if data is None:
        raise ValidationError("请求体不是合法的 JSON")
    return data


def arg_int(name: str, default: int, lo: int = 1, hi: int = 10**9) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(f"参数 {name} 应为整数", details={name: "应为整数"}) from None
    if not lo <= value <= hi:
        raise ValidationError(f"参数 {name} 应在 {lo}-{hi} 之间", details={name: "超出范围"})
    return value
