"""`hotline admin report` and `hotline admin rollup` on a real node home (SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import hotline


def test_report_and_rollup_commands(tmp_path: Path) -> None:
    home = tmp_path / "p"
    hotline("init", str(home), "--level", "province", "--region", "320000")
    hotline("-c", str(home), "migrate")
    out = hotline("-c", str(home), "admin", "report", "--date", "2025-03-03")
    assert "320000 2025-03-03 日报" in out.stdout and "已排队报送上级" in out.stdout
    again = hotline("-c", str(home), "admin", "report", "--date", "2025-03-03", "--no-send")
    assert "已保存" in again.stdout
    rollup = hotline("-c", str(home), "admin", "rollup", "--date", "2025-03-03", "--json")
    data = json.loads(rollup.stdout)
    assert (data["region"], data["nodes_reported"]) == ("320000", ["320000"])
    text = hotline("-c", str(home), "admin", "rollup", "--date", "2025-03-03")
    assert "320000（省级）2025-03-03 汇总" in text.stdout and "本级" in text.stdout
    denied = hotline(
        "-c", str(home), "admin", "rollup", "--date", "2025-03-03", "--region", "330000", check=False
    )
    assert denied.returncode != 0 and "无权查看" in denied.stderr
    bad = hotline("-c", str(home), "admin", "report", "--date", "2025-13-03", check=False)
    assert bad.returncode != 0 and "应为日期" in bad.stderr  # node.validation.parse_day's message
    missing = hotline("-c", str(home), "admin", "rollup", check=False)
    assert missing.returncode != 0 and "--date" in missing.stderr
