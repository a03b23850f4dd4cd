"""The web process: gunicorn's asyncio (`asgi`) worker serving the node's ASGI app, fork-safe (no
DB connection before fork). Page requests run the Flask app in each worker's thread pool; the
push stream (`/push/stream`) is a coroutine per open page (node/push/asgi.py)."""

from __future__ import annotations

import os
import shutil
import signal
from typing import Any

from gunicorn.app.base import BaseApplication

from node.settings import Settings

# Page requests per worker run in this many threads (node.push.asgi.NodeAsgi); gthread had 4.
PAGE_THREADS = 8


def prepare_metrics_dir(settings: Settings, process: str) -> None:
    """A fresh Prometheus multiprocess directory per process type, set before prometheus_client loads."""
    path = settings.run_dir / f"prometheus-{process}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    # prometheus_client picks its value class when first imported; the CLI may have loaded it
    # already (federation.metrics via federation.cli), and every metric made from now on (the
    # web's request counters, the push stream gauge) must write to the multiprocess files
    import sys

    values = sys.modules.get("prometheus_client.values")
    if values is not None:
        values.ValueClass = values.get_value_class()  # type: ignore[attr-defined]


class WebApplication(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, options: dict[str, Any]):
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from node.app import create_app
        from node.push.asgi import NodeAsgi

        app = create_app(self.settings)
        _warm_before_fork(app)
        return NodeAsgi(app, threads=PAGE_THREADS)


def _pre_fork(server: Any, worker: Any) -> None:
    from node import db

    if db.database.obj is not None:
        db.database.close()
        close_all = getattr(db.database.obj, "close_all", None)
        if close_all:
            close_all()


def _post_fork(server: Any, worker: Any) -> None:
    """In the new worker: die with the master. Without this a kill -9 of the master leaves its
    workers serving the port, and the restarted master fails to bind until they are gone."""
    from node.supervisor import die_with_parent

    die_with_parent(signal.SIGKILL, worker.ppid)


# The screens an agent opens first, compiled before the workers fork (no database needed).
WARM_TEMPLATES = (
    "workstation.html",
    "partials/intake_form.html",
    "partials/suggest.html",
    "partials/duplicates.html",
    "partials/caller.html",
    "order.html",
    "queues.html",
)


def _warm_before_fork(app: Any) -> None:
    """What needs no database is loaded once in the master and shared by the forked workers:
    jieba's dictionary, pypinyin, the compiled templates of the desk."""
    from node.catalog import service as catalog
    from node.text import segment

    segment.search_tokens("出租车拒载预热")
    catalog.initials("预热")
    for name in WARM_TEMPLATES:
        app.jinja_env.get_template(name)


def _warm_models() -> None:
    """Load the text models, the duplicate index and the pickers' data now rather than on the first
    agent's submit (the 7 s first submit of issue #17)."""
    import logging

    from node import db
    from node.text import service as text_service
    from node.web import pickers

    log = logging.getLogger(__name__)
    try:
        took = text_service.warm()
        with db.connection():
            pickers.categories()
    except Exception:  # a node without its tables yet still serves its pages
        log.exception("warming the text models failed; they load on first use")
        return
    log.info("text models warm: %s", ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in took.items()))


def _post_worker_init(worker: Any) -> None:
    """Warm the text models in the background; on SIGTERM end the open push streams first, so the
    worker's graceful stop does not wait for pages that never close their stream."""
    import threading

    threading.Thread(target=_warm_models, name="warm-models", daemon=True).start()
    app, loop = getattr(worker, "asgi", None), getattr(worker, "loop", None)
    if app is None or loop is None or not hasattr(app, "stop_streams"):
        return

    def on_term() -> None:
        app.stop_streams()
        worker.handle_exit_signal()

    loop.add_signal_handler(signal.SIGTERM, on_term)


def _child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def gunicorn_options(settings: Settings, **overrides: Any) -> dict[str, Any]:
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {
        "bind": f"{settings.web_host}:{settings.web_port}",
        "workers": settings.web_workers,
        "worker_class": "asgi",
        "worker_connections": 1000,
        "asgi_loop": "asyncio",
        "timeout": 60,
        # gunicorn's largest request line (default 4094 bytes): a query of a few Chinese words
        # percent-encodes to 9–12 bytes a character; the request guard answers longer addresses
        # (node.validation.MAX_URL) with a Chinese 414
        "limit_request_line": 8190,
        "graceful_timeout": 10,
        "preload_app": True,
        "control_socket": str(settings.run_dir / "gunicorn-web.ctl"),
        "pidfile": str(settings.run_dir / "web.pid"),
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": f"hotline-web-{settings.region}",
        "pre_fork": _pre_fork,
        "post_fork": _post_fork,
        "post_worker_init": _post_worker_init,
        "child_exit": _child_exit,
    }
    options.update(overrides)
    return options


def serve(settings: Settings, **overrides: Any) -> None:
    prepare_metrics_dir(settings, "web")
    WebApplication(settings, gunicorn_options(settings, **overrides)).run()
