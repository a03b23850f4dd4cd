"""Historical import: mapping, validation report, one transaction, re-runs change nothing, CSV and
Excel, imported orders in statistics (SQLite and PostgreSQL; small files made here)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from node.analytics import compute, importer, parse_period
from node.analytics.models import ImportBatch, ImportedOrder
from node.errors import ValidationError
from node.workflow.models import WorkOrder
from tests.factories import stat_order

MAPPING = """
name = "old"
[columns]
number = "编号"
accepted_at = "受理时间"
due_at = "时限"
closed_at = "办结时间"
type = "类型"
channel = "来源"
title = "标题"
text = ["内容", "地点"]
status = "状态"
result_rating = "满意度"
[values.type]
"投诉" = "1"
"咨询" = "2"
[values.channel]
"电话" = "01"
"*" = "09"
[values.status]
"已办结" = "closed"
"办理中" = "handling"
[values.result_rating]
"满意" = "2"
"不满意" = "3"
"""
HEADER = "编号,受理时间,时限,办结时间,类型,来源,标题,内容,地点,状态,满意度"
ROWS = [
    "A1,2024-03-01 09:00:00,2024-03-05 17:00:00,2024-03-04 10:00:00,投诉,电话,出租车拒载,拒载,南京站,已办结,满意",
    "A2,2024-03-02 09:00:00,2024-03-05 17:00:00,2024-03-06 10:00:00,投诉,网站,公交晚点,晚点,新街口,已办结,不满意",
    "A3,2024-03-03 09:00:00,,,咨询,电话,如何办证,办证,,办理中,",
]
BAD = [
    "A4,2024-13-01 09:00:00,,,投诉,电话,坏时间,x,,办理中,",  # bad date
    "A5,2024-03-03 09:00:00,,,表扬,电话,未知类型,x,,办理中,",  # type not in the table
    "A6,2024-03-03 09:00:00,,,投诉,电话,缺办结时间,x,,已办结,",  # closed without a time
    "A1,2024-03-01 09:00:00,,,投诉,电话,重复,x,,办理中,",  # same number twice in the file
]


def write(tmp_path: Path, rows: list[str]) -> tuple[Path, Path]:
    data = tmp_path / "orders.csv"
    data.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    mapping = tmp_path / "m.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return data, mapping


def test_import_validates_reports_and_reruns_change_nothing(db: str, tmp_path: Path) -> None:
    data, mapping = write(tmp_path, ROWS + BAD)
    result = importer.run(data, mapping, me="320100")
    assert (result.total, result.imported, result.rejected_count) == (7, 3, 4)
    reasons = {r["row"]: r["reasons"] for r in result.rejected}
    assert any("受理时间" in x for x in reasons[5])
    assert any("类型“表扬”不在映射表中" in x for x in reasons[6])
    assert any("缺少办结时间" in x for x in reasons[7])
    assert reasons[8] == ["文件中重复的原工单编号"]
    assert "第 6 行" in importer.report_text(result) and "拒绝原因" in importer.report_csv(result)
    a2 = WorkOrder.get(WorkOrder.external_number == "A2")
    assert (a2.channel, a2.state, a2.callback_result_satisfaction, a2.content) == (
        "09",
        "closed",
        "3",
        "晚点 新街口",
    )
    assert ImportedOrder.select().count() == 3 and ImportBatch.get().rows_rejected == 4
    again = importer.run(data, mapping, me="320100")
    assert (again.imported, again.skipped) == (0, 3)
    assert WorkOrder.select().count() == 3
    # imported orders count in statistics: 2 closed with a due time, 1 on time
    v = compute(["volume", "on_time_rate", "callback_satisfaction"], parse_period("2024-03"))[0]["values"]
    assert v["volume"]["value"] == 3
    assert (v["on_time_rate"]["numerator"], v["on_time_rate"]["denominator"]) == (1, 2)
    assert v["callback_satisfaction"]["value"] == 0.5


def test_strict_and_check_import_nothing(db: str, tmp_path: Path) -> None:
    data, mapping = write(tmp_path, ROWS + BAD[:1])
    assert importer.run(data, mapping, me="320100", strict=True).imported == 0
    assert importer.run(data, mapping, me="320100", check_only=True).imported == 0
    assert WorkOrder.select().count() == 0 and ImportBatch.select().count() == 0


def test_nothing_half_imported_when_a_number_exists(db: str, tmp_path: Path) -> None:
    stat_order(dt.datetime(2024, 1, 1), number="LSA3")
    data, mapping = write(tmp_path, ROWS)
    with pytest.raises(ValidationError, match="同号工单"):
        importer.run(data, mapping, me="320100")
    assert WorkOrder.select().count() == 1 and ImportedOrder.select().count() == 0


def test_excel_file_and_bad_mappings(db: str, tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER.split(","))
    ws.append(
        [
            "B1",
            dt.datetime(2024, 3, 1, 9),
            dt.datetime(2024, 3, 5, 17),
            dt.datetime(2024, 3, 2),
            "投诉",
            "电话",
            "标题",
            "内容",
            "",
            "已办结",
            "满意",
        ]
    )
    ws.append(
        [12345, "2024-03-01 10:00:00", None, None, "咨询", "电话", "数字编号", "内容", "", "办理中", None]
    )
    path = tmp_path / "orders.xlsx"
    wb.save(path)
    _, mapping = write(tmp_path, [])
    result = importer.run(path, mapping, me="320100")
    assert result.imported == 2, result.rejected
    assert WorkOrder.get(WorkOrder.external_number == "12345").business_type == "2"
    bad = tmp_path / "bad.toml"
    for text, message in (
        ("name = 'x'\n[columns]\nnumber = 'a'\n", "accepted_at"),
        ("[columns]\nnumber='a'\naccepted_at='b'\n", "name"),
        ("name = 'x'\n[columns]\nnumber='a'\naccepted_at='b'\ncolour='c'\n", "未知字段"),
        ("name = = 'x'", "格式错误"),
    ):
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(ValidationError, match=message):
            importer.run(path, bad, me="320100")
    with pytest.raises(ValidationError, match="文件不存在"):
        importer.run(tmp_path / "none.csv", mapping, me="320100")
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes((HEADER + "\n" + ROWS[0] + "\n").encode("gbk"))
    with pytest.raises(ValidationError, match="编码"):
        importer.run(gbk, mapping, me="320100")


def test_cli_prints_the_report(tmp_path: Path) -> None:
    """The command on a node directory of its own (SQLite): progress, report, throughput."""
    from tests.cli_node import hotline, init_node

    runner, cli = CliRunner(), hotline()
    home = tmp_path / "node"
    init_node(runner, home)
    data, mapping = write(tmp_path, ROWS + BAD[:1])
    out = runner.invoke(
        cli,
        [
            "-c",
            str(home),
            "import",
            "orders",
            "--file",
            str(data),
            "--mapping",
            str(mapping),
            "--report",
            str(tmp_path / "r.csv"),
        ],
    )
    assert out.exit_code == 0, out.output
    assert "共 4 行：导入 3，已导入过（跳过）0，拒绝 1" in out.output and "行/秒" in out.output
    assert "受理时间" in (tmp_path / "r.csv").read_text(encoding="utf-8")
    again = runner.invoke(
        cli, ["-c", str(home), "import", "orders", "--file", str(data), "--mapping", str(mapping), "--strict"]
    )
    assert again.exit_code == 1 and "未导入任何数据" in again.output
