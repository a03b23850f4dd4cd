"""`hotline admin bulletin` and `hotline admin spot-check` on a real ministry home (SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import hotline


def test_bulletin_and_spot_check_commands(tmp_path: Path) -> None:
    home = str(tmp_path / "m")
    hotline("init", home, "--level", "ministry", "--region", "000000")
    hotline("-c", home, "migrate")
    hotline("-c", home, "admin", "peers", "add", "320000", "127.0.0.1:1")

    body = tmp_path / "body.txt"
    body.write_text("一、平台责任……\n二、处理时限……", encoding="utf-8")
    sent = hotline(
        "-c", home, "admin", "bulletin", "--to", "all", "--title", "网约车投诉处理口径",
        "--body-file", str(body), "--category", "业务流程", "--tag", "网约车", "--effective-date", "2025-04-01",
    )  # fmt: skip
    assert "已排队下发（范围 000000）" in sent.stdout
    listed = hotline("-c", home, "admin", "bulletin", "--list", "--json")
    (item,) = json.loads(listed.stdout)
    assert (item["title"], item["body"], item["effective_date"], item["tags"]) == (
        "网约车投诉处理口径",
        "一、平台责任……\n二、处理时限……",
        "2025-04-01",
        ["网约车"],
    )

    check = hotline(
        "-c", home, "admin", "spot-check", "--to", "320100", "--domain", "04", "--sub-business", "0403",
        "--region-code", "320102", "--content", "新街口出租车拒载", "--phone", "13900002222", "--due-hours", "48",
    )  # fmt: skip
    assert "已排队下发至 320100" in check.stdout
    checks = json.loads(hotline("-c", home, "admin", "spot-check", "--list", "--json").stdout)
    assert checks["summary"]["total"] == 1 and checks["items"][0]["status"] == "sent"
    outbox = hotline("-c", home, "admin", "outbox", "list").stdout
    assert "KnowledgeBulletin" in outbox and "SpotCheckOrder" in outbox

    wrong = hotline(
        "-c", home, "admin", "spot-check", "--to", "330000", "--region-code", "320102", "--content", "x",
        check=False,
    )  # fmt: skip
    assert wrong.returncode != 0 and "不在抽检对象 330000 的辖区内" in wrong.stderr
    missing = hotline("-c", home, "admin", "bulletin", "--title", "无范围", "--body", "x", check=False)
    assert missing.returncode != 0 and "--to" in missing.stderr
