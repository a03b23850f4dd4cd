"""Notifications survive a kill -9 of the worker: a real `hotline serve-worker` process sends a
batch through a slow SMSC process, is killed mid-batch, is started again, and every message
reaches the SMSC exactly once (a resend after the kill carries the same user_message_reference,
which the SMSC uses to drop a copy it already accepted)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from node import db as node_db
from node import pii
from node import settings as node_settings
from node.outbox.models import CitizenMessage
from tests import factories
from tests.outbox.conftest import ROOT, Smsc

pytestmark = [pytest.mark.slow]
N = 24


def _wait(cond, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _hotline(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "node.cli", "-c", str(home), *args]


def test_worker_killed_mid_batch_sends_each_message_once(tmp_path: Path) -> None:
    smsc = Smsc(tmp_path / "smsc", delay_s=0.15)
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
            f.write(
                f'\n[sms]\nhost = "127.0.0.1"\nport = {smsc.port}\nsystem_id = "hotline"\npassword = "secret"\nlease_s = 2\n'
            )
        subprocess.run(_hotline(home, "migrate"), check=True, cwd=ROOT, capture_output=True)
        settings = node_settings.load(home)
        node_settings.configure(settings)
        pii.configure(settings.data_key)
        node_db.bind(settings.database_url)
        with node_db.connection():
            from node.outbox import service as outbox

            outbox.install()
            for i in range(N):
                factories.make_order("accepted", caller_phone=f"1390000{i:04d}")
            assert CitizenMessage.select().count() == N
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        worker = subprocess.Popen(
            _hotline(home, "serve-worker"), cwd=ROOT, env=env, stderr=subprocess.DEVNULL
        )
        _wait(lambda: len(smsc.submits()) >= N // 3, 60, "the first messages at the SMSC")
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        killed_at = len(smsc.submits())
        assert killed_at < N, "the kill came after the whole batch: nothing was tested"
        worker = subprocess.Popen(
            _hotline(home, "serve-worker"), cwd=ROOT, env=env, stderr=subprocess.DEVNULL
        )

        def all_sent() -> bool:
            with node_db.connection():
                return CitizenMessage.select().where(CitizenMessage.state == "sent").count() == N

        _wait(all_sent, 120, "every message sent after the restart")
        accepted = smsc.submits()
        assert len(accepted) == N, f"{len(accepted)} accepted for {N} messages"
        assert sorted(a["to"] for a in accepted) == [f"1390000{i:04d}" for i in range(N)]
        with node_db.connection():
            refs = {m.id % 65536 for m in CitizenMessage.select()}
            assert {a["ref"] for a in accepted} == refs
            assert max(m.attempts for m in CitizenMessage.select()) >= 2  # the killed claim was taken again
    finally:
        if worker is not None and worker.poll() is None:
            worker.terminate()
            worker.wait(20)
        smsc.stop()
        node_db.database.initialize(previous)
