"""The node's ASGI app (pages in a thread pool, the push stream on the loop) served by uvicorn in
a thread on 127.0.0.1 port 0, for browser and push tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

from node.push.asgi import NodeAsgi


@contextmanager
def serve(app: Flask) -> Iterator[tuple[int, NodeAsgi]]:
    """Yields (port, asgi app); on exit ends the open streams and stops the server."""
    import uvicorn

    asgi = NodeAsgi(app)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(asgi, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield int(sock.getsockname()[1]), asgi
    finally:
        asgi.stop_streams()
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
