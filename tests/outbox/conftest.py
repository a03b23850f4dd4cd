from __future__ import annotations

import json
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
from node.outbox.wechat_send import WechatConfig

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _hooks() -> None:
    followup.install()
    outbox.install()


def _start(module: str, home: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """Start a test server process (`python -m module DIR`) and wait for the port it writes."""
    proc = subprocess.Popen([sys.executable, "-m", module, str(home)], cwd=ROOT, env={**os.environ, **env})
    deadline = time.monotonic() + 30
    while not (home / "port").exists():
        assert proc.poll() is None, f"{module} exited"
        assert time.monotonic() < deadline, f"{module} did not start"
        time.sleep(0.05)
    return proc, int((home / "port").read_text())


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


class Smsc:
    def __init__(self, home: Path, delay_s: float = 0.0):
        self.home = home
        self.proc, self.port = _start("tests.smsc", home, {"SMSC_DELAY_S": str(delay_s)})

    def config(self, password: str = "secret", **kw: Any) -> SmsConfig:
        return SmsConfig(host="127.0.0.1", port=self.port, system_id="hotline", password=password, **kw)

    def submits(self) -> list[dict[str, Any]]:
        return _jsonl(self.home / "submits.jsonl")

    def mo(self, name: str, sender: str, text: str) -> None:
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


TEMPLATES = {
    "receipt": "TPL-RECEIPT",
    "extension": "TPL-EXT",
    "closure": "TPL-CLOSE",
    "rating_invite": "TPL-RATE",
}


class WxApi:
    """tests/wxapi.py: the WeChat API (token, template send) as a real HTTP server process."""

    def __init__(self, home: Path, delay_s: float = 0.0):
        from tests.wxapi import APPID, SECRET

        self.home, self.appid, self.secret = home, APPID, SECRET
        self.proc, self.port = _start("tests.wxapi", home, {"WXAPI_DELAY_S": str(delay_s)})
        self.api_base = f"http://127.0.0.1:{self.port}/cgi-bin/"

    def section(self, **kw: Any) -> dict[str, Any]:
        """The `[wechat]` section of node.toml pointing at this server."""
        return {
            "token": "hotline-wx-token",
            "appid": self.appid,
            "secret": self.secret,
            "api_base": self.api_base,
            "url": "https://12328.example.cn/public/query",
            "templates": dict(TEMPLATES),
            **kw,
        }

    def config(self, **kw: Any) -> WechatConfig:
        cfg = WechatConfig.from_section(self.section(**kw))
        assert cfg is not None
        return cfg

    def sent(self) -> list[dict[str, Any]]:
        return _jsonl(self.home / "sent.jsonl")

    def tokens(self) -> list[dict[str, Any]]:
        return _jsonl(self.home / "tokens.jsonl")

    def requests(self) -> list[dict[str, Any]]:
        return _jsonl(self.home / "requests.jsonl")

    def expire_token(self) -> None:
        (self.home / "expire").write_text("1")

    def fail_next(self, errcode: int, count: int, errmsg: str = "error") -> None:
        (self.home / "fail.json").write_text(
            json.dumps({"errcode": errcode, "errmsg": errmsg, "count": count})
        )

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def wxapi(tmp_path: Path) -> Iterator[WxApi]:
    s = WxApi(tmp_path / "wxapi")
    yield s
    s.stop()
