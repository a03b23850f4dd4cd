"""统计分析 screens and the stats API, all reading the indicator engine (node/analytics/engine.py).

Screens (permission `stats.view`, in the nav through NAV_EXTRA): /stats dashboard (today and the
current month against targets, daily trend), /stats/breakdown (any indicators by any dimension,
chart, CSV and Excel), /stats/drill (the orders or calls behind a figure), /stats/forms (the
annex A report forms: print page and Excel). API: /api/v1/stats/indicators, /compute, /drill,
/compute.csv.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request
from pydantic import Field

from node import clock
from node.analytics import engine, forms, periods
from node.analytics import topics as topics_mod
from node.api.routing import arg_int, json_body, route
from node.auth import web
from node.errors import ValidationError
from node.validation import Input, parse

bp = Blueprint("stats", __name__, url_prefix="/stats")
api = Blueprint("stats_api", __name__, url_prefix="/api/v1/stats")

LOWER_IS_BETTER = {"abandonment_rate", "asa"}
DASHBOARD = [
    "volume",
    "closed",
    "instant_answer_rate",
    "closure_rate",
    "on_time_rate",
    "callback_rate",
    "result_satisfaction",
    "phone_satisfaction",
    "calls_offered",
    "connection_rate",
    "service_level",
    "abandonment_rate",
    "asa",
    "aht",
]


def init_app(app: Flask) -> None:
    for blueprint in (bp, api):
        if blueprint.name not in app.blueprints:
            app.register_blueprint(blueprint)
    nav = app.config.setdefault("NAV_EXTRA", [])
    # one entry; the screens link each other (概览, 分类统计, 统计报表, 辖区统计, 热点分析)
    if not any(n[1] == "/stats" for n in nav):
        nav.append(("统计分析", "/stats", "stats.", "stats.view"))
    app.jinja_env.filters["stat"] = forms.fmt


@api.before_request
def _csrf() -> None:
    web.check_csrf(request.headers.get(web.CSRF_HEADER))


def _targets() -> dict[str, float]:
    """Targets in force: the administrator's (运行参数 → 统计目标), else node.toml's, else built in."""
    from node.config import service as config

    raw = current_app.config["NODE"].section("stats").get("targets", {})
    extra = {k: float(v) for k, v in raw.items() if k in engine.INDICATORS and k not in config.STATS_TARGETS}
    return {**extra, **config.stats_targets()}


# ---- reading the query string ------------------------------------------------------------------


def _list_arg(name: str) -> list[str]:
    values: list[str] = []
    for raw in request.args.getlist(name):
        values.extend(v.strip() for v in raw.split(",") if v.strip())
    return values


def _period(default: str | None = None) -> periods.Period:
    raw = request.args.get("period") or default or clock.today().strftime("%Y-%m")
    return periods.parse_period(raw)


def _filters() -> dict[str, list[str]]:
    """Filters as f_<dimension>=code (repeatable or comma-separated)."""
    out: dict[str, list[str]] = {}
    for key in request.args:
        if key.startswith("f_"):
            dim = key[2:]
            if dim not in engine.FILTERS:
                raise ValidationError(f"未知的筛选维度：{dim[:40]}")
            out[dim] = _list_arg(key)
    return out


def _options() -> dict[str, Any]:
    n = request.args.get("n")
    return engine.check_options({"service_level_s": n} if n else {})


def _query() -> dict[str, Any]:
    return {
        "indicators": _list_arg("indicators") or ["volume"],
        "period": _period(),
        "group_by": _list_arg("group_by"),
        "filters": _filters(),
        "options": _options(),
    }


def _csv(rows: list[dict[str, Any]], names: list[str], dims: list[str], opts: dict[str, Any]) -> Response:
    out = io.StringIO()
    out.write("\ufeff")  # Excel opens UTF-8 CSV with a BOM correctly
    writer = csv.writer(out)
    header = [engine.DIMENSIONS[d] for d in dims]
    for n in names:
        header += [engine.indicator_label(n, opts), "分子", "分母"]
    writer.writerow(header)
    for r in rows:
        line: list[Any] = [r["labels"][d] for d in dims]
        for n in names:
            v = r["values"][n]
            line += [forms.fmt(n, v["value"]), _plain(v["numerator"]), _plain(v["denominator"])]
        writer.writerow(line)
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={
            "Content-Disposition": "attachment; filename=stats.csv",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _plain(x: Any) -> Any:
    if x is None:
        return ""
    return int(x) if float(x).is_integer() else round(x, 2)


# ---- API --------------------------------------------------------------------------------------------


@route(api, "/indicators", "GET", "指标定义（分子、分母、统计时间口径）", "统计分析")
def api_indicators() -> Any:
    web.current_actor().require("stats.view")
    return jsonify({"indicators": engine.describe(), "dimensions": engine.DIMENSIONS})


_COMPUTE_QUERY = {
    "indicators": "指标名，逗号分隔（见 /api/v1/stats/indicators）",
    "period": "统计周期：2026-11-02、2026-W48、2026-11、2026-Q4、2026 或 2026-11-01~2026-11-15",
    "group_by": "分组维度，逗号分隔，最多 3 个：business_type domain sub_business road_class channel region unit agent day month",
    "f_<维度>": "筛选，如 f_business_type=1；f_topic=专题编号 只统计该专题的工单",
    "n": "服务水平秒数 N（默认 10）",
}


@route(api, "/compute", "GET", "计算指标（任意周期、分组与筛选）", "统计分析", query=_COMPUTE_QUERY)
def api_compute() -> Any:
    web.current_actor().require("stats.view")
    q = _query()
    rows = engine.compute(**q)
    return jsonify({"period": q["period"].key, "period_label": q["period"].label, "rows": rows})


@route(api, "/compute.csv", "GET", "指标表导出 CSV", "统计分析", query=_COMPUTE_QUERY)
def api_compute_csv() -> Any:
    actor = web.current_actor()
    actor.require("stats.view")
    q = _query()
    rows = engine.compute(**q)
    _audit_export(actor, "csv", q["period"].key)
    return _csv(
        rows, engine.check_indicators(q["indicators"]), engine.check_group_by(q["group_by"]), q["options"]
    )


@route(
    api,
    "/drill",
    "GET",
    "指标下钻：构成分子（或分母）的工单、通话",
    "统计分析",
    query={
        "indicator": "指标名",
        "period": "统计周期",
        "part": "numerator 或 denominator",
        "limit": "条数上限（≤5000）",
        "f_<维度>": "筛选",
    },
)
def api_drill() -> Any:
    web.current_actor().require("stats.view")
    items = engine.drill(
        request.args.get("indicator", ""),
        _period(),
        _filters(),
        request.args.get("part", "numerator"),
        arg_int("limit", 500, 1, 5000),
        _options(),
    )
    return jsonify(
        {
            "items": [
                {**i, "at": i["at"].isoformat() if hasattr(i["at"], "isoformat") else i["at"]} for i in items
            ]
        }
    )


def _audit_export(actor: Any, kind: str, period: str) -> None:
    from node.audit.service import record

    record(actor, "data.export", f"统计分析 {period}", {"format": kind})


# ---- screens -------------------------------------------------------------------------------------


def _tile(
    name: str, v: dict[str, Any], targets: dict[str, float], period: periods.Period, opts: dict[str, Any]
) -> dict[str, Any]:
    target = targets.get(name)
    value = v["value"]
    status = ""
    if target is not None and value is not None:
        ok = value <= target if name in LOWER_IS_BETTER else value >= target
        status = "ok" if ok else "bad"
    return {
        "name": name,
        "label": engine.indicator_label(name, opts),
        "text": forms.fmt(name, value),
        "numerator": v["numerator"],
        "denominator": v["denominator"],
        "target": None
        if target is None
        else forms.fmt(name, target)
        if engine.INDICATORS[name].unit == "%"
        else target,
        "status": status,
        "period": period.key,
    }


@bp.get("")
def dashboard() -> Any:
    web.current_actor().require("stats.view")
    opts = _options()
    targets = _targets()
    today = periods.day(clock.today())
    month = periods.parse_period(clock.today().strftime("%Y-%m"))
    now = {p.key: engine.compute(DASHBOARD, p, options=opts)[0]["values"] for p in (today, month)}
    trend = engine.compute(
        ["volume", "closed", "on_time_rate", "connection_rate"], month, ["day"], options=opts
    )
    by_type = engine.compute(["volume"], month, ["business_type"])
    chart_trend = {
        "type": "line",
        "title": "本月每日受理量与办结量",
        "categories": [r["group"]["day"][5:] for r in trend],
        "series": [
            {"name": "受理量", "data": [r["values"]["volume"]["value"] or 0 for r in trend]},
            {"name": "办结量", "data": [r["values"]["closed"]["value"] or 0 for r in trend]},
        ],
        "links": [f"/stats/drill?indicator=volume&period={r['group']['day']}" for r in trend],
    }
    chart_type = {
        "type": "pie",
        "title": "本月受理量（按业务类型）",
        "categories": [r["labels"]["business_type"] for r in by_type],
        "series": [{"name": "受理量", "data": [r["values"]["volume"]["value"] or 0 for r in by_type]}],
        "links": [
            f"/stats/drill?indicator=volume&period={month.key}&f_business_type={r['group']['business_type']}"
            for r in by_type
        ],
    }
    return render_template(
        "stats/dashboard.html",
        today=today,
        month=month,
        tiles={
            k: [_tile(n, v[n], targets, periods.parse_period(k), opts) for n in DASHBOARD]
            for k, v in now.items()
        },
        charts=[chart_trend, chart_type],
        n=opts["service_level_s"],
    )


PERIOD_KINDS = {"day": "日", "week": "周", "month": "月", "quarter": "季度", "year": "年"}
DRILL_PAGE = 200
BREAKDOWN_DEFAULT = ["volume", "closure_rate", "on_time_rate", "callback_rate", "result_satisfaction"]


@bp.get("/breakdown")
def breakdown() -> Any:
    actor = web.current_actor()
    actor.require("stats.view")
    period = _period()
    names = engine.check_indicators(_list_arg("indicators") or BREAKDOWN_DEFAULT)
    dims = engine.check_group_by(_list_arg("group_by") or ["business_type"])
    flt = _filters()
    opts = _options()
    rows = engine.compute(names, period, dims, flt, opts)
    fmt = request.args.get("format", "")
    if fmt == "csv":
        _audit_export(actor, "csv", period.key)
        return _csv(rows, names, dims, opts)
    if fmt == "xlsx":
        _audit_export(actor, "xlsx", period.key)
        return _xlsx(_breakdown_form(period, names, dims, rows, opts), f"stats-{period.key}.xlsx")
    if fmt:
        raise ValidationError("导出格式应为 csv 或 xlsx")
    first = names[0]
    chart = {
        "type": "bar",
        "title": f"{engine.indicator_label(first, opts)}（按{'、'.join(engine.DIMENSIONS[d] for d in dims)}）",
        "categories": [" / ".join(r["labels"][d] for d in dims) for r in rows],
        "series": [
            {"name": engine.indicator_label(first, opts), "data": [r["values"][first]["value"] for r in rows]}
        ],
        "percent": engine.INDICATORS[first].unit == "%",
        "links": [_drill_url(first, period, {**flt, **{d: [r["group"][d]] for d in dims}}) for r in rows],
    }
    table = [
        {
            "labels": [r["labels"][d] for d in dims],
            "cells": [
                {
                    "text": forms.fmt(n, r["values"][n]["value"]),
                    "title": f"分子 {_plain(r['values'][n]['numerator'])}，分母 {_plain(r['values'][n]['denominator'])}",
                    "href": _drill_url(n, period, _row_filters(flt, dims, r)),
                }
                for n in names
            ],
        }
        for r in rows
    ]
    return render_template(
        "stats/breakdown.html",
        period=period,
        names=names,
        labels=[engine.indicator_label(n, opts) for n in names],
        dims=dims,
        dim_labels=[engine.DIMENSIONS[d] for d in dims],
        table=table,
        chart=chart,
        all_indicators=engine.INDICATORS,
        all_dims=engine.DIMENSIONS,
        query=request.query_string.decode("utf-8", "replace"),
        n=opts["service_level_s"],
    )


def _row_filters(flt: dict[str, list[str]], dims: list[str], row: dict[str, Any]) -> dict[str, list[str]]:
    out = dict(flt)
    for d in dims:
        if d not in engine.TIME_DIMENSIONS:
            out[d] = [row["group"][d]]
    return out


def _drill_url(
    indicator: str, period: periods.Period, flt: dict[str, list[str]], part: str = "numerator"
) -> str:
    from urllib.parse import urlencode

    params: list[tuple[str, str]] = [("indicator", indicator), ("period", period.key), ("part", part)]
    for d, values in flt.items():
        params += [(f"f_{d}", v) for v in values]
    return "/stats/drill?" + urlencode(params)


def _breakdown_form(
    period: periods.Period,
    names: list[str],
    dims: list[str],
    rows: list[dict[str, Any]],
    opts: dict[str, Any],
) -> dict[str, Any]:
    return {
        "title": "统计分析",
        "period_label": period.label,
        "sections": [
            {
                "title": "按" + "、".join(engine.DIMENSIONS[d] for d in dims),
                "headers": [
                    *(engine.DIMENSIONS[d] for d in dims),
                    *(engine.indicator_label(n, opts) for n in names),
                ],
                "formats": [*(["text"] * len(dims)), *(f"ind:{n}" for n in names)],
                "rows": [
                    {"cells": [*(r["labels"][d] for d in dims), *(r["values"][n]["value"] for n in names)]}
                    for r in rows
                ],
            }
        ],
    }


def _xlsx(form: dict[str, Any], filename: str) -> Response:
    from urllib.parse import quote

    return Response(
        forms.to_xlsx(form),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
            "X-Content-Type-Options": "nosniff",
        },
    )


@bp.get("/drill")
def drill_page() -> Any:
    web.current_actor().require("stats.view")
    period = _period()
    name = engine.check_indicators([request.args.get("indicator", "volume")])[0]
    part = request.args.get("part", "numerator")
    flt = _filters()
    opts = _options()
    items = engine.drill(name, period, flt, part, DRILL_PAGE, opts)
    figure = engine.compute([name], period, filters=flt, options=opts)[0]["values"][name]
    numbers = [i["ref"] for i in items if i["kind"] == "order"]
    titles: dict[str, Any] = {}
    if numbers:
        from node.workflow.models import WorkOrder

        titles = {
            o.number: o
            for o in WorkOrder.select(
                WorkOrder.number, WorkOrder.title, WorkOrder.state, WorkOrder.business_type
            ).where(WorkOrder.number.in_(numbers))
        }
    return render_template(
        "stats/drill.html",
        period=period,
        name=name,
        label=engine.indicator_label(name, opts),
        definition=engine.INDICATORS[name].definition,
        figure=figure,
        text=forms.fmt(name, figure["value"]),
        part=part,
        filters={engine.FILTERS[d]: "、".join(engine.label(d, v) for v in vs) for d, vs in flt.items()},
        items=items,
        orders=titles,
        other=_drill_url(name, period, flt, "denominator" if part == "numerator" else "numerator"),
        limit=DRILL_PAGE,
        has_denominator=bool(engine.INDICATORS[name].denominator) or engine.INDICATORS[name].kind == "growth",
    )


@bp.get("/forms")
def forms_page() -> Any:
    actor = web.current_actor()
    actor.require("stats.view")
    today = clock.today()
    default = (periods.month(today.year, today.month).previous()).key
    period = _period(default)
    me = str(current_app.config["NODE"].region)
    region = (request.args.get("region") or "").strip()
    rollup = request.args.get("rollup") == "1"
    source = ""
    if rollup or region:
        # forms the subordinates sent upward (federation/forms.py), or their sum
        from federation import forms as upward

        if period.kind != "month":
            raise ValidationError("下级报送的是月报：请选择一个月份")
        if rollup:
            form = upward.rollup(me, period.key, region or me)
            source = "rollup"
        else:
            form = upward.get_form(me, region, period.key)
            source = "node"
    else:
        form = forms.build(period, current_app.config["NODE"].name)
    fmt = request.args.get("format", "")
    if fmt == "xlsx":
        _audit_export(actor, "xlsx", f"{region or me}{' 汇总' if rollup else ''} {period.key}")
        suffix = f"-{region}" if region and not rollup else ("-汇总" if rollup else "")
        return _xlsx(form, f"12328统计报表-{period.key}{suffix}.xlsx")
    if fmt:
        raise ValidationError("导出格式应为 xlsx")
    choices = []
    for back in range(1, 13):
        p = periods.month(today.year, today.month)
        for _ in range(back):
            p = p.previous()
        choices.append(p)
    quarters = [
        periods.parse_period(f"{today.year - (1 if q > (today.month - 1) // 3 else 0)}-Q{q + 1}")
        for q in range(4)
    ]
    held = _subordinate_forms(me, period)
    return render_template(
        "stats/forms.html",
        form=form,
        source=source,
        region=region,
        region_name=_region_name(region) if region else "",
        held=held,
        query=request.query_string.decode("utf-8", "replace"),
        period=period,
        cell_text=forms.cell_text,
        months=choices,
        quarters=sorted(quarters, key=lambda p: p.start, reverse=True),
        years=[periods.parse_period(str(today.year - i)) for i in range(1, 4)],
        print_view=request.args.get("print") == "1",
    )


def _region_name(region: str) -> str:
    from node.catalog import service as catalog

    return catalog.region_name(region) or region


def _subordinate_forms(me: str, period: periods.Period) -> dict[str, Any] | None:
    """What the 下级报表 panel lists: subordinate nodes and, for a month, whose form is held."""
    from federation import forms as upward
    from node.catalog import service as catalog

    subs = upward.subordinates(me)
    if not subs:
        return None
    got = {f["node"]: f for f in upward.list_forms(me, period.key)} if period.kind == "month" else {}
    return {
        "nodes": [{"region": n, "name": catalog.region_name(n) or n, "form": got.get(n)} for n in subs],
        "count": sum(1 for n in subs if n in got),
    }


REGION_INDICATORS = [
    "volume",
    "closure_rate",
    "on_time_rate",
    "callback_rate",
    "result_satisfaction",
    "phone_satisfaction",
    "connection_rate",
    "abandonment_rate",
]


@bp.get("/regions")
def regions() -> Any:
    """辖区统计: the period's figures per subordinate region from the daily reports received
    (nation → province → city), ranked by one indicator; each region drills down a level."""
    from federation import reports
    from node.catalog import service as catalog

    web.current_actor().require("stats.view")
    period = _period()
    me = str(current_app.config["NODE"].region)
    region = request.args.get("region") or me
    rank = request.args.get("rank", "on_time_rate")
    engine.check_indicators([rank])
    data = reports.rollup_period(me, period.start, period.end, region)
    rows = []
    for child in data["children"]:
        values = child["indicators"]
        rows.append(
            {
                "region": child["region"],
                "name": catalog.region_name(child["region"]) or child["region"],
                "own": child["own"],
                "drill": not child["own"]
                and child["level"] in ("province", "city")
                and child["region"] != region,
                "cells": [forms.fmt(n, values[n]["value"]) for n in REGION_INDICATORS],
                "rank_value": values[rank]["value"],
            }
        )
    reverse = rank not in LOWER_IS_BETTER
    ranked = sorted(
        (r for r in rows if r["rank_value"] is not None), key=lambda r: r["rank_value"], reverse=reverse
    )
    for i, r in enumerate(ranked, start=1):
        r["rank"] = i
    return render_template(
        "stats/regions.html",
        period=period,
        region=region,
        region_name=catalog.region_name(region) or "全国",
        me=me,
        rows=sorted(rows, key=lambda r: r.get("rank", 10**6)),
        names=REGION_INDICATORS,
        labels=[engine.indicator_label(n) for n in REGION_INDICATORS],
        total=[forms.fmt(n, data["indicators"][n]["value"]) for n in REGION_INDICATORS],
        rank=rank,
        rank_label=engine.indicator_label(rank),
        chart={
            "type": "bar",
            "title": f"{engine.indicator_label(rank)}（按下级区划）",
            "categories": [r["name"] for r in ranked],
            "series": [{"name": engine.indicator_label(rank), "data": [r["rank_value"] for r in ranked]}],
            "percent": engine.INDICATORS[rank].unit == "%",
            "links": [
                f"/stats/regions?period={period.key}&region={r['region']}" if r["drill"] else ""
                for r in ranked
            ],
        },
    )


@bp.get("/topics")
def topics() -> Any:
    """热点分析: rising terms and clusters of the period against the periods before it (node/text/hot),
    each term drilling to the orders that use it (full-text search), each example to its order."""
    from node.text import hot

    web.current_actor().require("stats.view")
    period = _period(clock.today().strftime("%Y-%m"))
    start, end = period.bounds()
    result = hot.hot_topics_for_orders(
        start,
        end,
        domain=request.args.get("domain") or None,
        periods=arg_int("periods", 4, 1, 12),
    )
    return render_template("stats/topics.html", period=period, result=result)


# ---- 专题报告 (topic reports: saved keyword sets, node/analytics/topics.py) ---------------------------


def _topic_input() -> dict[str, Any]:
    """A topic definition from the screen's form (keywords one group a line, synonyms with |)."""
    data: dict[str, Any] = {
        "name": request.form.get("name", ""),
        "keywords": request.form.get("keywords", ""),
        "mode": request.form.get("mode", "all"),
        "exclude": request.form.get("exclude", ""),
        "note": request.form.get("note", ""),
        "active": request.form.get("active") == "1",
        "filters": {
            d: [v for v in request.form.getlist(f"f_{d}") if v.strip()] for d in topics_mod.FILTER_DIMS
        },
    }
    if request.form.get("owner"):
        data["owner"] = request.form["owner"]
    return data


