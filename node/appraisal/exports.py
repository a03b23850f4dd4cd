"""Excel exports (openpyxl) of a ranking and of a score card, holding the numbers the screens show."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from node.appraisal import periods
from node.appraisal.models import POPULATIONS, Result, Run
from node.appraisal.runs import RankingRow

_BOLD = Font(bold=True)


def _finish(ws, title: str, headers: list[str]) -> None:  # type: ignore[no-untyped-def]
    ws.insert_rows(1, 2)
    ws.cell(row=1, column=1, value=title).font = Font(bold=True, size=14)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
    ws.cell(row=1, column=1).alignment = Alignment(horizontal="center")
    for col, h in enumerate(headers, 1):
        c = ws.cell(row=3, column=col)
        c.font = _BOLD
        ws.column_dimensions[get_column_letter(col)].width = max(10, len(h) * 2 + 2)
    ws.freeze_panes = "A4"


def _bytes(wb: Workbook) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def trend_text(row: RankingRow) -> str:
    if row.trend is None:
        return "—"
    return f"{row.trend:+.2f}"


def ranking_xlsx(run: Run, rows: list[RankingRow]) -> bytes:
    period = periods.parse(run.period)
    wb = Workbook()
    ws = wb.active
    ws.title = "排名"
    item_labels = [i["label"] for i in (rows[0].result.items if rows else [])]
    headers = [
        "名次",
        "考核对象",
        *item_labels,
        "项目得分",
        "加减分",
        "总分",
        "上期总分",
        "较上期",
        "上期名次",
    ]
    ws.append(headers)
    for r in rows:
        res = r.result
        ws.append(
            [
                res.rank,
                res.subject_name,
                *[i["points"] if i["points"] is not None else "不计" for i in res.items],
                res.base,
                res.adjustment,
                res.total,
                r.previous_total if r.previous_total is not None else "—",
                trend_text(r),
                r.previous_rank if r.previous_rank is not None else "—",
            ]
        )
    state = "已发布" if run.status == "published" else "草稿"
    _finish(
        ws,
        f"{period.label}{POPULATIONS[run.population]}考核排名（{state}，方案第{run.scheme.version}版）",
        headers,
    )
    for row in ws.iter_rows(min_row=4):
        for c in row:
            if isinstance(c.value, float):
                c.number_format = "0.00"
    return _bytes(wb)


def card_xlsx(result: Result, history: list[Result]) -> bytes:
    run = result.run
    period = periods.parse(run.period)
    wb = Workbook()
    ws = wb.active
    ws.title = "成绩单"
    headers = ["考核项", "指标原值", "权重", "得分", "计分规则"]
    ws.append(headers)
    for i in result.items:
        ws.append(
            [
                i["label"],
                i["shown"],
                i["weight"],
                i["points"] if i["points"] is not None else "不计",
                i["rule"],
            ]
        )
    ws.append(["项目得分", "", "", result.base, "无数据的考核项不计，按其余权重折算"])
    for adj in result.adjustments.order_by(1):
        ws.append([f"{'加分' if adj.points > 0 else '扣分'}：{adj.reason}", "", "", adj.points, adj.by_name])
    ws.append(["总分", "", "", result.total, f"名次 {result.rank}"])
    _finish(ws, f"{result.subject_name} {period.label}考核成绩单", headers)
    if history:
        hs = wb.create_sheet("历次成绩")
        hs.append(["考核周期", "总分", "名次"])
        for h in history:
            hs.append([periods.parse(h.run.period).label, h.total, h.rank])
    return _bytes(wb)
