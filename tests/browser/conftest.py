"""Browser tests: Debian's Chromium driven by Playwright against a live server thread.

The server runs the node's ASGI app (create_app() behind node.push.asgi, as gunicorn serves it:
pages in a thread pool, the push stream on the event loop) under uvicorn on 127.0.0.1 port 0 over a throwaway SQLite file, migrated with the
real migrations and seeded with the code tables and the demo units and users (password demo12328).
Every test gets fresh browser contexts at 1366×768; screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from node import db as node_db
from node import pii
from node import settings as node_settings
from node.catalog import service as catalog
from node.demo import DEMO_PASSWORD
from tests import asgi_server

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--lang=zh-CN",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


class LiveNode:
    """The running node: its URL, settings and database (tests may read rows to check outcomes)."""

    def __init__(self, url: str, settings: node_settings.Settings, database: Any):
        self.url = url
        self.settings = settings
        self.database = database

    def activate(self) -> None:
        """Point this process's globals (settings, PII key, database proxy) at the live node."""
        node_settings.configure(self.settings)
        pii.configure(self.settings.data_key)
        node_db.database.initialize(self.database)
        catalog.invalidate()


BROWSER_TIMEOUT_MS = 30_000
expect.set_options(timeout=BROWSER_TIMEOUT_MS)  # Playwright's own default for expect() is 5 s


@pytest.fixture(scope="session")
def live_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNode]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("未安装 Debian chromium：先运行 scripts/setup.sh --dev")
    from node.app import create_app
    from node.demo import load_demo
    from node.migrate import upgrade
    from node.text import lexicon

    home = tmp_path_factory.mktemp("live-node")
    settings = node_settings.for_tests(home, f"sqlite:///{home / 'node.db'}", name="南京市12328中心")
    node_settings.configure(settings)
    pii.configure(settings.data_key)
    database = node_db.bind(settings.database_url)
    with node_db.connection():
        upgrade(database)
        catalog.seed()
        lexicon.seed()
        load_demo(settings, orders=0)
    database.close()
    with asgi_server.serve(create_app(settings)) as (port, _asgi):
        yield LiveNode(f"http://127.0.0.1:{port}", settings, database)
    database.close()


@pytest.fixture(autouse=True)
def _active_node(live_node: LiveNode) -> Iterator[None]:
    live_node.activate()
    yield
    if not node_db.database.is_closed():
        node_db.database.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def new_page(browser: Browser, live_node: LiveNode) -> Iterator[Callable[[], Page]]:
    """new_page() opens a fresh browser context (its own cookies) at 1366×768, zh-CN."""
    contexts: list[BrowserContext] = []

    def make() -> Page:
        ctx = browser.new_context(
            viewport={"width": 1366, "height": 768},
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            base_url=live_node.url,
        )
        # generous: a loaded machine (the suite beside stress-ng) must not fail a journey; the
        # tests wait on conditions (a flash, a badge, a URL), never on time
        ctx.set_default_timeout(BROWSER_TIMEOUT_MS)
        ctx.set_default_navigation_timeout(2 * BROWSER_TIMEOUT_MS)
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    for ctx in contexts:
        ctx.close()


def login(page: Page, username: str, password: str = DEMO_PASSWORD) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def shot(page: Page, name: str, full_page: bool = False) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


@pytest.fixture
def phone_stack(live_node: LiveNode, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """phone_stack(**telephony) starts Kamailio and one engine (+ the busy announcer) writing into
    the live node's database; stopped after the test."""
    from tests.telephony.harness import Stack

    started: list[Stack] = []

    def start(**telephony: Any) -> Stack:
        st = Stack(
            tmp_path / f"sip{len(started)}",
            engines=1,
            database_url=live_node.settings.database_url,
            data_key=live_node.settings.data_key,
            **telephony,
        )
        started.append(st)
        return st.start()

    yield start
    for st in started:
        st.stop()
