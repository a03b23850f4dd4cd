"""The federation alert rules are valid Prometheus rules, and fire as their unit tests say
(`promtool` from Debian's prometheus package, installed by scripts/setup.sh)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


@pytest.mark.parametrize(
    "args", [["check", "rules", "federation.rules.yml"], ["test", "rules", "federation.rules.test.yml"]]
)
def test_promtool(args: list[str]) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool 未安装：运行 scripts/setup.sh（Debian 软件包 prometheus）"
    done = subprocess.run([promtool, *args], cwd=RULES, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
