"""Report forms (统计报表) of JT/T 1019.5 annex A, from the indicator engine, as data, Excel and a
print page. A form is a title and sections; each section a header row and rows of cells. The
screen, the print page and the Excel file render the same `build(period)` result.

- A.3 受理渠道分析: per channel 数量, 占比, 同比, 环比
- A.4 业务分布: per business type and domain 数量, 占比, 同比, 环比
- A.5 话务统计: calls asking for an agent, answered, rates, ASA, AHT, phone satisfaction
- 中心运行情况汇总: the centre's indicators for the period
"""

from __future__ import annotations

import io
import json
from typing import Any

from node.analytics import engine
from node.analytics.periods import Period
from node.errors import ValidationError

FORM_KINDS = {"month": "月报", "quarter": "季报", "year": "年报"}
SUMMARY = [
    "volume",
    "closed",
    "instant_answer_rate",
    "closure_rate",
    "on_time_rate",
    "complaint_on_time_rate",
    "callback_rate",
    "result_satisfaction",
    "callback_satisfaction",
    "portal_satisfaction",
    "phone_satisfaction",
    "service_satisfaction",
    "instant_satisfaction",
    "rectification_rate",
    "complaint_review_rate",
]
VOICE = [
    "calls_offered",
    "connection_rate",
    "service_level",
    "abandonment_rate",
    "asa",
    "aht",
    "phone_satisfaction",
]


def fmt(indicator: str, value: Any) -> str:
    """A figure as offices write it: 75.82%, 1,234 件, 12.5 秒, — when there is none."""
    if value is None:
        return "—"
    ind = engine.INDICATORS[indicator]
    if ind.unit == "%":
        return f"{value * 100:.2f}%"
    if ind.kind == "average":
        return f"{value:.1f}"
    return f"{int(value):,}"


def _share(part: float | None, whole: float | None) -> float | None:
    return round(part / whole, 6) if part is not None and whole else None


def _distribution(period: Period, dims: list[str], title: str) -> dict[str, Any]:
    rows = engine.compute(["volume", "volume_yoy", "volume_mom"], period, dims)
    total = sum(r["values"]["volume"]["value"] or 0 for r in rows)
    out = []
    for r in sorted(rows, key=lambda r: -(r["values"]["volume"]["value"] or 0)):
        v = r["values"]
        count = v["volume"]["value"] or 0
        if not count:
            continue
        out.append(
            {
                "cells": [
                    *(r["labels"][d] for d in dims),
                    count,
                    _share(count, total),
                    v["volume_yoy"]["value"],
                    v["volume_mom"]["value"],
                ],
                "filters": r["group"],
                "base": {"yoy": v["volume_yoy"]["denominator"], "mom": v["volume_mom"]["denominator"]},
            }
        )
    growth, base = _total_growth(period)
    out.append(
        {
            "cells": [
                "合计",
                *([""] * (len(dims) - 1)),
                total,
                1.0 if total else None,
                *growth,
            ],
            "filters": {},
            "total": True,
            "base": base,
        }
    )
    headers = [*(engine.DIMENSIONS[d] for d in dims), "数量（件）", "占比", "同比", "环比"]
    return {
        "title": title,
        "headers": headers,
        "rows": out,
        "formats": [*(["text"] * len(dims)), "int", "pct", "pct", "pct"],
        "indicator": "volume",
    }


def _total_growth(period: Period) -> tuple[list[float | None], dict[str, float | None]]:
    v = engine.compute(["volume_yoy", "volume_mom"], period)[0]["values"]
    return (
        [v["volume_yoy"]["value"], v["volume_mom"]["value"]],
        {"yoy": v["volume_yoy"]["denominator"], "mom": v["volume_mom"]["denominator"]},
    )


def _indicator_table(period: Period, names: list[str], title: str) -> dict[str, Any]:
    values = engine.compute(names, period)[0]["values"]
    rows = []
    for name in names:
        v = values[name]
        rows.append(
            {
                "cells": [engine.indicator_label(name), v["value"], v["numerator"], v["denominator"]],
                "indicator": name,
                "filters": {},
            }
        )
    return {
        "title": title,
        "headers": ["指标", "数值", "分子", "分母"],
        "rows": rows,
        "formats": ["text", "indicator", "num", "num"],
    }


def build(period: Period, node_name: str = "") -> dict[str, Any]:
    if period.kind not in FORM_KINDS and period.kind not in ("range", "week", "day"):
        raise ValidationError("报表周期无效")
    kind = FORM_KINDS.get(period.kind, "统计报表")
    return {
        "title": f"{node_name or '12328热线'}统计{kind}（{period.label}）",
        "period": period.key,
        "period_label": period.label,
        "sections": [
            _indicator_table(period, SUMMARY, "一、中心运行情况汇总"),
            _distribution(period, ["channel"], "二、受理渠道分析（A.3）"),
            _distribution(period, ["business_type"], "三、业务分布——按业务类型（A.4）"),
            _distribution(period, ["domain"], "四、业务分布——按业务领域（A.4）"),
            _indicator_table(period, VOICE, "五、话务统计（A.5）"),
        ],
    }


def _growth(count: float, base: float | None) -> float | None:
    return round((count - base) / base, 6) if base else None


