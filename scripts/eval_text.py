#!/usr/bin/env python
"""Evaluate the text module on the shared real data (not part of the test run).

1. Classifier: train on the Teddy messages minus a held-out 20 % (split by text hash, identical
   texts kept once), report accuracy, macro-F1 and per-class figures on the held-out part.
2. Reply retrieval: MRR@10 of finding each message's own official reply among all replies.
3. Duplicates: Boston 311 cases the city closed as duplicates of a case in the file; the index is
   built in time order and each duplicate queries the cases opened before it (recall@k, precision@1).

Usage: .venv/bin/python scripts/eval_text.py [--data ../shared/data] [--only classifier,replies,duplicates]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from node.text import classifier as C  # noqa: E402
from node.text.duplicates import DuplicateIndex, OrderDoc, Thresholds  # noqa: E402
from node.text.retrieval import TfidfRetriever  # noqa: E402


def eval_classifier(data_dir: Path) -> None:
    path = data_dir / "teddy2020c_messages_dev.csv"
    data = C.read_csv(path, "detail", "label_l1", title_col="title")
    train, test = C.split(data, 0.2)
    clf = C.TextClassifier().fit(train.docs, train.labels)
    report = C.evaluate(clf, test.docs, test.labels)
    print("== 分类器（Teddy 留言，一级分类 7 类）==")
    print(
        f"不重复文本 {len(data.docs)} 条（重复 {data.dropped_duplicates}，标签冲突 {data.conflicting}）；"
        f"训练 {len(train.docs)} 条，用时 {clf.train_seconds:.1f} 秒；留出 {len(test.docs)} 条"
    )
    print(report.format())


def eval_replies(data_dir: Path) -> None:
    with (data_dir / "teddy2020c_replies_dev.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["reply"].strip() and (r["title"] + r["detail"]).strip()]
    started = time.perf_counter()
    retriever = TfidfRetriever([r["reply"] for r in rows])
    rr, hits1, hits10 = 0.0, 0, 0
    for i, row in enumerate(rows):
        ranked = [j for j, _ in retriever.search(f"{row['title']}\n{row['detail']}", k=10)]
        if i in ranked:
            rank = ranked.index(i) + 1
            rr += 1.0 / rank
            hits1 += rank == 1
            hits10 += 1
    n = len(rows)
    print("== 答复检索（Teddy 留言 → 本条官方答复）==")
    print(
        f"留言 {n} 条；MRR@10 = {rr / n:.4f}；命中@1 = {hits1 / n:.4f}；命中@10 = {hits10 / n:.4f}；"
        f"用时 {time.perf_counter() - started:.1f} 秒"
    )


def eval_duplicates(data_dir: Path, window_days: int = 90) -> None:
    with gzip.open(data_dir / "boston311_2015_requests.csv.gz", "rt", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    ids = {r["case_id"] for r in rows}
    # rank everything (min_score 0) so recall@k measures the ranking; precision@1 uses the default cut-off
    index = DuplicateIndex(Thresholds(min_score=0.0, text_floor=0.0, window_days=window_days))
    default = Thresholds()
    started = time.perf_counter()
    docs = []
    for n, r in enumerate(rows):
        doc = OrderDoc(
            id=n,
            created_at=dt.datetime.strptime(r["open_dt"], "%Y-%m-%d %H:%M:%S"),
            number=r["case_id"],
            address=r["location"],
            region_code=r["ward"],
            domain=r["department"],
            sub_business=r["type"],
            text=" ".join(dict.fromkeys([r["case_title"], r["type"], r["reason"]])),
        )
        index.add(doc)
        docs.append(doc)
    built = time.perf_counter() - started
    queries = hit1 = hit5 = hit10 = flagged = flagged_right = 0
    latencies: list[float] = []
    for doc, r in zip(docs, rows, strict=True):
        target = r["duplicate_of"]
        if r["closed_as_duplicate"] != "1" or target not in ids:
            continue
        t0 = time.perf_counter()
        found = index.candidates(doc, limit=10)
        latencies.append(time.perf_counter() - t0)
        numbers = [c.number for c in found]
        queries += 1
        hit1 += numbers[:1] == [target]
        hit5 += target in numbers[:5]
        hit10 += target in numbers
        above = [c for c in found if c.score >= default.min_score and c.text_similarity >= default.text_floor]
        if above:
            flagged += 1
            flagged_right += above[0].number == target
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))] * 1000 if latencies else 0.0
    print(f"== 判重（Boston 311：{len(rows)} 件全部入索引，时间窗 ±{window_days} 天）==")
    print(
        f"重复案件 {queries} 件（原案在数据中）；召回@1 = {hit1 / queries:.4f}；召回@5 = {hit5 / queries:.4f}；"
        f"召回@10 = {hit10 / queries:.4f}"
    )
    print(
        f"默认阈值下给出提示 {flagged} 件，首位即原案 {flagged_right} 件（精确率@1 = "
        f"{flagged_right / max(flagged, 1):.4f}）；建索引 {built:.0f} 秒；查询 p95 {p95:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--only", default="classifier,replies,duplicates")
    args = parser.parse_args()
    data_dir = Path(args.data)
    if not data_dir.is_dir():
        sys.exit(f"找不到数据目录：{data_dir}")
    parts = set(args.only.split(","))
    if "classifier" in parts:
        eval_classifier(data_dir)
    if "replies" in parts:
        eval_replies(data_dir)
    if "duplicates" in parts:
        eval_duplicates(data_dir)


if __name__ == "__main__":
    main()