def _topic_form_page(topic: Any, values: dict[str, Any], error: str = "") -> Any:
    from node.auth.models import User

    return render_template(
        "stats/topic_edit.html",
        topic=topic,
        values=values,
        error=error,
        modes=topics_mod.MODES,
        filter_dims={d: engine.DIMENSIONS[d] for d in topics_mod.FILTER_DIMS},
        users=list(
            User.select(User.id, User.username, User.display_name)
            .where(User.active == True)  # noqa: E712
            .order_by(User.username)
        ),
    ), (422 if error else 200)


def _form_values(topic: Any = None) -> dict[str, Any]:
    if topic is None:
        return {
            "name": "",
            "keywords": "",
            "mode": "all",
            "exclude": "",
            "note": "",
            "active": True,
            "filters": {},
            "owner": web.current_actor().user_id,
        }
    return {
        "name": topic.name,
        "keywords": "\n".join(" | ".join(g) for g in topic.keywords),
        "mode": topic.mode,
        "exclude": " ".join(topic.exclude or []),
        "note": topic.note,
        "active": topic.active,
        "filters": {d: ",".join(v) for d, v in (topic.filters or {}).items()},
        "owner": topic.owner_id,
    }


def _raw_values() -> dict[str, Any]:
    """What the person typed, to show again with the error (nothing lost)."""
    values = {k: request.form.get(k, "") for k in ("name", "keywords", "mode", "exclude", "note")}
    values["active"] = request.form.get("active") == "1"
    values["filters"] = {d: ",".join(request.form.getlist(f"f_{d}")) for d in topics_mod.FILTER_DIMS}
    values["owner"] = int(request.form["owner"]) if request.form.get("owner", "").isdigit() else None
    return values


