#!/usr/bin/env python
"""Benchmark of the text module (prints figures; never asserts timings).

Classifier: training time on 5 000 messages and single-message inference p50/p95 (Teddy messages
when ../shared/data is present, else synthetic orders). Duplicate finder: index build over
200 000 synthetic open orders (70 % with coordinates scattered within about 1 km of their place),
candidates p50/p95 over 1 000 queries, and resident memory.

Usage: .venv/bin/python tests/bench/bench_text.py [--orders 200000] [--queries 1000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from node.text import classifier as C  # noqa: E402
from node.text.duplicates import DuplicateIndex, OrderDoc  # noqa: E402

PLACES = [
    "南京南站",
    "新街口",
    "中山路",
    "汉中门",
    "鼓楼",
    "江宁万达",
    "禄口机场",
    "火车站",
    "夫子庙",
    "河西CBD",
    "仙林大学城",
    "迈皋桥",
    "龙江",
    "奥体中心",
    "雨花台",
    "浦口码头",
    "六合客运站",
    "高淳服务区",
]
ISSUES = [
    (
        "04",
        "0403",
        ["出租车司机拒载", "出租车绕路多收钱", "网约车司机态度恶劣", "的士不打表议价", "网约车平台乱扣费"],
    ),
    (
        "04",
        "0401",
        ["公交车晚点严重", "公交站台候车亭损坏", "公交司机开车玩手机", "公交车不停站", "公交线路突然调整"],
    ),
    ("04", "0402", ["地铁站电梯故障", "地铁早高峰太挤", "地铁安检排队太久"]),
    ("01", "0106", ["收费站ETC重复扣费", "高速通行费收费标准不合理", "收费站排队太长"]),
    ("01", "0107", ["路面坑洼积水", "路灯不亮", "护栏损坏没人修"]),
    ("03", "0306", ["驾校不退学费", "驾校教练索要红包", "学车迟迟约不上考试"]),
    ("03", "0301", ["长途客车超载", "客运站售票员态度差", "班车临时停运"]),
    ("02", "0201", ["轮渡码头候船时间长", "客船票价上涨"]),
]
TAILS = ["，要求处理", "，希望尽快解决", "，已经好几次了", "，请相关部门管一管", "，严重影响出行", ""]
TIMES = ["今天上午", "昨天晚上", "本周一", "刚才", "前天下午", ""]
PROVS = "苏浙沪皖"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# each place sits somewhere in a 30 km square around Nanjing
PLACE_XY = {
    p: (31.90 + 0.27 * (i * 7 % 18) / 18, 118.60 + 0.32 * (i * 11 % 18) / 18) for i, p in enumerate(PLACES)
}


def synthetic_order(rng: random.Random, i: int, start: dt.datetime) -> OrderDoc:
    domain, sub, issues = rng.choice(ISSUES)
    plate = f"{rng.choice(PROVS)}{rng.choice('ABCDE')}{rng.randint(10000, 99999)}" if sub == "0403" else ""
    place = rng.choice(PLACES)
    text = f"{rng.choice(TIMES)}在{place}{rng.choice(issues)}{rng.choice(TAILS)}"
    lat = lng = None
    if rng.random() < 0.7:
        lat = PLACE_XY[place][0] + rng.uniform(-0.01, 0.01)
        lng = PLACE_XY[place][1] + rng.uniform(-0.01, 0.01)
    if plate and rng.random() < 0.5:
        text += f"，车牌{plate}"
    return OrderDoc(
        id=i,
        number=f"320100{i:015d}",
        created_at=start + dt.timedelta(minutes=rng.randint(0, 60 * 24 * 60)),
        caller_hash=f"c{rng.randint(0, 150_000)}",
        plate=plate,
        region_code=f"3201{rng.randint(1, 16):02d}",
        domain=domain,
        sub_business=sub,
        text=text,
        latitude=lat,
        longitude=lng,
    )


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[int(q * (len(values) - 1))] * 1000


def bench_classifier(data_dir: Path, rng: random.Random) -> None:
    path = data_dir / "teddy2020c_messages_dev.csv"
    if path.exists():
        data = C.read_csv(path, "detail", "label_l1", title_col="title")
        source = "Teddy 留言"
    else:
        docs = [synthetic_order(rng, i, dt.datetime(2024, 1, 1)) for i in range(6000)]
        data = C.Dataset([C.make_document("", d.text) for d in docs], [d.sub_business for d in docs])
        source = "合成工单"
    docs, labels = data.docs[:5000], data.labels[:5000]
    clf = C.TextClassifier().fit(docs, labels)
    sample = data.docs[-1000:] if len(data.docs) > 5000 else docs[:1000]
    wall, cpu = [], []
    for doc in sample:
        w0, c0 = time.perf_counter(), time.thread_time()
        clf.predict(doc)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.thread_time() - c0)
    print(
        f"分类器（{source}）：训练 {len(docs)} 条用时 {clf.train_seconds:.1f} 秒；"
        f"单条推理 p50 {pct(wall, 0.5):.2f} ms，p95 {pct(wall, 0.95):.2f} ms（CPU 时间 p95 {pct(cpu, 0.95):.2f} ms），"
        f"{len(sample)} 条；模型 {len(clf.dumps()) / 1e6:.1f} MB"
    )


def bench_duplicates(n: int, queries: int, rng: random.Random) -> None:
    start = dt.datetime(2024, 1, 1)
    before = rss_mb()
    index = DuplicateIndex()
    t0 = time.perf_counter()
    docs = []
    for i in range(n):
        doc = synthetic_order(rng, i, start)
        index.add(doc)
        if i < 5000:
            docs.append(doc)
    built = time.perf_counter() - t0
    after = rss_mb()
    wall, cpu, counts = [], [], []
    for q in range(queries):
        if q % 2:
            base = rng.choice(docs)
            doc = OrderDoc(
                id=None,
                created_at=base.created_at + dt.timedelta(hours=3),
                caller_hash="new",
                region_code=base.region_code,
                domain=base.domain,
                sub_business=base.sub_business,
                text=base.text.replace("，", "。") + "，太不像话了",
                latitude=base.latitude,
                longitude=base.longitude,
            )
        else:
            doc = synthetic_order(rng, n + q, start)
            doc.id = None
        w0, c0 = time.perf_counter(), time.thread_time()
        found = index.candidates(doc)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.thread_time() - c0)
        counts.append(len(found))
    stats = index.stats()
    print(
        f"判重：{n} 件开放工单建索引 {built:.0f} 秒（{n / built:.0f} 件/秒），词项 {stats['terms']}，"
        f"倒排项 {stats['postings']}；索引内存约 {after - before:.0f} MB，进程常驻内存 {after:.0f} MB"
    )
    print(
        f"判重查询 {queries} 次：p50 {pct(wall, 0.5):.2f} ms，p95 {pct(wall, 0.95):.2f} ms"
        f"（CPU 时间 p95 {pct(cpu, 0.95):.2f} ms），平均候选 {sum(counts) / len(counts):.1f} 条"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--skip-classifier", action="store_true")
    args = parser.parse_args()
    rng = random.Random(12328)
    if not args.skip_classifier:
        bench_classifier(Path(args.data), rng)
    bench_duplicates(args.orders, args.queries, rng)


if __name__ == "__main__":
    main()
