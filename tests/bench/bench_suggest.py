#!/usr/bin/env python
"""Automatic categorisation while the agent types: latency of one suggestion (target p95 ≤ 20 ms).

Texts: the Teddy 交通运输 messages when ../shared/data is present (else synthetic complaints), typed
out as an agent would: a suggestion for every 4 more characters (the panel asks 250 ms after the
last keystroke). Measured three ways:
1. in process, the keyword rules alone and a trained leaf model (the compute of one suggestion);
2. inside the Flask app of a real node's database, one call at a time (the server's cost);
3. end to end through a real node (gunicorn, 2 workers) on SQLite and PostgreSQL: the REST call
   `POST /api/v1/text/suggest` and the workstation's panel `POST /workstation/suggest` (session,
   CSRF, the HTML partial), 8 agents typing at once, each asking at most every 250 ms. Each call
   reads the lexicon version and the active models from the database, as every worker does.
The machine's load average is printed with the figures: wall-clock percentiles on a shared
2-core machine include time spent waiting for a CPU (the CPU time is printed beside them).

Run: .venv/bin/python -m tests.bench.bench_suggest [--texts 60] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import random
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from node.text import classifier as C  # noqa: E402
from node.text.rules import builtin_categoriser  # noqa: E402
from tests import pg  # noqa: E402
from tests.bench.harness import PY, hotline, make_node, serving  # noqa: E402

TARGET_P95_MS = 20.0
STEP = 4
AGENTS = 8
DEBOUNCE = 0.25  # the panel asks at most every 250 ms per agent
SYNTHETIC = [
    "乘客反映{n}路公交车到站不停，按了门铃司机也不开门，沟通中态度不好，要求处理。",
    "来电人反映出租车苏A{n}不打表，到火车站一口价五十元，要求退还多收的车费。",
    "请问网约车驾驶员证怎么办理，需要什么材料，在哪里考试？",
    "建议在{n}号线地铁站出口增设公交接驳站点，方便换乘。",
    "国道{n}公里处路面坑洼积水，晚上没有路灯，已经发生过事故，希望尽快修补。",
    "驾校收了学费迟迟不安排科目二考试，教练还索要红包。",
]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def verdict(p95: float) -> str:
    return f"{'达到' if p95 <= TARGET_P95_MS else '未达到'}目标（p95 ≤ {TARGET_P95_MS:.0f} ms）"


def load_texts(data_dir: Path, limit: int) -> tuple[list[tuple[str, str]], str]:
    path = data_dir / "teddy2020c_messages_dev.csv"
    if path.exists():
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = [r for r in csv.DictReader(fh) if r["label_l1"] == "交通运输"]
        random.Random(12328).shuffle(rows)
        # agents write a few sentences, not a petition: the first 300 characters
        return [(r["title"], r["detail"][:300]) for r in rows[:limit]], "Teddy 交通运输留言（前300字）"
    rng = random.Random(12328)
    return [("", rng.choice(SYNTHETIC).format(n=rng.randint(1, 400))) for _ in range(limit)], "合成投诉"


def keystrokes(texts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(title, content so far) for every STEP characters the agent types."""
    out = []
    for title, content in texts:
        out.extend((title, content[:end]) for end in range(STEP, len(content) + STEP, STEP))
    return out


def bench_in_process(texts: list[tuple[str, str]], source: str, data_dir: Path) -> None:
    rules = builtin_categoriser()
    typed = keystrokes(texts)
    wall, cpu = [], []
    for title, content in typed:
        t0, c0 = time.perf_counter(), time.thread_time()
        rules.suggest(title, content)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    print(f"负载：{' / '.join(f'{x:.1f}' for x in os.getloadavg())}（1/5/15 分钟平均，{os.cpu_count()} 核）")
    print(
        f"进程内·关键词规则（{source}，{len(texts)} 条，{len(typed)} 次按键建议）："
        f"p50 {pct(wall, 0.5):.2f} ms，p95 {pct(wall, 0.95):.2f} ms（CPU 时间 p95 {pct(cpu, 0.95):.2f} ms）"
    )
    teddy = data_dir / "teddy2020c_messages_dev.csv"
    if not teddy.exists():  # the model needs the labelled messages
        return
    with (ROOT / "tests" / "data" / "taxonomy_labels.csv").open(encoding="utf-8", newline="") as fh:
        leaf = {r["row_id"]: r["sub_business"] or r["domain"] for r in csv.DictReader(fh)}
    with teddy.open(encoding="utf-8-sig", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["row_id"] in leaf]
    clf = C.TextClassifier().fit(
        [C.make_document(r["title"], r["detail"]) for r in rows], [leaf[r["row_id"]] for r in rows]
    )
    wall, cpu = [], []
    for title, content in typed:
        t0, c0 = time.perf_counter(), time.thread_time()
        doc = C.make_document(title, content)
        clf.predict(doc)
        clf.explain(doc, clf.labels[0])
        wall.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    print(
        f"进程内·本节点模型（{len(rows)} 条已标注留言训练）：p50 {pct(wall, 0.5):.2f} ms，"
        f"p95 {pct(wall, 0.95):.2f} ms（CPU 时间 p95 {pct(cpu, 0.95):.2f} ms）"
    )