@bp.get("/topic-reports")
def topic_list() -> Any:
    actor = web.current_actor()
    rows = topics_mod.list_topics(actor)
    period = _period()
    counts = {}
    for t in rows:
        if t.active:
            counts[t.id] = engine.compute(["volume"], period, filters={"topic": str(t.id)})[0]["values"][
                "volume"
            ]["value"]
    return render_template(
        "stats/topic_list.html",
        rows=[topics_mod.describe(t) for t in rows],
        counts=counts,
        period=period,
        can_edit=actor.can(topics_mod.EDIT),
    )


@bp.route("/topic-reports/new", methods=["GET", "POST"])
def topic_new() -> Any:
    from node.errors import DomainError
    from node.web.common import require_form_csrf

    actor = web.current_actor()
    actor.require(topics_mod.EDIT)
    if request.method == "GET":
        return _topic_form_page(None, _form_values())
    require_form_csrf()
    try:
        topic = topics_mod.create(actor, _topic_input_split())
    except DomainError as exc:
        return _topic_form_page(None, _raw_values(), exc.message)
    from flask import flash, redirect, url_for

    flash(f"已新建专题“{topic.name}”", "ok")
    return redirect(url_for("stats.topic_page", topic_id=topic.id))


@bp.route("/topic-reports/<int:topic_id>/edit", methods=["GET", "POST"])
def topic_edit(topic_id: int) -> Any:
    from node.errors import DomainError
    from node.web.common import require_form_csrf

    actor = web.current_actor()
    actor.require(topics_mod.EDIT)
    topic = topics_mod.get(actor, topic_id)
    if request.method == "GET":
        return _topic_form_page(topic, _form_values(topic))
    require_form_csrf()
    try:
        topic = topics_mod.update(actor, topic_id, _topic_input_split())
    except DomainError as exc:
        return _topic_form_page(topic, _raw_values(), exc.message)
    from flask import flash, redirect, url_for

    flash(f"已保存专题“{topic.name}”", "ok")
    return redirect(url_for("stats.topic_page", topic_id=topic.id))


