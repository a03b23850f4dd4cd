"""`hotline run` as an operator uses it: every process comes up, serves, and stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from node.demo import DEMO_PASSWORD
from tests.bench.harness import free_port, hotline

ROOT = Path(__file__).resolve().parents[2]


def _cmdline(p: psutil.Process) -> str:
    try:
        return " ".join(p.cmdline())
    except psutil.NoSuchProcess:  # a short-lived helper (prompt generation) already gone
        return ""


@pytest.mark.slow
def test_run_starts_serves_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    home = tmp_path / "node"
    hotline(
        "init",
        "--level",
        "city",
        "--region",
        "320100",
        "--web-port",
        str(port),
        "--federation-port",
        str(free_port()),
        "--metrics-port",
        str(free_port()),
        str(home),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "node.cli", "-c", str(home), "run", "--demo"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        health = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
                    health = json.loads(resp.read())
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                time.sleep(0.3)
        assert health == {"status": "ok", "node": "320100", "level": "city"}
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/auth/token",
            data=json.dumps({"username": "agent1", "password": DEMO_PASSWORD}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert json.loads(resp.read())["token"].startswith("hl_")
        children = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(_cmdline(c) for c in children)
        assert "serve-web" in names and "serve-worker" in names
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0 and "节点已停止" in out
        time.sleep(0.5)
        assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
        leftovers = [p for p in psutil.process_iter() if str(home) in _cmdline(p)]
        assert not leftovers, "every process of the node (kamailio and engines too) is gone"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
