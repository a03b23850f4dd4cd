"""`hotline run`: migrate once, then start and watch every process of the node.

Children run in their own process groups; a crashed child is restarted with backoff; Ctrl-C or
SIGTERM stops them all (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from node import settings as node_settings
from node.registry import optional_modules

GRACE_SECONDS = 10
# module path → function `process_specs(settings) -> list[ProcSpec]`
PROCESS_EXTENSIONS = ["federation.processes", "node.telephony.processes"]


@dataclass
class ProcSpec:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    restart: bool = True


@dataclass
class Child:
    spec: ProcSpec
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = 0.0


PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGKILL, parent: int | None = None) -> None:
    """Ask Linux to send `sig` to this process when its parent dies (prctl PR_SET_PDEATHSIG), so
    a kill -9 of a gunicorn master or of the supervisor leaves no orphan holding the port. If the
    parent is already gone (it died before this call), exit at once."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: nothing to ask for
        return
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def hotline(config: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "node.cli", "-c", config, *args]


def process_specs(config: str, settings: node_settings.Settings) -> list[ProcSpec]:
    specs = [
        ProcSpec("web", hotline(config, "serve-web")),
        ProcSpec("worker", hotline(config, "serve-worker")),
    ]
    for module in optional_modules(PROCESS_EXTENSIONS):
        specs.extend(module.process_specs(config, settings))
    return specs


def _say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run_node(config: str | None, demo: bool = False) -> int:
    settings = node_settings.load(config)
    config_path = str(settings.home / "node.toml")
    _say(f"启动节点 {settings.name}（{settings.region}，{settings.level_name}）")
    done = subprocess.run(hotline(config_path, "migrate"), check=False)
    if done.returncode != 0:
        _say("数据库迁移失败，节点未启动")
        return done.returncode
    if demo:
        subprocess.run(hotline(config_path, "demo-data"), check=False)
    children = [Child(spec) for spec in process_specs(config_path, settings)]
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    _say(f"Web 界面：http://{settings.web_host}:{settings.web_port}/   （Ctrl-C 停止）")
    while not stopping:
        now = time.monotonic()
        for child in children:
            if child.proc is not None and child.proc.poll() is not None:
                code = child.proc.returncode
                child.proc = None
                if not child.spec.restart:
                    continue
                if now - child.started_at > 60:
                    child.restarts = 0
                child.restarts += 1
                delay = min(30.0, 0.5 * 2**child.restarts)
                child.next_start = now + delay
                _say(f"进程 {child.spec.name} 退出（代码 {code}），{delay:.0f} 秒后重启")
            if (
                child.proc is None
                and now >= child.next_start
                and (child.spec.restart or child.started_at == 0)
            ):
                env = {**os.environ, **child.spec.env}
                supervisor = os.getpid()
                child.proc = subprocess.Popen(
                    child.spec.argv,
                    env=env,
                    start_new_session=True,
                    preexec_fn=lambda parent=supervisor: die_with_parent(signal.SIGTERM, parent),  # type: ignore[misc]
                )
                child.started_at = now
                _say(f"进程 {child.spec.name} 已启动（pid {child.proc.pid}）")
        time.sleep(0.2)
    _say("正在停止节点……")
    for child in children:
        if child.proc and child.proc.poll() is None:
            os.killpg(child.proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    for child in children:
        if child.proc is None:
            continue
        try:
            child.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(child.proc.pid, signal.SIGKILL)
            child.proc.wait()
    _say("节点已停止")
    return 0