def _topic_input_split() -> dict[str, Any]:
    data = _topic_input()
    data["filters"] = {
        d: [c.strip() for v in values for c in v.replace("，", ",").split(",") if c.strip()]
        for d, values in data["filters"].items()
    }
    return data


@bp.get("/topic-reports/<int:topic_id>")
def topic_page(topic_id: int) -> Any:
    actor = web.current_actor()
    topic = topics_mod.get(actor, topic_id)
    period = _period()
    grain = request.args.get("grain") or ("month" if period.kind in ("quarter", "year") else "day")
    data = topics_mod.report(topic, period, grain)
    fmt = request.args.get("format", "")
    if fmt == "xlsx":
        _audit_export(actor, "xlsx", f"专题{topic.id} {period.key}")
        return _xlsx(topics_mod.form(data), f"专题报告-{topic.name}-{period.key}.xlsx")
    if fmt == "csv":
        _audit_export(actor, "csv", f"专题{topic.id} {period.key}")
        return _form_csv(topics_mod.form(data), arg_int("section", 1, 1, 20))
    if fmt:
        raise ValidationError("导出格式应为 csv 或 xlsx")
    flt = {"topic": [str(topic.id)]}
    trend = data["trend"]
    chart_trend = {
        "type": "line",
        "title": f"专题受理量（按{topics_mod.GRAINS[grain]}）",
        "categories": [b["key"][5:] if grain == "day" else b["key"] for b in trend],
        "series": [{"name": "专题受理量", "data": [b["volume"] for b in trend]}],
        "links": [_drill_url("volume", periods.parse_period(b["period"]), flt) for b in trend],
    }
    chart_share = {
        "type": "line",
        "title": "占全部受理量的比例",
        "categories": [b["key"][5:] if grain == "day" else b["key"] for b in trend],
        "series": [{"name": "占比", "data": [b["share"] for b in trend]}],
        "percent": True,
        "links": chart_trend["links"],
    }
    tiles = [
        {
            "name": n,
            "label": engine.indicator_label(n),
            "text": forms.fmt(n, data["indicators"][n]["value"]),
            "numerator": _plain(data["indicators"][n]["numerator"]),
            "denominator": _plain(data["indicators"][n]["denominator"]),
            "href": _drill_url(n, period, flt),
        }
        for n in topics_mod.INDICATORS
    ]
    breakdowns = []
    for dim in topics_mod.BREAKDOWN_DIMS:
        rows = data["breakdowns"][dim]
        breakdowns.append(
            {
                "dim": dim,
                "label": engine.DIMENSIONS[dim],
                "rows": [
                    {
                        "label": r["labels"][dim],
                        "cells": [
                            {
                                "text": forms.fmt(n, r["values"][n]["value"]),
                                "title": f"分子 {_plain(r['values'][n]['numerator'])}，分母 {_plain(r['values'][n]['denominator'])}",
                                "href": _drill_url(n, period, {**flt, dim: [r["group"][dim]]}),
                            }
                            for n in topics_mod.BREAKDOWN_INDICATORS
                        ],
                    }
                    for r in rows
                ],
            }
        )
    return render_template(
        "stats/topic.html",
        topic=data["topic"],
        period=period,
        grain=grain,
        grains=topics_mod.GRAINS,
        tiles=tiles,
        share=data["share"],
        trend=trend,
        trend_links=chart_trend["links"],
        charts=[chart_trend, chart_share],
        breakdowns=breakdowns,
        breakdown_labels=[engine.indicator_label(n) for n in topics_mod.BREAKDOWN_INDICATORS],
        can_edit=actor.can(topics_mod.EDIT),
        sections=[s["title"] for s in topics_mod.form(data)["sections"]],
    )


