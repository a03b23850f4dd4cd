#!/usr/bin/env python
"""Knowledge base at 20,000 published articles: latency of one workstation suggestion (target p95
≤ 50 ms) and of one full-text search with filters, in process over a migrated node database
(SQLite; PostgreSQL too with --backends sqlite,postgresql).

Articles: the Teddy official replies (title = the citizen's message title) when ../shared/data is
there, repeated with a serial to reach the count; else synthetic transport answers. Queries: the
citizen messages' first 30 / 60 / 120 characters, as an agent types them. The suggestion index is
built once per process (its build time is printed) and then updated incrementally: the first
suggestion after publishing or revising one article is timed too, and a full refit of the weights.

Run: .venv/bin/python -m tests.bench.bench_knowledge [--articles 20000] [--queries 200]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from node import db as node_db  # noqa: E402
from node import pii  # noqa: E402
from node import settings as node_settings  # noqa: E402
from node.auth.service import SYSTEM  # noqa: E402
from node.catalog import service as catalog  # noqa: E402
from node.knowledge import search, service, suggest  # noqa: E402
from node.knowledge.models import Article  # noqa: E402
from node.migrate import upgrade  # noqa: E402
from tests import pg  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "teddy2020c_replies_dev.csv"


def corpus() -> tuple[list[tuple[str, str]], list[str]]:
    if DATA.exists():
        with DATA.open(encoding="utf-8-sig", newline="") as fh:
            rows = [r for r in csv.DictReader(fh) if r["reply"].strip()]
        return [(r["title"], r["reply"]) for r in rows], [r["title"] + "，" + r["detail"] for r in rows]
    rng = random.Random(7)
    words = [
        "出租车",
        "网约车",
        "公交",
        "地铁",
        "拒载",
        "绕路",
        "票价",
        "投诉",
        "客运站",
        "驾驶员",
        "服务态度",
        "退票",
    ]
    docs = [
        ("、".join(rng.sample(words, 3)), "".join(rng.sample(words, 8)) + "请拨打12328。") for _ in range(500)
    ]
    return docs, [d[0] + d[1] for d in docs]


def load(n: int, docs: list[tuple[str, str]]) -> None:
    now = dt.datetime(2026, 12, 1, 9)
    rows = []
    for i in range(n):
        title, body = docs[i % len(docs)]
        title = f"{title}（{i // len(docs) + 1}）" if i >= len(docs) else title
        rows.append(
            {
                "state": "published",
                "created_at": now,
                "updated_at": now,
                "title": title[:200],
                "answer": body,
                "domain": "04",
                "search_text": search.document_tokens(title, "", body),
            }
        )
    with node_db.write_tx():
        for start in range(0, len(rows), 500):
            Article.insert_many(rows[start : start + 500]).execute()


def publish_and_suggest(
    docs: list[tuple[str, str]], queries: list[str], times: int = 20
) -> tuple[list[float], list[float]]:
    """Wall time of the first suggestion after one article is published (every other time) or
    revised: the request notices the change and updates the index incrementally."""
    latest = Article.select(Article.updated_at).order_by(Article.updated_at.desc()).scalar()
    took, cpu = [], []
    for i in range(times):
        title, body = docs[(i * 37) % len(docs)]
        when = latest + dt.timedelta(seconds=i + 1)
        if i % 2 == 0:
            Article.create(
                state="published",
                created_at=when,
                updated_at=when,
                title=f"新发布：{title}"[:200],
                answer=body,
            )
        else:
            Article.update(title=f"修订：{title}"[:200], updated_at=when).where(Article.id == i + 1).execute()
        t0, c0 = time.perf_counter(), time.process_time()
        suggest.suggest(SYSTEM, queries[i % len(queries)][:60], limit=5)
        took.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return took, cpu


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def run(backend: str, n: int, queries: list[str], docs: list[tuple[str, str]]) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    url = f"sqlite:///{tmp / 'node.db'}" if backend == "sqlite" else pg.create_database("b_kb")
    settings = node_settings.for_tests(tmp, url)
    node_settings.configure(settings)
    pii.configure(settings.data_key)
    database = node_db.bind(url)
    try:
        with node_db.connection():
            upgrade(database)
            catalog.seed()
            started = time.perf_counter()
            load(n, docs)
            print(f"[{backend}] 载入 {n} 篇已发布文章：{time.perf_counter() - started:.1f} 秒")
            started = time.perf_counter()
            suggest.reset()  # the previous backend's index belongs to another database
            suggest.index()
            print(
                f"[{backend}] 推荐索引构建：{time.perf_counter() - started:.1f} 秒（发布集合变化后首次请求时重建）"
            )
            typed = [q[:k] for q in queries for k in (30, 60, 120) if len(q) >= k]
            sug, srch, cpu = [], [], []
            for text in typed:
                t0, c0 = time.perf_counter(), time.process_time()
                suggest.suggest(SYSTEM, text, limit=5)
                sug.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
            for text in queries:
                words = " ".join(search.parse(text[:20], groups=[]).words[:2]) or text[:4]
                t0 = time.perf_counter()
                service.search_articles(SYSTEM, words, domain="04", page=1, size=20)
                srch.append((time.perf_counter() - t0) * 1000)
            print(
                f"[{backend}] 坐席知识推荐 {len(sug)} 次：p50 {pct(sug, 50):.1f} ms，p95 {pct(sug, 95):.1f} ms，"
                f"最大 {max(sug):.1f} ms（CPU p95 {pct(cpu, 95):.1f} ms；目标 p95 ≤ 50 ms）"
            )
            print(
                f"[{backend}] 全文检索（两词 + 领域筛选）{len(srch)} 次：p50 {pct(srch, 50):.1f} ms，"
                f"p95 {pct(srch, 95):.1f} ms，均值 {statistics.mean(srch):.1f} ms"
            )
            changed, changed_cpu = publish_and_suggest(docs, queries)
            print(
                f"[{backend}] 发布/修订一篇后的首次推荐（增量更新索引）{len(changed)} 次：p50 {pct(changed, 50):.1f} ms，"
                f"p95 {pct(changed, 95):.1f} ms（CPU p95 {pct(changed_cpu, 95):.1f} ms）"
            )
            idx = suggest.index()
            started = time.perf_counter()
            if idx.retriever is not None:
                idx.retriever.index.refit()
            print(f"[{backend}] 重算全部权重（refit，不重新分词）：{time.perf_counter() - started:.1f} 秒")
    finally:
        database.close()
        if hasattr(database, "close_all"):
            database.close_all()
        if backend == "postgresql":
            pg.drop_database(url)


def main() -> None:
    print(f"负载（1 分钟平均）：{os.getloadavg()[0]:.1f}")
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--backends", default="sqlite")
    args = parser.parse_args()
    docs, queries = corpus()
    queries = random.Random(1).sample(queries, min(args.queries, len(queries)))
    for backend in args.backends.split(","):
        run(backend, args.articles, queries, docs)


if __name__ == "__main__":
    main()