class Agent:
    """One agent's browser: a session cookie and its CSRF token, over a keep-alive connection."""

    def __init__(self, port: int, username: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        body = json.dumps({"username": username, "password": "bench-pass-1"})
        self.conn.request(
            "POST", "/api/v1/auth/login", body=body, headers={"Content-Type": "application/json"}
        )
        resp = self.conn.getresponse()
        data = json.loads(resp.read())
        assert resp.status == 200, data
        # every cookie the login sets (the session and the remembered device), as a browser keeps them
        self.cookie = "; ".join(v.split(";", 1)[0] for k, v in resp.getheaders() if k.lower() == "set-cookie")
        self.csrf = data["csrf_token"]

    def panel(self, title: str, content: str) -> int:
        form = urllib.parse.urlencode({"title": title, "content": content})
        return self._post(
            "/workstation/suggest",
            form,
            {"Content-Type": "application/x-www-form-urlencoded", "HX-Request": "true"},
        )

    def api(self, title: str, content: str) -> int:
        body = json.dumps({"title": title, "content": content})
        return self._post("/api/v1/text/suggest", body, {"Content-Type": "application/json"})

    def _post(self, path: str, body: str, headers: dict[str, str]) -> int:
        """POST on the kept-alive connection; when the server has closed it meanwhile (its keep-alive
        timeout), open a new one and send again, as a browser does."""
        headers = {**headers, "Cookie": self.cookie, "X-CSRF-Token": self.csrf}
        for attempt in (1, 2):
            try:
                self.conn.request("POST", path, body=body, headers=headers)
                resp = self.conn.getresponse()
                resp.read()
                return resp.status
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def typing_load(
    port: int, users: list[str], texts: list[tuple[str, str]], how: str
) -> tuple[list[float], int]:
    """Each agent types its share of the texts; returns the latencies and the error count."""
    shares = [texts[i :: len(users)] for i in range(len(users))]
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def work(user: str, share: list[tuple[str, str]]) -> None:
        nonlocal errors
        agent = Agent(port, user)
        call = agent.panel if how == "panel" else agent.api
        for title, content in keystrokes(share):
            t0 = time.perf_counter()
            status = call(title, content)
            elapsed = time.perf_counter() - t0
            with lock:
                latencies.append(elapsed)
                errors += status != 200  # a redirect to the login page is no suggestion either
            time.sleep(max(0.0, DEBOUNCE - elapsed))

    with ThreadPoolExecutor(len(users)) as pool:
        list(pool.map(work, users, shares))
    return latencies, errors


def bench_app(home: Path, users: list[str], texts: list[tuple[str, str]], backend: str) -> None:
    """The same calls inside the Flask app, one at a time (no network, no other request waiting):
    what one suggestion costs the server, as wall and CPU time."""
    from node import db as node_db
    from node import settings as node_settings
    from node.app import create_app

    settings = node_settings.load(str(home / "node.toml"))
    database = node_db.bind(settings.database_url)
    try:
        client = create_app(settings).test_client()
        resp = client.post("/api/v1/auth/login", json={"username": users[0], "password": "bench-pass-1"})
        headers = {"X-CSRF-Token": resp.get_json()["csrf_token"], "HX-Request": "true"}
        for how, label in (("api", "REST /api/v1/text/suggest"), ("panel", "工作台建议面板")):
            wall, cpu = [], []
            for title, content in keystrokes(texts):
                t0, c0 = time.perf_counter(), time.process_time()
                if how == "api":
                    r = client.post(
                        "/api/v1/text/suggest", json={"title": title, "content": content}, headers=headers
                    )
                else:
                    r = client.post(
                        "/workstation/suggest", data={"title": title, "content": content}, headers=headers
                    )
                wall.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
                assert r.status_code == 200, r.get_data(as_text=True)[:300]
            print(
                f"{backend:10} {label:26} 应用内逐次调用：p50 {pct(wall, 0.5):.1f} ms，p95 {pct(wall, 0.95):.1f} ms"
                f"（CPU 时间 p95 {pct(cpu, 0.95):.1f} ms），n={len(wall)}；{verdict(pct(wall, 0.95))}"
            )
    finally:
        database.close()
        if hasattr(database, "close_all"):
            database.close_all()


def bench_node(backend: str, texts: list[tuple[str, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = pg.create_database("b_suggest") if backend == "postgresql" else f"sqlite:///{tmp}/node.db"
        try:
            node = make_node(Path(tmp), url, workers=2)
            cfg = ["-c", str(node.home)]
            users = [f"agent{i}" for i in range(AGENTS)]
            for user in users:
                hotline(*cfg, "create-user", user, "--role", "agent", "--password", "bench-pass-1")
            bench_app(node.home, users, texts, backend)
            with serving([PY, "-m", "node.cli", *cfg, "serve-web"], node.port):
                typing_load(node.port, users, texts[:4], "api")  # warm up both workers
                for how, label in (("api", "REST /api/v1/text/suggest"), ("panel", "工作台建议面板")):
                    lat, errors = typing_load(node.port, users, texts, how)
                    p95 = pct(lat, 0.95)
                    print(
                        f"{backend:10} {label:26} {AGENTS} 名坐席同时录入：p50 {pct(lat, 0.5):.1f} ms，"
                        f"p95 {p95:.1f} ms，n={len(lat)} 错误 {errors}；{verdict(p95)}；"
                        f"负载 {os.getloadavg()[0]:.1f}"
                    )
        finally:
            if backend == "postgresql":
                pg.drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = next(
        (p for p in (ROOT.parent / "shared", ROOT.parents[1] / "shared") if p.is_dir()), ROOT.parent
    )
    parser.add_argument("--data", default=str(shared / "data"))
    parser.add_argument("--texts", type=int, default=24)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    texts, source = load_texts(Path(args.data), args.texts)
    bench_in_process(texts, source, Path(args.data))
    for backend in args.backends.split(","):
        bench_node(backend, texts)


if __name__ == "__main__":
    main()
