"""REST endpoints of the text module: duplicate candidates and decisions, category suggestions and
choices, the categorisation lexicon and models, hot topics. Thin: parse, call a service, render."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from flask import Blueprint, Flask, flash, jsonify, redirect, render_template, request, url_for
from pydantic import Field

from node.api.routing import arg_int, json_body, route
from node.auth import web
from node.errors import DomainError, ValidationError
from node.settings import current
from node.text import hot, lexicon, service
from node.text.rules import TOKENS, taxonomy
from node.validation import Input, parse, parse_day

bp = Blueprint("text_api", __name__, url_prefix="/api/v1/text")
# The administrator's screen for the lexicon and the models (自动归类管理).
screens = Blueprint("text_web", __name__, url_prefix="/text")


def init_app(app: Flask) -> None:
    service.install(current())
    app.register_blueprint(bp)
    app.register_blueprint(screens)


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
    respondent_name: Annotated[str, Field(max_length=100)] = ""
    respondent_plate: Annotated[str, Field(max_length=20)] = ""
    respondent_route: Annotated[str, Field(max_length=60)] = ""
    respondent_vessel: Annotated[str, Field(max_length=60)] = ""
    address: Annotated[str, Field(max_length=200)] = ""
    top: Annotated[int, Field(ge=1, le=10)] = 3


@route(
    bp,
    "/suggest",
    "POST",
    "自动归类：建议业务类型、领域、子业务及置信度和决定性词语",
    "文本智能",
    body=SuggestIn,
)
def suggest() -> Any:
    web.current_actor()
    data = parse(SuggestIn, json_body())
    fields = data.model_dump(include=set(service.EVIDENCE_FIELDS))
    return jsonify(service.suggest_categories(data.title, data.content, data.top, fields))


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


# ---- the categorisation lexicon (归类词表) and models ---------------------------------------------


@route(
    bp,
    "/lexicon",
    "GET",
    "归类词表：词条列表（可按词语、目标代码、类别筛选）",
    "文本智能",
    query={
        "q": "词语包含",
        "target": "目标代码前缀（业务类型1–3、领域两位、子业务四位）",
        "kind": "type（业务类型）或 category（业务分类）",
        "enabled": "1 启用 / 0 停用",
        "page": "页码",
        "page_size": "每页条数",
    },
)
def lexicon_list() -> Any:
    actor = web.current_actor()
    raw_enabled = request.args.get("enabled", "")
    if raw_enabled not in ("", "0", "1"):
        raise ValidationError("参数 enabled 应为 1 或 0", details={"enabled": "应为 1 或 0"})
    flt = lexicon.EntryFilter(
        q=(request.args.get("q") or "").strip()[:40],
        target=(request.args.get("target") or "").strip()[:4],
        kind=(request.args.get("kind") or "").strip(),
        enabled=None if raw_enabled == "" else raw_enabled == "1",
    )
    page, size = arg_int("page", 1, 1, 100_000), arg_int("page_size", 50, 1, 500)
    rows, total = lexicon.list_entries(actor, flt, page, size)
    return jsonify(
        {
            "version": lexicon.version(),
            "total": total,
            "page": page,
            "page_size": size,
            "items": [lexicon.describe(r) for r in rows],
        }
    )


class EntryIn(Input):
    term: Annotated[str, Field(min_length=1, max_length=40)]
    target: Annotated[str, Field(pattern=r"^(\d|\d{2}|\d{4})$")]
    weight: Annotated[float, Field(ge=-5, le=10)]
    note: Annotated[str, Field(max_length=200)] = ""


@route(bp, "/lexicon", "POST", "归类词表：新增词条（立即生效）", "文本智能", body=EntryIn, status=201)
def lexicon_add() -> Any:
    actor = web.current_actor()
    data = parse(EntryIn, json_body())
    row = lexicon.add_entry(actor, data.term, data.target, data.weight, data.note)
    return jsonify(lexicon.describe(row)), 201


@route(bp, "/lexicon/<int:entry_id>", "GET", "归类词表：词条详情", "文本智能")
def lexicon_get(entry_id: int) -> Any:
    return jsonify(lexicon.describe(lexicon.get_entry(web.current_actor(), entry_id)))


class EntryPatch(Input):
    weight: Annotated[float, Field(ge=-5, le=10)] | None = None
    enabled: bool | None = None
    note: Annotated[str, Field(max_length=200)] | None = None


@route(
    bp,
    "/lexicon/<int:entry_id>",
    "PATCH",
    "归类词表：修改权重、停用或启用、备注（立即生效）",
    "文本智能",
    body=EntryPatch,
)
def lexicon_patch(entry_id: int) -> Any:
    actor = web.current_actor()
    data = parse(EntryPatch, json_body())
    changes = data.model_dump(exclude_none=True)
    if not changes:
        raise ValidationError("没有要修改的内容（可修改 weight、enabled、note）")
    return jsonify(lexicon.describe(lexicon.update_entry(actor, entry_id, changes)))


@route(
    bp, "/lexicon/<int:entry_id>", "DELETE", "归类词表：删除词条（内置词条改为停用）", "文本智能", status=204
)
def lexicon_delete(entry_id: int) -> Any:
    lexicon.delete_entry(web.current_actor(), entry_id)
    return "", 204


@route(bp, "/lexicon/changes", "GET", "归类词表：修改记录（最近的在前）", "文本智能", query={"limit": "条数"})
def lexicon_changes() -> Any:
    actor = web.current_actor()
    rows = lexicon.history(actor, arg_int("limit", 50, 1, 500))
    return jsonify(
        [
            {
                "version": r.id,
                "at": r.at.isoformat(sep=" ", timespec="seconds"),
                "by": r.by_id,
                "action": r.action,
                "entry_id": r.entry_id,
                "before": r.before,
                "after": r.after,
            }
            for r in rows
        ]
    )


@route(bp, "/lexicon/tokens", "GET", "归类词表：可用的识别项（车牌、线路号、道路编号等）", "文本智能")
def lexicon_tokens() -> Any:
    web.current_actor().require(lexicon.PERMISSION)
    return jsonify([{"token": t, "description": d} for t, d in TOKENS.items()])


@route(bp, "/models", "GET", "自动归类：现用归类（模型或关键词规则）与各版本模型的评估", "文本智能")
def models() -> Any:
    return jsonify(service.model_status(web.current_actor()))


class ActivateIn(Input):
    version: Annotated[int, Field(ge=1)] | None = None


@route(
    bp,
    "/models/<kind>/activate",
    "POST",
    "自动归类：启用某一版模型（version 为空则改用关键词规则）",
    "文本智能",
    body=ActivateIn,
)
def model_activate(kind: str) -> Any:
    actor = web.current_actor()
    data = parse(ActivateIn, json_body())
    service.activate_model(actor, kind, data.version)
    return jsonify(next(s for s in service.model_status(actor) if s["kind"] == kind))


@route(
    bp,
    "/models/<kind>/train",
    "POST",
    "自动归类：用已确认分类的工单重新训练（优于现用归类才启用）",
    "文本智能",
)
def model_train(kind: str) -> Any:
    return jsonify(service.train_now(web.current_actor(), kind).to_dict())


def _day(name: str, default: dt.date) -> dt.datetime:
    raw = request.args.get(name)
    day = parse_day(raw, name) if raw else default
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


# ---- the administrator's screen -------------------------------------------------------------------


@screens.before_request
def _screen_guard() -> None:
    from node.web.common import require_form_csrf

    web.current_actor().require(lexicon.PERMISSION)
    require_form_csrf()


def _targets() -> list[tuple[str, str]]:
    """Every code an entry may point to, with its name, for the add form."""
    tax = taxonomy()
    out = [(code, f"业务类型 · {name}") for code, name in tax.types.items()]
    for dcode, name in tax.domains.items():
        out.append((dcode, f"{name}（领域）"))
        out.extend((code, tax.leaf_label(code)) for code, (d, _) in tax.subs.items() if d == dcode)
    return out


@screens.get("/lexicon")
def lexicon_screen() -> Any:
    actor = web.current_actor()
    raw_enabled = request.args.get("enabled", "")
    flt = lexicon.EntryFilter(
        q=(request.args.get("q") or "").strip()[:40],
        target=(request.args.get("target") or "").strip()[:4],
        kind=request.args.get("kind", "") if request.args.get("kind") in ("type", "category") else "",
        enabled=None if raw_enabled not in ("0", "1") else raw_enabled == "1",
    )
    page = arg_int("page", 1, 1, 100_000)
    rows, total = lexicon.list_entries(actor, flt, page, 50)
    trial = None
    text = (request.args.get("try") or "").strip()[:2000]
    if text:
        trial = service.suggest_categories("", text)
    return render_template(
        "text/lexicon.html",
        rows=[lexicon.describe(r) for r in rows],
        total=total,
        page=page,
        pages=max(1, (total + 49) // 50),
        flt=flt,
        raw_enabled=raw_enabled,
        targets=_targets(),
        tokens=TOKENS,
        version=lexicon.version(),
        status=service.model_status(actor),
        changes=lexicon.history(actor, 15),
        trial=trial,
        trial_text=text,
    )


def _back() -> Any:
    return redirect(request.form.get("next") or url_for("text_web.lexicon_screen"))


def _weight(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValidationError("权重必须是数字，如 3 或 2.5") from None


@screens.post("/lexicon")
def lexicon_screen_add() -> Any:
    try:
        row = lexicon.add_entry(
            web.current_actor(),
            request.form.get("term", ""),
            request.form.get("target", ""),
            _weight(request.form.get("weight", "")),
            request.form.get("note", ""),
        )
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        flash(f"已新增词条“{row.term}”，立即生效（词表第{lexicon.version()}版）", "ok")
    return _back()


@screens.post("/lexicon/<int:entry_id>")
def lexicon_screen_edit(entry_id: int) -> Any:
    actor = web.current_actor()
    action = request.form.get("action", "")
    try:
        if action == "delete":
            lexicon.delete_entry(actor, entry_id)
            flash("已删除（内置词条改为停用）", "ok")
        elif action in ("enable", "disable"):
            lexicon.update_entry(actor, entry_id, {"enabled": action == "enable"})
            flash("已启用" if action == "enable" else "已停用", "ok")
        elif action == "weight":
            lexicon.update_entry(actor, entry_id, {"weight": _weight(request.form.get("weight", ""))})
            flash("已修改权重，立即生效", "ok")
        else:
            raise ValidationError("未知的操作")
    except DomainError as exc:
        flash(exc.message, "error")
    return _back()


@screens.post("/models/<kind>")
def models_screen_action(kind: str) -> Any:
    actor = web.current_actor()
    action = request.form.get("action", "")
    try:
        if action == "train":
            outcome = service.train_now(actor, kind)
            flash(outcome.reason, "ok" if outcome.activated else "info")
        elif action == "activate":
            raw = request.form.get("version", "")
            if raw != "rules" and not raw.isdigit():
                raise ValidationError("请选择要启用的模型版本")
            row = service.activate_model(actor, kind, None if raw == "rules" else int(raw))
            flash(f"已启用模型第{row.version}版" if row else "已改用关键词规则", "ok")
        else:
            raise ValidationError("未知的操作")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("text_web.lexicon_screen"))