def _add(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else a + b


def rollup(parts: list[dict[str, Any]], title: str, period_label: str) -> dict[str, Any]:
    """The sum of several nodes' forms of the same period (a province's or the ministry's rollup of
    its subordinates): indicator tables sum numerators and denominators and recompute each value by
    the engine's rule; distributions sum counts and their 同比/环比 bases per row (channel, type,
    domain) and recompute shares and growth. Never an average of rates."""
    if not parts:
        raise ValidationError("没有可汇总的报表")
    sections = []
    for index, first in enumerate(parts[0]["sections"]):
        same = [p["sections"][index] for p in parts if len(p["sections"]) > index]
        if first["formats"][1:2] == ["indicator"]:
            rows = []
            for row in first["rows"]:
                name = row["indicator"]
                num = den = None
                for section in same:
                    for other in section["rows"]:
                        if other.get("indicator") == name:
                            num, den = _add(num, other["cells"][2]), _add(den, other["cells"][3])
                value = engine.value_of(name, num, den)
                rows.append({"cells": [row["cells"][0], value, num, den], "indicator": name, "filters": {}})
            sections.append({**first, "rows": rows})
            continue
        width = len(first["headers"]) - 4  # label columns before 数量, 占比, 同比, 环比
        summed: dict[str, dict[str, Any]] = {}
        for section in same:
            for row in section["rows"]:
                key = "合计" if row.get("total") else json.dumps(row.get("filters", {}), sort_keys=True)
                got = summed.setdefault(
                    key, {"labels": row["cells"][:width], "count": 0, "yoy": None, "mom": None, "row": row}
                )
                got["count"] += row["cells"][width] or 0
                base = row.get("base") or {}
                got["yoy"], got["mom"] = _add(got["yoy"], base.get("yoy")), _add(got["mom"], base.get("mom"))
        total = summed.get("合计", {"count": 0})["count"]
        rows = []
        ordered = sorted((k for k in summed if k != "合计"), key=lambda k: -summed[k]["count"])
        for key in [*ordered, *(["合计"] if "合计" in summed else [])]:
            got = summed[key]
            rows.append(
                {
                    "cells": [
                        *got["labels"],
                        got["count"],
                        _share(got["count"], total),
                        _growth(got["count"], got["yoy"]),
                        _growth(got["count"], got["mom"]),
                    ],
                    "filters": got["row"].get("filters", {}),
                    "base": {"yoy": got["yoy"], "mom": got["mom"]},
                    **({"total": True} if key == "合计" else {}),
                }
            )
        sections.append({**first, "rows": rows})
    return {"title": title, "period": parts[0]["period"], "period_label": period_label, "sections": sections}


def _indicator_of(kind: str, row: dict[str, Any]) -> str | None:
    """The indicator a cell shows: format "indicator" (the row's) or "ind:<name>" (the column's)."""
    if kind == "indicator":
        return str(row["indicator"])
    return kind[4:] if kind.startswith("ind:") else None


def cell_text(section: dict[str, Any], row: dict[str, Any], index: int) -> str:
    value = row["cells"][index]
    kind = section["formats"][index]
    indicator = _indicator_of(kind, row)
    if indicator is not None:
        return fmt(indicator, value)
    if kind == "text":
        return str(value)
    if value is None or value == "":
        return "—" if value is None else ""
    if kind == "pct":
        return f"{value * 100:.2f}%"
    if kind == "int":
        return f"{int(value):,}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def to_xlsx(form: dict[str, Any]) -> bytes:
    """The form as an Excel workbook: merged title rows, Chinese headers, number formats."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    wb = Workbook()
    ws = wb.active
    ws.title = "统计报表"
    thin = Side(style="thin", color="999999")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    width = max(len(s["headers"]) for s in form["sections"])
    ws.append([form["title"]])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws.cell(1, 1).font = Font(bold=True, size=14)
    ws.cell(1, 1).alignment = Alignment(horizontal="center")
    ws.append([f"统计周期：{form['period_label']}"])
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
    for section in form["sections"]:
        ws.append([])
        ws.append([section["title"]])
        r = ws.max_row
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=width)
        ws.cell(r, 1).font = Font(bold=True)
        ws.append(section["headers"])
        r = ws.max_row
        for c in range(1, len(section["headers"]) + 1):
            cell = ws.cell(r, c)
            cell.font = Font(bold=True)
            cell.fill = PatternFill("solid", fgColor="DDE6F0")
            cell.border = border
            cell.alignment = Alignment(horizontal="center")
        for row in section["rows"]:
            ws.append(["" if v is None else v for v in row["cells"]])
            r = ws.max_row
            for c, kind in enumerate(section["formats"], start=1):
                cell = ws.cell(r, c)
                cell.border = border
                value = row["cells"][c - 1]
                ind = _indicator_of(kind, row)
                if value is None:
                    cell.value = "—"
                    cell.alignment = Alignment(horizontal="right")
                elif kind == "pct" or (ind and engine.INDICATORS[ind].unit == "%"):
                    cell.number_format = "0.00%"
                elif ind and engine.INDICATORS[ind].kind == "average":
                    cell.number_format = "0.0"
                elif kind in ("int", "num") or ind:
                    cell.number_format = "#,##0"
                if row.get("total"):
                    cell.font = Font(bold=True)
    ws.column_dimensions["A"].width = 26
    for col in "BCDEF":
        ws.column_dimensions[col].width = 14
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
