"""The web process's ASGI application: `/push/stream` on the event loop, every other request
handed to the Flask (WSGI) app in a thread pool.

Gunicorn runs it with its `asgi` worker class (node/web_server.py); page requests keep the
threaded semantics they had under gthread, while each open stream costs a coroutine.
"""

from __future__ import annotations

from typing import Any

from a2wsgi import WSGIMiddleware
from flask import Flask

from node.auth.service import Actor
from node.push.stream import Receive, Scope, Send, StreamEndpoint

STREAM_PATH = "/push/stream"


def authenticator(app: Flask) -> Any:
    """The actor of a request, read with the web app's own session and token rules
    (`node.auth.web.passive_actor`) but without counting it as activity: an open stream does
    not keep an idle session alive."""
    from node import db
    from node.auth import web

    def authenticate(environ: dict[str, Any]) -> Actor | None:
        with app.request_context(environ), db.connection():
            return web.passive_actor()

    return authenticate


class NodeAsgi:
    def __init__(self, app: Flask, threads: int = 8):
        self.flask = app
        self.wsgi = WSGIMiddleware(app, workers=threads)  # type: ignore[arg-type]
        self.stream = StreamEndpoint(authenticator(app))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == STREAM_PATH:
            await self.stream(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        else:
            await self.wsgi(scope, receive, send)  # type: ignore[arg-type]

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.stream.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def stop_streams(self) -> None:
        """End every open stream (the worker received SIGTERM)."""
        self.stream.stop()
