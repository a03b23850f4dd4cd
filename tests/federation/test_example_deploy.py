"""docs/FEDERATION.md's set-up, run as written: `deploy/examples/federation.sh` stands up a ministry
on PostgreSQL, two provinces and two cities on SQLite, each with `hotline run` (web, worker,
federation) on its own ports. Nobody issues the directory by hand, yet a transfer from Nanjing
reaches Hangzhou across both provinces and its acceptance comes back; the relays keep no personal
data in clear; the documented commands are the script's."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import pg
from tests.federation.helpers import until

pytestmark = [pytest.mark.multinode, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "examples" / "federation.sh"
PHONE = "13812345678"


def documented(text: str, start: str, end: str) -> list[str]:
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if start in line)
    last = next(i for i, line in enumerate(lines) if i > first and end in line)
    return [line for line in lines[first + 1 : last] if line.strip()]


def test_the_docs_show_the_scripts_commands() -> None:
    script = SCRIPT.read_text(encoding="utf-8")
    doc = (ROOT / "docs" / "FEDERATION.md").read_text(encoding="utf-8")
    setup = documented(script, "# --- set-up", "# --- end of set-up")
    start = documented(script, "# --- start", "# --- end of start")
    after = doc.split("<!-- example set-up: deploy/examples/federation.sh -->", 1)[1]
    block = after.split("```", 2)[1]  # the fenced block right after the marker
    shown = [line for line in block.splitlines()[1:] if line.strip()]
    assert shown == setup + start


def free_base(span: int = 25) -> int:
    for base in range(21000, 60000, 97):
        try:
            for port in range(base, base + span):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free port range")


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int, str]]:
    base_dir = tmp_path_factory.mktemp("example")
    url = pg.create_database("fedex")
    base = free_base()
    env = {**os.environ, "MINISTRY_DB": url, "BASE": str(base), "ADMIN_PASSWORD": "Example12328"}
    try:
        up = subprocess.run(
            [str(SCRIPT), "up", str(base_dir)], env=env, capture_output=True, text=True, timeout=600
        )
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        yield base_dir, base, url
    finally:
        subprocess.run([str(SCRIPT), "down", str(base_dir)], capture_output=True, timeout=120)
        pg.drop_database(url)


def hotline(home: Path, *args: str) -> str:
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "hotline"), "-c", str(home), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def api(port: int, token: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def test_transfer_across_provinces_as_documented(example: tuple[Path, int, str]) -> None:
    home, base, ministry_db = example
    nanjing, hangzhou = home / "nj", home / "hz"
    # the directory came down by itself: Hangzhou knows Nanjing's signing and sealing keys
    until(
        lambda: "x25519:320100:1" in hotline(hangzhou, "admin", "directory", "show"),
        "部级节点目录自动下发到杭州",
        timeout=120,
    )
    tokens = {}
    for name, node in (("nj", nanjing), ("hz", hangzhou)):
        hotline(
            node,
            "create-user",
            "duty",
            "--role",
            "agent",
            "--role",
            "reviewer",
            "--role",
            "dispatcher",
            "--password",
            "Example12328",
        )
        tokens[name] = hotline(node, "issue-token", "duty").strip()
    order = api(
        base + 3,
        tokens["nj"],
        "/orders",
        {
            "business_type": "1",
            "domain": "04",
            "sub_business": "0403",
            "region_code": "320102",
            "content": "杭州西湖区出租车拒载，乘客王先生要求处理",
            "caller_phone": PHONE,
            "caller_name": "王先生",
        },
    )
    number = order["number"]
    api(base + 3, tokens["nj"], f"/orders/{number}/actions/review", {})
    moved = api(
        base + 3,
        tokens["nj"],
        f"/orders/{number}/actions/transfer",
        {"region_code": "330106", "reason": "事发地在杭州"},
    )
    assert moved["state"] == "transferred"
    there = until(lambda: api(base + 4, tokens["hz"], f"/orders/{number}"), f"{number} 到达杭州", timeout=120)
    assert there["state"] == "pending_dispatch" and there["origin_node"] == "320100"

    def accepted() -> bool:
        history = api(base + 3, tokens["nj"], f"/orders/{number}/history")
        events = history if isinstance(history, list) else history.get("items", history.get("events", []))
        return any(e["action"] == "remote_accepted" for e in events)

    until(accepted, "杭州接收的动态回到南京", timeout=120)
    # the relays passed ciphertext only
    for relay in ("js", "zj"):
        for path in (home / relay / "data").glob("node.db*"):
            assert PHONE.encode() not in path.read_bytes(), path
    import psycopg

    with psycopg.connect(ministry_db) as conn:
        (clear,) = conn.execute(
            "SELECT COUNT(*) FROM inbox_message WHERE position(%s IN envelope) > 0", (PHONE.encode(),)
        ).fetchone()  # type: ignore[misc]
    assert clear == 0
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{base + 21}/metrics", timeout=10).read().decode()
    assert 'federation_sent_total{peer="000000"' in metrics  # counted by Jiangsu's worker
