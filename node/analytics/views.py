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
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request

from node import clock
from node.analytics import engine, forms, periods
from node.api.routing import arg_int, route
from node.auth import web
from node.errors import ValidationError

bp = Blueprint("stats", __name__, url_prefix="/stats")
api = Blueprint("stats_api", __name__, url_prefix="/api/v1/stats")

# targets the dashboard compares with (configurable in node.toml [stats] targets = {...})
DEFAULT_TARGETS = {
    "connection_rate": 0.90,
    "service_level": 0.80,
    "on_time_rate": 0.95,
    "callback_rate": 0.90,
    "result_satisfaction": 0.90,
    "phone_satisfaction": 0.90,
    "instant_answer_rate": 0.80,
    "abandonment_rate": 0.05,
}
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
    for item in (
        ("统计分析", "/stats", "stats.", "stats.view"),
        ("统计报表", "/stats/forms", "stats.forms", "stats.view"),
    ):
        if not any(n[1] == item[1] for n in nav):
            nav.append(item)
    app.jinja_env.filters["stat"] = forms.fmt


@api.before_request
def _csrf() -> None:
    web.check_csrf(request.headers.get(web.CSRF_HEADER))


def _targets() -> dict[str, float]:
    raw = current_app.config["NODE"].section("stats").get("targets", {})
    return {**DEFAULT_TARGETS, **{k: float(v) for k, v in raw.items() if k in engine.INDICATORS}}


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
            if dim not in engine.DIMENSIONS or dim in engine.TIME_DIMENSIONS:
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
    "f_<维度>": "筛选，如 f_business_type=1",
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
        filters={engine.DIMENSIONS[d]: "、".join(engine.label(d, v) for v in vs) for d, vs in flt.items()},
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
    form = forms.build(period, current_app.config["NODE"].name)
    fmt = request.args.get("format", "")
    if fmt == "xlsx":
        _audit_export(actor, "xlsx", period.key)
        return _xlsx(form, f"12328统计报表-{period.key}.xlsx")
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
    return render_template(
        "stats/forms.html",
        form=form,
        period=period,
        cell_text=forms.cell_text,
        months=choices,
        quarters=sorted(quarters, key=lambda p: p.start, reverse=True),
        years=[periods.parse_period(str(today.year - i)) for i in range(1, 4)],
        print_view=request.args.get("print") == "1",
    )
