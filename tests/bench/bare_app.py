"""The baseline: a bare Flask JSON endpoint (no database, no sign-in) served exactly as the node
serves its own app — gunicorn's `asgi` worker with the node's options (`node.web_server.
gunicorn_options` of the node under test: worker class, event loop, worker count, preload), the
Flask app behind the same `NodeAsgi` wrapper and page-thread pool — so the ratio printed by
`bench_orders` measures what the node does per request, not a difference of server stacks.

Run: python -m tests.bench.bare_app NODE_HOME PORT
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request
from gunicorn.app.base import BaseApplication

app = Flask(__name__)


@app.post("/bare")
def bare() -> Any:
    data = request.get_json()
    return jsonify({"ok": True, "echo": len(data or {})}), 201


class BareApplication(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from node.push.asgi import NodeAsgi
        from node.web_server import PAGE_THREADS

        return NodeAsgi(app, threads=PAGE_THREADS)


# in place of the node's hooks that need its database or metrics directory
def _nothing1(worker: Any) -> None:
    pass


def _nothing2(server: Any, worker: Any) -> None:
    pass


def options(home: Path, port: int) -> dict[str, Any]:
    from node import settings as node_settings
    from node.web_server import gunicorn_options

    settings = node_settings.load(home / "node.toml")
    run = settings.run_dir
    return gunicorn_options(
        settings,
        bind=f"127.0.0.1:{port}",
        control_socket=str(run / f"bare-{port}.ctl"),
        pidfile=str(run / f"bare-{port}.pid"),
        proc_name="hotline-bench-bare",
        pre_fork=_nothing2,
        post_worker_init=_nothing1,
        child_exit=_nothing2,
    )


if __name__ == "__main__":
    BareApplication(options(Path(sys.argv[1]), int(sys.argv[2]))).run()
