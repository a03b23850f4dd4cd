"""The push stream: server-sent events on the web process's asyncio loop.

One `Hub` per web worker polls the `PushEvent` table (one indexed query every `POLL_S` while any
stream is open, whatever the number of streams) and hands each event to the open streams whose
topics match. A stream is a coroutine and an `asyncio.Queue`, not a thread: hundreds stay open
while the page requests run in the WSGI thread pool beside them (node/push/asgi.py).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Gauge

from node import db
from node.auth.service import Actor
from node.push import service

log = logging.getLogger(__name__)

POLL_S = 0.25
KEEPALIVE_S = 15.0
# A stream ends after this long and the browser reconnects at once (EventSource `retry`): the
# session is checked again, so a stream never outlives a logout or an idle timeout for long.
MAX_STREAM_S = 600.0
RETRY_MS = 2000
QUEUE_MAX = 200
STREAMS = Gauge("hotline_push_streams", "Open push streams", multiprocess_mode="livesum")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(eq=False)
class Subscriber:
    topics: frozenset[str]
    queue: asyncio.Queue[service.Event | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_MAX))
    overflowed: bool = False

    def offer(self, ev: service.Event | None) -> None:
        try:
            self.queue.put_nowait(ev)
        except asyncio.QueueFull:
            # A stalled client: end its stream; it reconnects with Last-Event-ID and catches up.
            self.overflowed = True


def _fetch_after(last: int) -> list[service.Event]:
    with db.connection():
        return service.after(last)


def _fetch_last() -> int:
    with db.connection():
        return service.last_id()


class Hub:
    """Fans the node's push events out to this worker's open streams."""

    def __init__(self) -> None:
        self.subscribers: set[Subscriber] = set()
        self.last = -1
        self.task: asyncio.Task[None] | None = None
        self.stopping = False
        self._wake = asyncio.Event()

    async def subscribe(self, topics: frozenset[str], last_event_id: int | None) -> Subscriber:
        if self.last < 0:
            self.last = await asyncio.to_thread(_fetch_last)
        sub = Subscriber(topics)
        if last_event_id is not None and 0 <= last_event_id < self.last:
            # events the page missed while it reconnected
            for ev in await asyncio.to_thread(_fetch_after, last_event_id):
                if ev.id > self.last:
                    break
                if ev.topic in topics:
                    sub.offer(ev)
        self.subscribers.add(sub)
        STREAMS.inc()
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())
        self._wake.set()
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        if sub in self.subscribers:
            self.subscribers.discard(sub)
            STREAMS.dec()

    def stop(self) -> None:
        """The worker is shutting down: end every stream now (browsers reconnect elsewhere)."""
        self.stopping = True
        for sub in list(self.subscribers):
            sub.offer(None)
        self._wake.set()

    async def _run(self) -> None:
        while not self.stopping:
            if not self.subscribers:
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                events = await asyncio.to_thread(_fetch_after, self.last)
            except Exception:  # a database hiccup must not end the hub; streams stay open
                log.exception("读取推送事件失败")
                events = []
            for ev in events:
                self.last = ev.id
                for sub in list(self.subscribers):
                    if ev.topic in sub.topics:
                        sub.offer(ev)
            if len(events) < service.BATCH:
                await asyncio.sleep(POLL_S)


def _frame(ev: service.Event) -> bytes:
    data = json.dumps(ev.data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {ev.id}\nevent: {ev.kind}\ndata: {data}\n\n".encode()


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin1"))
    return ""


class StreamEndpoint:
    """`GET /push/stream`: the signed-in user's events as text/event-stream. `authenticate(environ)`
    returns the Actor of a WSGI environ built from the request (the web app's own session check)."""

    def __init__(self, authenticate: Callable[[dict[str, Any]], Actor | None]):
        self.authenticate = authenticate
        self.hub: Hub | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def _hub(self) -> Hub:
        if self.hub is None:
            self.hub = Hub()
            self.loop = asyncio.get_running_loop()
        return self.hub

    def stop(self) -> None:
        """End every open stream; safe from any thread."""
        hub, loop = self.hub, self.loop
        if hub is None or loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            hub.stop()
        else:
            loop.call_soon_threadsafe(hub.stop)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from a2wsgi.wsgi import build_environ

        if scope["method"] not in ("GET", "HEAD"):
            await _plain(send, 405, {"code": "http_405", "message": "不支持的请求方法"})
            return
        environ = build_environ(scope, io.BytesIO())  # type: ignore[arg-type]
        actor = await asyncio.to_thread(self.authenticate, environ)
        if actor is None:
            await _plain(send, 401, {"code": "authentication_required", "message": "请先登录"})
            return
        hub = self._hub()
        if hub.stopping:
            await _plain(send, 503, {"code": "unavailable", "message": "服务正在重启，请稍候"})
            return
        raw_last = _header(scope, b"last-event-id")
        last_id = int(raw_last) if raw_last.isdigit() else None
        sub = await hub.subscribe(service.topics_for(actor), last_id)
        gone = asyncio.Event()

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    gone.set()
                    sub.offer(None)
                    return

        watcher = asyncio.get_running_loop().create_task(watch())
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/event-stream; charset=utf-8"),
                        (b"cache-control", b"no-cache, no-store"),
                        (b"x-accel-buffering", b"no"),
                    ],
                }
            )
            await send(
                {"type": "http.response.body", "body": f"retry: {RETRY_MS}\n\n".encode(), "more_body": True}
            )
            await self._pump(sub, send, gone)
            if not gone.is_set():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the client went away mid-write
        finally:
            hub.unsubscribe(sub)
            watcher.cancel()

    async def _pump(self, sub: Subscriber, send: Send, gone: asyncio.Event) -> None:
        ends = time.monotonic() + MAX_STREAM_S
        while not gone.is_set() and not sub.overflowed:
            left = ends - time.monotonic()
            if left <= 0:
                return
            try:
                ev = await asyncio.wait_for(sub.queue.get(), timeout=min(KEEPALIVE_S, left))
            except TimeoutError:
                await send({"type": "http.response.body", "body": b": keepalive\n\n", "more_body": True})
                continue
            if ev is None:
                return
            body, stop = [_frame(ev)], False
            while not sub.queue.empty():  # a burst goes out in one write
                nxt = sub.queue.get_nowait()
                if nxt is None:
                    stop = True
                    break
                body.append(_frame(nxt))
            await send({"type": "http.response.body", "body": b"".join(body), "more_body": True})
            if stop:
                return


async def _plain(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