def _form_csv(form: dict[str, Any], section: int) -> Response:
    """One section of a form as CSV (with a BOM for Excel), cells as the screen shows them."""
    if section > len(form["sections"]):
        raise ValidationError(f"没有第 {section} 个表")
    s = form["sections"][section - 1]
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(s["headers"])
    for row in s["rows"]:
        writer.writerow([forms.cell_text(s, row, i) for i in range(len(s["headers"]))])
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={
            "Content-Disposition": "attachment; filename=topic.csv",
            "X-Content-Type-Options": "nosniff",
        },
    )


# API


class TopicIn(Input):
    name: Annotated[str, Field(min_length=1, max_length=60)]
    keywords: Annotated[list[list[str]], Field(min_length=1, max_length=topics_mod.MAX_GROUPS)]
    mode: Literal["all", "any"] = "all"
    exclude: list[str] = []
    filters: dict[str, list[str]] = {}
    note: Annotated[str, Field(max_length=200)] = ""
    active: bool = True
    owner: int | None = None


class TopicPatch(Input):
    name: Annotated[str, Field(min_length=1, max_length=60)] | None = None
    keywords: Annotated[list[list[str]], Field(min_length=1, max_length=topics_mod.MAX_GROUPS)] | None = None
    mode: Literal["all", "any"] | None = None
    exclude: list[str] | None = None
    filters: dict[str, list[str]] | None = None
    note: Annotated[str, Field(max_length=200)] | None = None
    active: bool | None = None
    owner: int | None = None


