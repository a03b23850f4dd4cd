"""`hotline admin report` and `hotline admin rollup` on a real node home (SQLite)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def hotline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "node.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_report_and_rollup_commands(tmp_path: Path) -> None:
    home = tmp_path / "p"
    assert hotline("init", str(home), "--level", "province", "--region", "320000").returncode == 0
    assert hotline("-c", str(home), "migrate").returncode == 0
    out = hotline("-c", str(home), "admin", "report", "--date", "2025-03-03")
    assert out.returncode == 0, out.stderr
    assert "320000 2025-03-03 日报" in out.stdout and "已排队报送上级" in out.stdout
    again = hotline("-c", str(home), "admin", "report", "--date", "2025-03-03", "--no-send")
    assert "已保存" in again.stdout
    rollup = hotline("-c", str(home), "admin", "rollup", "--date", "2025-03-03", "--json")
    assert rollup.returncode == 0, rollup.stderr
    data = json.loads(rollup.stdout)
    assert (data["region"], data["nodes_reported"]) == ("320000", ["320000"])
    text = hotline("-c", str(home), "admin", "rollup", "--date", "2025-03-03")
    assert "320000（省级）2025-03-03 汇总" in text.stdout and "本级" in text.stdout
    denied = hotline("-c", str(home), "admin", "rollup", "--date", "2025-03-03", "--region", "330000")
    assert denied.returncode != 0 and "无权查看" in denied.stderr
    bad = hotline("-c", str(home), "admin", "report", "--date", "2025-13-03")
    assert bad.returncode != 0 and "YYYY-MM-DD" in bad.stderr
    missing = hotline("-c", str(home), "admin", "rollup")
    assert missing.returncode != 0 and "--date" in missing.stderr
