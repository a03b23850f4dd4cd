"""REST endpoints of the text module: duplicate candidates and decisions, category suggestions and
choices, hot topics. Thin: parse, call node.text.service, render."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from flask import Blueprint, Flask, jsonify, request
from pydantic import Field

from node.api.routing import arg_int, json_body, route
from node.auth import web
from node.errors import ValidationError
from node.settings import current
from node.text import hot, service
from node.validation import Input, parse

bp = Blueprint("text_api", __name__, url_prefix="/api/v1/text")


def init_app(app: Flask) -> None:
    service.install(current())
    app.register_blueprint(bp)


@bp.before_request
def _csrf() -> None:
    web.check_csrf(request.headers.get(web.CSRF_HEADER))


class DraftIn(Input):
    """A contact or order not yet saved, as the workstation has it."""

    title: Annotated[str, Field(max_length=100)] = ""
    content: Annotated[str, Field(max_length=5000)] = ""
    caller_phone: Annotated[str, Field(max_length=24)] = ""
    respondent_name: Annotated[str, Field(max_length=100)] = ""
    respondent_plate: Annotated[str, Field(max_length=20)] = ""
    respondent_route: Annotated[str, Field(max_length=60)] = ""
    respondent_vessel: Annotated[str, Field(max_length=60)] = ""
    address: Annotated[str, Field(max_length=200)] = ""
    region_code: Annotated[str, Field(pattern=r"^(\d{6})?$")] = ""
    domain: Annotated[str, Field(pattern=r"^(\d{2})?$")] = ""
    sub_business: Annotated[str, Field(pattern=r"^(\d{4})?$")] = ""
    number: Annotated[str, Field(pattern=r"^(\d{21})?$")] = ""
    window_days: Annotated[int, Field(ge=1, le=365)] | None = None
    limit: Annotated[int, Field(ge=1, le=50)] | None = None


@route(bp, "/duplicates", "POST", "判重：疑似重复工单（含得分与理由）", "文本智能", body=DraftIn)
def duplicates() -> Any:
    actor = web.current_actor()
    data = parse(DraftIn, json_body())
    target: Any = data.number or data.model_dump(exclude={"number", "window_days", "limit"})
    found = service.find_duplicates(actor, target, window_days=data.window_days, limit=data.limit)
    return jsonify([c.to_dict() for c in found])


class DecisionIn(Input):
    candidate: Annotated[str, Field(pattern=r"^\d{21}$")]
    is_duplicate: bool
    rank: Annotated[int, Field(ge=1, le=50)] | None = None


@route(
    bp,
    "/orders/<number>/duplicate-decisions",
    "POST",
    "记录判重结论（是否重复）",
    "文本智能",
    body=DecisionIn,
    status=201,
)
def duplicate_decision(number: str) -> Any:
    actor = web.current_actor()
    data = parse(DecisionIn, json_body())
    row = service.record_duplicate_decision(actor, number, data.candidate, data.is_duplicate, rank=data.rank)
    return jsonify(
        {"order": row.order_number, "candidate": row.candidate_number, "is_duplicate": row.is_duplicate}
    ), 201


@route(bp, "/duplicate-precision", "GET", "判重建议的准确率（按审核结论统计）", "文本智能")
def duplicate_precision() -> Any:
    web.current_actor().require("stats.view")
    return jsonify(service.duplicate_precision())


class SuggestIn(Input):
    title: Annotated[str, Field(max_length=100)] = ""
    content: Annotated[str, Field(max_length=5000)] = ""
    top: Annotated[int, Field(ge=1, le=10)] = 3


@route(bp, "/suggest", "POST", "自动归类：建议业务类型、领域、子业务及置信度", "文本智能", body=SuggestIn)
def suggest() -> Any:
    web.current_actor()
    data = parse(SuggestIn, json_body())
    return jsonify(service.suggest_categories(data.title, data.content, data.top))


class ChoiceIn(Input):
    kind: Annotated[str, Field(pattern=r"^(business_type|domain|sub_business)$")]
    chosen: Annotated[str, Field(min_length=1, max_length=4)]
    suggested: Annotated[str, Field(max_length=4)] = ""
    confidence: Annotated[float, Field(ge=0, le=1)] | None = None
    model_version: int | None = None


@route(
    bp,
    "/orders/<number>/category-choice",
    "POST",
    "记录坐席最终选择的分类（与建议对照）",
    "文本智能",
    body=ChoiceIn,
    status=201,
)
def category_choice(number: str) -> Any:
    actor = web.current_actor()
    data = parse(ChoiceIn, json_body())
    suggestion = {"code": data.suggested, "confidence": data.confidence, "model_version": data.model_version}
    row = service.record_category_choice(actor, number, data.kind, data.chosen, suggestion)
    return jsonify(
        {"order": row.order_number, "kind": row.kind, "chosen": row.chosen, "suggested": row.suggested}
    ), 201


def _day(name: str, default: dt.date) -> dt.datetime:
    raw = request.args.get(name)
    try:
        day = dt.date.fromisoformat(raw) if raw else default
    except ValueError:
        raise ValidationError(
            f"参数 {name} 应为日期（如 2026-11-01）", details={name: "日期格式有误"}
        ) from None
    return dt.datetime.combine(day, dt.time())


@route(
    bp,
    "/hot-topics",
    "GET",
    "热点：上升词与相似工单簇（与前几期对比）",
    "文本智能",
    query={
        "start": "起始日期",
        "end": "截止日期（不含）",
        "region": "区划代码前缀",
        "domain": "业务领域",
        "periods": "对比的前期数",
    },
)
def hot_topics() -> Any:
    from node import clock

    web.current_actor().require("stats.view")
    today = clock.today()
    start = _day("start", today - dt.timedelta(days=7))
    end = _day("end", today + dt.timedelta(days=1))
    result = hot.hot_topics_for_orders(
        start,
        end,
        region=request.args.get("region") or None,
        domain=request.args.get("domain") or None,
        periods=arg_int("periods", 4, 1, 12),
    )
    return jsonify(result.to_dict())
