"""Load helpers for the push channel: staff sessions over plain HTTP and many open SSE streams
held by one asyncio thread (what a floor of open browser tabs does to the web process)."""

from __future__ import annotations

import asyncio
import http.client
import re
import threading
import time
from collections.abc import Callable
from typing import Any

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def web_login(port: int, username: str, password: str) -> str:
    """Sign in through the login form; returns the session's Cookie header value."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/login")
    resp = conn.getresponse()
    page = resp.read().decode()
    cookie = _session_cookie(resp, "")
    m = CSRF.search(page)
    token = m.group(1) if m else ""
    body = f"username={username}&password={password}&csrf_token={token}"
    conn.request(
        "POST",
        "/login",
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
    )
    resp = conn.getresponse()
    resp.read()
    if resp.status != 302:
        raise RuntimeError(f"登录失败：{username} {resp.status}")
    cookie = _session_cookie(resp, cookie)
    conn.close()
    return cookie


def _session_cookie(resp: http.client.HTTPResponse, default: str) -> str:
    for raw in resp.headers.get_all("Set-Cookie") or []:
        if raw.startswith("hotline_session="):
            return raw.split(";", 1)[0]
    return default


class Streams:
    """`count` open /push/stream connections on one event loop in a background thread; records
    when each event id arrived at each stream."""

    def __init__(self, port: int, cookies: list[str], count: int):
        self.port, self.cookies, self.count = port, cookies, count
        self.opened = 0
        self.failed = 0
        self.arrivals: dict[int, list[float]] = {}
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self.stop_event: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Streams:
        self.thread.start()
        deadline = time.monotonic() + 60
        while self.opened + self.failed < self.count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(timeout=15)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._main())
        self.loop.close()

    async def _main(self) -> None:
        self.stop_event = asyncio.Event()
        tasks = [
            asyncio.create_task(self._one(self.cookies[i % len(self.cookies)])) for i in range(self.count)
        ]
        await self.stop_event.wait()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _one(self, cookie: str) -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            self.failed += 1
            return
        writer.write(
            f"GET /push/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
            f"Cookie: {cookie}\r\n\r\n".encode()
        )
        await writer.drain()
        status = await reader.readline()
        if b" 200 " not in status:
            self.failed += 1
            writer.close()
            return
        self.opened += 1
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                if line.startswith(b"id: "):
                    ev = int(line[4:].strip().split(b"\r")[0] or 0) if line[4:].strip().isdigit() else 0
                    with self.lock:
                        self.arrivals.setdefault(ev, []).append(time.monotonic())
        finally:
            writer.close()


def page_times(port: int, cookie: str, paths: list[str], rounds: int, threads: int = 4) -> list[float]:
    """Seconds per page request, `rounds` passes over `paths` from `threads` keep-alive clients."""
    from concurrent.futures import ThreadPoolExecutor

    local = threading.local()

    def one(path: str) -> float:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        t0 = time.perf_counter()
        conn.request("GET", path, headers={"Cookie": cookie})
        resp = conn.getresponse()
        resp.read()
        if resp.status >= 400:
            raise RuntimeError(f"{path}: {resp.status}")
        return time.perf_counter() - t0

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, paths * rounds))


def pct(values: list[float], q: float) -> float:
    xs = sorted(values)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))] if xs else float("nan")


def wait(pred: Callable[[], bool], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False
