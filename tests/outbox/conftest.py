from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from node.followup import service as followup
from node.outbox import service as outbox
from node.outbox.smpp import SmsConfig

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _hooks() -> None:
    followup.install()
    outbox.install()


class Smsc:
    def __init__(self, home: Path, delay_s: float = 0.0):
        self.home = home
        env = {**os.environ, "SMSC_DELAY_S": str(delay_s)}
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.smsc", str(home)], cwd=ROOT, env=env)
        deadline = time.monotonic() + 30
        while not (home / "port").exists():
            assert self.proc.poll() is None, "SMSC exited"
            assert time.monotonic() < deadline, "SMSC did not start"
            time.sleep(0.05)
        self.port = int((home / "port").read_text())

    def config(self, password: str = "secret", **kw: Any) -> SmsConfig:
        return SmsConfig(host="127.0.0.1", port=self.port, system_id="hotline", password=password, **kw)

    def submits(self) -> list[dict[str, Any]]:
        import json

        log = self.home / "submits.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def mo(self, name: str, sender: str, text: str) -> None:
        import json

        (self.home / "mo" / f"{name}.json").write_text(
            json.dumps({"from": sender, "text": text}, ensure_ascii=False)
        )

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def smsc(tmp_path: Path) -> Iterator[Smsc]:
    s = Smsc(tmp_path / "smsc")
    yield s
    s.stop()
