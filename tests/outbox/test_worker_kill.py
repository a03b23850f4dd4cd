"""Notifications survive a kill -9 of the worker: a real `hotline serve-worker` process sends a
batch through a slow SMSC process (or WeChat API process), is killed mid-batch, is started again,
and every message is delivered exactly once (a resend after the kill carries the same SMPP
user_message_reference / WeChat client_msg_id, which the provider uses to drop a copy it already
accepted)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from node import db as node_db
from node import pii
from node import settings as node_settings
from node.outbox.models import CitizenMessage
from tests import factories
from tests.outbox.conftest import ROOT, TEMPLATES, Smsc, WxApi

pytestmark = [pytest.mark.slow]
N = 24


def _wait(cond, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _hotline(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "node.cli", "-c", str(home), *args]


class Channel:
    """What one channel's kill test needs: its test server, node.toml section, orders, deliveries."""

    def __init__(self, name: str, home: Path):
        self.name = name
        if name == "sms":
            self.server: Any = Smsc(home, delay_s=0.15)
        else:
            self.server = WxApi(home, delay_s=0.15)

    def toml(self) -> str:
        if self.name == "sms":
            return (
                f'\n[sms]\nhost = "127.0.0.1"\nport = {self.server.port}\nsystem_id = "hotline"\n'
                'password = "secret"\nlease_s = 2\n'
            )
        wx = self.server
        templates = "".join(f'{k} = "{v}"\n' for k, v in TEMPLATES.items())
        return (
            f'\n[wechat]\nappid = "{wx.appid}"\nsecret = "{wx.secret}"\napi_base = "{wx.api_base}"\n'
            f"lease_s = 2\n\n[wechat.templates]\n{templates}"
        )

    def make_orders(self) -> None:
        from node.outbox import service as outbox

        for i in range(N):
            if self.name == "sms":
                factories.make_order("accepted", caller_phone=f"1390000{i:04d}")
            else:
                row = outbox.handle_inbound("wechat", f"oWX_kill_{i:04d}", "站台顶棚漏雨", f"wx:k{i}")
                factories.make_order("accepted", contact_id=row.contact_id, channel="03", caller_phone="")

    def delivered(self) -> list[dict[str, Any]]:
        return self.server.submits() if self.name == "sms" else self.server.sent()

    def check(self, accepted: list[dict[str, Any]]) -> None:
        if self.name == "sms":
            assert sorted(a["to"] for a in accepted) == [f"1390000{i:04d}" for i in range(N)]
            refs = {m.id % 65536 for m in CitizenMessage.select()}
            assert {a["ref"] for a in accepted} == refs
        else:
            assert sorted(a["touser"] for a in accepted) == [f"oWX_kill_{i:04d}" for i in range(N)]
            assert {a["client_msg_id"] for a in accepted} == {
                f"12328-{m.id}" for m in CitizenMessage.select()
            }


@pytest.mark.parametrize("channel", ["sms", "wechat"])
def test_worker_killed_mid_batch_sends_each_message_once(tmp_path: Path, channel: str) -> None:
    ch = Channel(channel, tmp_path / channel)
    home = tmp_path / "node"
    previous = node_db.database.obj
    worker: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "node.cli",
                "init",
                "--level",
                "city",
                "--region",
                "320100",
                "--no-telephony",
                str(home),
            ],
            check=True,
            cwd=ROOT,
            capture_output=True,
        )
        with (home / "node.toml").open("a") as f:
            f.write(ch.toml())
        subprocess.run(_hotline(home, "migrate"), check=True, cwd=ROOT, capture_output=True)
        settings = node_settings.load(home)
        node_settings.configure(settings)
        pii.configure(settings.data_key)
        node_db.bind(settings.database_url)
        with node_db.connection():
            from node.outbox import service as outbox

            outbox.install()
            ch.make_orders()
            assert CitizenMessage.select().where(CitizenMessage.channel == channel).count() == N
            assert CitizenMessage.select().count() == N
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        worker = subprocess.Popen(
            _hotline(home, "serve-worker"), cwd=ROOT, env=env, stderr=subprocess.DEVNULL
        )
        _wait(lambda: len(ch.delivered()) >= N // 3, 60, "the first messages delivered")
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        killed_at = len(ch.delivered())
        assert killed_at < N, "the kill came after the whole batch: nothing was tested"
        worker = subprocess.Popen(
            _hotline(home, "serve-worker"), cwd=ROOT, env=env, stderr=subprocess.DEVNULL
        )

        def all_sent() -> bool:
            with node_db.connection():
                return CitizenMessage.select().where(CitizenMessage.state == "sent").count() == N

        _wait(all_sent, 120, "every message sent after the restart")
        accepted = ch.delivered()
        assert len(accepted) == N, f"{len(accepted)} accepted for {N} messages"
        with node_db.connection():
            ch.check(accepted)
            assert max(m.attempts for m in CitizenMessage.select()) >= 2  # the killed claim was taken again
    finally:
        if worker is not None and worker.poll() is None:
            worker.terminate()
            worker.wait(20)
        ch.server.stop()
        node_db.database.initialize(previous)