@route(api, "/topics", "GET", "专题列表（关键词、组合方式、筛选条件）", "统计分析")
def api_topics() -> Any:
    return jsonify([topics_mod.describe(t) for t in topics_mod.list_topics(web.current_actor())])


@route(api, "/topics", "POST", "新建专题（需要“维护专题报告”权限）", "统计分析", body=TopicIn, status=201)
def api_topic_create() -> Any:
    data = parse(TopicIn, json_body())
    topic = topics_mod.create(web.current_actor(), data.model_dump())
    return jsonify(topics_mod.describe(topic)), 201


@route(api, "/topics/<int:topic_id>", "GET", "专题定义", "统计分析")
def api_topic_get(topic_id: int) -> Any:
    return jsonify(topics_mod.describe(topics_mod.get(web.current_actor(), topic_id)))


@route(
    api,
    "/topics/<int:topic_id>",
    "PATCH",
    "修改专题（只改给出的字段；停用：active=false）",
    "统计分析",
    body=TopicPatch,
)
def api_topic_patch(topic_id: int) -> Any:
    data = parse(TopicPatch, json_body())
    topic = topics_mod.update(web.current_actor(), topic_id, data.model_dump(exclude_none=True))
    return jsonify(topics_mod.describe(topic))


@route(
    api,
    "/topics/<int:topic_id>/report",
    "GET",
    "专题报告：指标、占比、趋势（日/周/月，环比）、按领域/区划/承办单位分布",
    "统计分析",
    query={"period": "统计周期", "grain": "趋势粒度：day、week 或 month"},
)
def api_topic_report(topic_id: int) -> Any:
    topic = topics_mod.get(web.current_actor(), topic_id)
    period = _period()
    grain = request.args.get("grain") or ("month" if period.kind in ("quarter", "year") else "day")
    return jsonify(topics_mod.report(topic, period, grain))
