"""The agent's desk under load (#17 item 13): 30 agents typing at the workstation of a real node
(gunicorn, SQLite), each call: the suggestion panel refreshed while typing, the duplicate panel,
then Ctrl+Enter (POST /workstation, as htmx sends it). Prints the submit p50/p95 (target ≤ 150 ms),
the very first submit after the node started (models are warmed at start) and the panels' p95.

Run: .venv/bin/python -m tests.bench.bench_desk [--agents 30] [--calls 4] [--think 0.8]
"""

from __future__ import annotations

import argparse
import random
import re
import tempfile
import threading
import time
from pathlib import Path

import requests

from tests.bench.harness import PY, LoadResult, make_node, serving

PASSWORD = "bench-pass-1"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
COMPLAINTS = [
    "在南京南站打出租车，司机拒载，车牌苏A8T123，态度恶劣，要求处理。",
    "65路公交车到站不停车，司机态度不好，要求公交公司处理。",
    "地铁2号线新街口站电梯停运一周没人修，老人上下很不方便。",
    "网约车司机绕路多收费，平台不处理，要求退还多收的车费。",
    "长途客车在服务区超载，车上站满了人，请求查处。",
]


def seed_agents(home: Path, count: int) -> list[str]:
    """Agent accounts written straight into the node's database before the server starts."""
    from node import db, pii
    from node import settings as node_settings
    from node.auth import service as auth

    settings = node_settings.load(home)
    node_settings.configure(settings)
    pii.configure(settings.data_key)
    database = db.bind(settings.database_url)
    names = []
    with db.connection():
        for i in range(count):
            name = f"desk{i:02d}"
            auth.create_user(username=name, display_name=f"坐席{i:02d}", password=PASSWORD, roles=["agent"])
            names.append(name)
    database.close()
    return names


class Agent:
    def __init__(self, url: str, username: str):
        self.url = url
        self.http = requests.Session()
        page = self.http.get(f"{url}/login", timeout=60).text
        token = CSRF_RE.search(page).group(1)  # type: ignore[union-attr]
        resp = self.http.post(
            f"{url}/login",
            data={"username": username, "password": PASSWORD, "csrf_token": token},
            allow_redirects=False,
            timeout=60,
        )
        assert resp.status_code == 302, resp.text[:300]
        self.csrf = CSRF_RE.search(self.http.get(f"{url}/workstation", timeout=60).text).group(1)  # type: ignore[union-attr]
        self.headers = {"HX-Request": "true", "X-CSRF-Token": self.csrf}

    def post(self, path: str, data: dict[str, str]) -> tuple[float, int]:
        t0 = time.perf_counter()
        resp = self.http.post(
            f"{self.url}{path}", data={**data, "csrf_token": self.csrf}, headers=self.headers, timeout=60
        )
        return time.perf_counter() - t0, resp.status_code


def submit_form(rng: random.Random, phone: str) -> dict[str, str]:
    return {
        "caller_phone": phone,
        "business_type": "1",
        "domain": "04",
        "sub_business": "0403",
        "region_code": "320102",
        "content": rng.choice(COMPLAINTS),
        "outcome": "order",
        "channel": "01",
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=30)
    ap.add_argument("--calls", type=int, default=4)
    ap.add_argument("--think", type=float, default=0.8, help="seconds between an agent's key steps")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    print(f"== 坐席工作台：{args.agents} 名话务员同时录入（gunicorn workers={args.workers}，SQLite） ==")
    with tempfile.TemporaryDirectory() as tmp:
        node = make_node(Path(tmp), "sqlite:///data/node.db", workers=args.workers)
        names = seed_agents(node.home, args.agents)
        with serving([PY, "-m", "node.cli", "-c", str(node.home), "serve-web"], node.port):
            first = Agent(node.url, names[0])
            took, status = first.post("/workstation", submit_form(random.Random(0), "13900000000"))
            print(
                f"{'first submit after start (models warmed at start)':52} {took * 1000:8.1f} ms  status={status}"
            )
            agents = [first] + [Agent(node.url, n) for n in names[1:]]
            submits: list[float] = []
            panels: list[float] = []
            errors = [0]
            lock = threading.Lock()

            def work(i: int, agent: Agent) -> None:
                rng = random.Random(i)
                time.sleep(rng.random() * args.think)  # agents do not start in step
                for call in range(args.calls):
                    form = submit_form(rng, f"139{i:04d}{call:04d}")
                    text = form["content"]
                    for cut in (len(text) // 3, 2 * len(text) // 3, len(text)):  # typing: the panel refreshes
                        took, status = agent.post("/workstation/suggest", {"content": text[:cut]})
                        with lock:
                            panels.append(took)
                            errors[0] += status >= 400
                        time.sleep(args.think * rng.uniform(0.5, 1.5))
                    took, status = agent.post("/workstation/duplicates", {**form})
                    with lock:
                        panels.append(took)
                    time.sleep(args.think * rng.uniform(0.5, 1.5))
                    took, status = agent.post("/workstation", form)
                    with lock:
                        submits.append(took)
                        errors[0] += status >= 400

            t0 = time.perf_counter()
            threads = [threading.Thread(target=work, args=(i, a)) for i, a in enumerate(agents)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            seconds = time.perf_counter() - t0
    sub = LoadResult(len(submits), seconds, submits, errors[0])
    pan = LoadResult(len(panels), seconds, panels, 0)
    print(sub.line(f"submit (Ctrl+Enter), {args.agents} agents"))
    print(pan.line("suggestion + duplicate panels while typing"))
    verdict = "达标" if sub.pct(0.95) <= 150 else "未达标"
    print(f"submit p95 {sub.pct(0.95):.1f} ms（目标 ≤ 150 ms：{verdict}）")


if __name__ == "__main__":
    main()
