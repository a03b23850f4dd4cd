"""Real telephony stack for SIP tests and the benchmark: a node home with its own SQLite file,
Kamailio and engine processes on free loopback ports, and scriptable SIP user agents."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from node import db as node_db
from node import pii
from node import settings as node_settings
from node.registry import all_models
from node.telephony import config as tconfig
from node.telephony import kamailio

ROOT = Path(__file__).resolve().parents[2]
SIPUA = Path(__file__).with_name("sipua.py")


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_udp_tcp_port() -> int:
    for _ in range(50):
        port = free_port()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


def agent_password(extension: str) -> str:
    """The SIP password tests give extension `extension`."""
    return f"sip-{extension}-secret"


def wait_until(pred: Callable[[], Any], timeout: float, what: str, step: float = 0.05) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class UserAgent:
    """A sipua.py process; events collected by a reader thread."""

    def __init__(self, rtp_port: int, log_dir: Path, name: str, sip_port: int = 0):
        self.name = name
        with open(log_dir / f"{name}.err", "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(SIPUA), str(rtp_port), str(sip_port)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                cwd=ROOT,
            )
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.q: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.wait(lambda e: e["ev"] == "ready", 10)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        try:
            for line in self.proc.stdout:
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                with self.lock:
                    self.events.append(ev)
        except (OSError, ValueError):  # close() closed the pipe while this thread was reading
            return

    def send(self, **cmd: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def find(self, pred: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.events if pred(e)]

    def wait(self, pred: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        return wait_until(lambda: (self.find(pred) or [None])[0], timeout, "UA event")  # type: ignore[no-any-return]

    def close(self) -> int:
        """Quit the UA; returns its exit code (0 = clean, negative = killed by that signal)."""
        if self.proc.poll() is None:
            try:
                self.send(op="quit")
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired, ValueError):
                self.proc.kill()
                self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        return int(self.proc.returncode)


class Stack:
    """Kamailio + N engines + a node database in `home`. With `database_url` and `data_key` the
    engines join an existing node's database (already migrated), e.g. a browser test's live node."""

    def __init__(
        self,
        home: Path,
        engines: int = 1,
        *,
        database_url: str = "",
        data_key: bytes = b"",
        **telephony: Any,
    ):
        self.home = home
        self.logs = home / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        (home / "keys").mkdir(exist_ok=True)
        (home / "keys" / "session.key").write_text("sip-test-secret")
        (home / "keys" / "data.key").write_text((data_key or Fernet.generate_key()).decode())
        self.shared_db = bool(database_url)
        database_url = database_url or f"sqlite:///{home / 'data' / 'node.db'}"
        self.kam_port = free_udp_tcp_port()
        # Engines bind SIP and control port 0 on their first start and report what they got; a
        # restart reuses them (Kamailio's dispatcher list names them).
        self.engine_ports: list[int] = []
        self.control_ports: list[int] = []
        # RTP below the ephemeral range (32768+), so no SIP/control socket can take an RTP port:
        # engines at base + 40·i, user agents from base + 2700 in steps of 20 (4 calls need 8).
        self.rtp_base = 10000 + (os.getpid() % 5) * 4000
        # A UA on this port plays the PSTN gateway: the engines dial outside numbers there.
        self.gateway_port = free_udp_tcp_port()
        tel = {
            "sip_port": self.kam_port,
            "engines": engines,
            "rtp_base_port": self.rtp_base,
            "ring_timeout_s": 4,
            "wrapup_s": 1,
            "callback_offer_s": 60,
            "rating_timeout_s": 5,
            "announce_every_s": 30,
            "pstn_gateway": f"127.0.0.1:{self.gateway_port}",
            **telephony,
        }
        lines = [
            "[node]",
            'region = "320100"',
            'level = "city"',
            'name = "南京测试节点"',
            "",
            "[database]",
            f'url = "{database_url}"',
            "",
            "[telephony]",
        ]
        lines += [f"{k} = {json.dumps(v)}" for k, v in tel.items()]
        (home / "node.toml").write_text("\n".join(lines) + "\n")
        self.settings = node_settings.load(home)
        self.cfg = tconfig.load(self.settings)
        # the pool and, unless disabled, the busy announcer (index `engines`)
        self.engine_ports = [0] * self.cfg.processes
        self.control_ports = [0] * self.cfg.processes
        self.engines: dict[int, subprocess.Popen[bytes]] = {}
        self.kamailio: subprocess.Popen[bytes] | None = None
        self.uas: list[UserAgent] = []

    # -- database ---------------------------------------------------------------------------------
    def init_db(self) -> None:
        node_settings.configure(self.settings)
        pii.configure(self.settings.data_key)
        database = node_db.bind(self.settings.database_url)
        with node_db.connection():
            database.create_tables(all_models())
            from node.catalog import service as catalog

            catalog.seed()

    # -- processes --------------------------------------------------------------------------------
    def start_kamailio(self) -> None:
        path = kamailio.write_config(self.cfg, self.engine_ports)
        with open(self.logs / "kamailio.err", "wb") as err:
            self.kamailio = subprocess.Popen(
                kamailio.kamailio_argv(self.cfg, path),
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )
        wait_until(lambda: (self.cfg.run_dir / "kamailio_ctl").exists(), 10, "kamailio")
        time.sleep(0.3)

    def start_engine(self, index: int) -> int:
        ready = self.cfg.run_dir / f"{self.cfg.engine_name(index)}.json"
        ready.unlink(missing_ok=True)
        with open(self.logs / f"engine{index}.err", "ab") as err:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "node.telephony.engine",
                    "--config",
                    str(self.home),
                    "--index",
                    str(index),
                    "--sip-port",
                    str(self.engine_ports[index]),
                    "--control-port",
                    str(self.control_ports[index]),
                    "--rtp-port",
                    str(self.cfg.rtp_port(index)),
                ],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )
        self.engines[index] = proc

        def started() -> dict[str, Any] | None:
            if proc.poll() is not None:
                raise AssertionError((self.logs / f"engine{index}.err").read_text()[-3000:])
            try:
                return json.loads(ready.read_text())  # type: ignore[no-any-return]
            except (OSError, ValueError):
                return None  # not written yet, or half written

        info = wait_until(started, 60, "engine start")
        self.engine_ports[index], self.control_ports[index] = info["sip_port"], info["control_port"]
        return proc.pid

    def start(self) -> Stack:
        if not self.shared_db:
            self.init_db()
        for i in range(len(self.engine_ports)):
            self.start_engine(i)
        self.start_kamailio()
        return self

    def kill_engine(self, index: int) -> None:
        proc = self.engines[index]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    def ua(self, name: str, sip_port: int = 0) -> UserAgent:
        ua = UserAgent(self.rtp_base + 2700 + 20 * len(self.uas), self.logs, name, sip_port)
        self.uas.append(ua)
        return ua

    def gateway_ua(self, phones: dict[str, dict[str, Any]], name: str = "pstn") -> UserAgent:
        """The PSTN seen from the node: one UA on the gateway port answering the given numbers."""
        ua = self.ua(name, self.gateway_port)
        for number, beh in phones.items():
            ua.send(op="register", user=number, registrar="", **beh)
        return ua

    def agent_ua(self, users: dict[str, dict[str, Any]], name: str = "agents") -> UserAgent:
        """Agents' softphones registering at Kamailio with their SIP passwords (see
        `agent_password`; the test must have enrolled them with it)."""
        ua = self.ua(name)
        for user, beh in users.items():
            beh = {"password": agent_password(user), **beh}
            ua.send(op="register", user=user, registrar=f"sip:127.0.0.1:{self.kam_port}", **beh)
        for user in users:
            ua.wait(lambda e, u=user: e["ev"] == "registered" and e["user"] == u and e["code"] == 200, 10)
        wait_until(lambda: self._seen_registered(list(users)), 20, "registration seen by the node")
        return ua

    def _seen_registered(self, extensions: list[str]) -> bool:
        """The queue skips a softphone the node last saw unregistered (engine-1 polls Kamailio every
        few seconds): a poll between enrolment and registration must be followed by a newer one."""
        from node.telephony.models import Agent

        with node_db.connection():
            return not (
                Agent.select()
                .where(Agent.extension.in_(extensions), Agent.sip_registered == False)  # noqa: E712
                .exists()
            )

    def sync_credentials(self) -> None:
        """Export the enrolled agents' HA1s to Kamailio (what the worker job and the CLI do)."""
        with node_db.connection():
            kamailio.sync_credentials(self.cfg)

    @property
    def uri(self) -> str:
        return f"sip:{self.cfg.service_number}@127.0.0.1:{self.kam_port}"

    def stop(self) -> None:
        for ua in self.uas:
            ua.close()
        for proc in self.engines.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.engines.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.kamailio is not None and self.kamailio.poll() is None:
            os.killpg(self.kamailio.pid, signal.SIGTERM)
            try:
                self.kamailio.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.kamailio.pid, signal.SIGKILL)
                self.kamailio.wait()
        if node_db.database.obj is not None:
            node_db.database.close()
