"""Cross-check the Boston 311 import: the engine's 限时办结率 over the imported orders against a
count made directly from the file (overall, per month of closure, per source channel).

    .venv/bin/python scripts/check_boston_import.py -c NODE_DIR --file boston311_2015_requests.csv.gz

Exit code 1 when any figure differs.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MAPPING = ROOT / "node/analytics/mappings/boston311.toml"


def from_file(
    path: str,
) -> tuple[Counter[tuple[str, str]], Counter[tuple[str, str]], tuple[int, int, int, int]]:
    from node.analytics.importer import load_mapping

    channels = load_mapping(MAPPING).values["channel"]
    due: Counter[tuple[str, str]] = Counter()
    on_time: Counter[tuple[str, str]] = Counter()
    flagged = flagged_on_time = 0
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            if not (r["closed_dt"] and r["target_dt"]):
                continue
            channel = channels.get(r["source"], channels["*"])
            month = r["closed_dt"][:7]
            good = dt.datetime.fromisoformat(r["closed_dt"]) <= dt.datetime.fromisoformat(r["target_dt"])
            for key in (("all", ""), ("month", month), ("channel", channel)):
                due[key] += 1
                on_time[key] += good
            if r["ontime_status"]:
                flagged += 1
                flagged_on_time += r["ontime_status"] == "ONTIME"
    return due, on_time, (flagged, flagged_on_time, due["all", ""], on_time["all", ""])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-c", "--config", required=True, help="节点目录")
    ap.add_argument("--file", required=True)
    args = ap.parse_args()
    from node import db, pii
    from node import settings as node_settings
    from node.analytics import compute, parse_period

    s = node_settings.load(args.config)
    node_settings.configure(s)
    pii.configure(s.data_key)
    db.bind(s.database_url)
    due, on_time, (flagged, flagged_ok, total, total_ok) = from_file(args.file)
    print(
        f"文件：带 ONTIME/OVERDUE 标记的已办结 {flagged:,} 件，按时 {flagged_ok:,}（{flagged_ok / flagged:.2%}）"
    )
    print(f"文件：有目标日期的已办结 {total:,} 件，按时 {total_ok:,}（{total_ok / total:.2%}）")
    period = parse_period("2015-01-01~2016-12-31")
    bad = 0
    with db.connection():
        whole = compute(["on_time_rate"], period)[0]["values"]["on_time_rate"]
        print(f"引擎：限时办结率 {whole['numerator']:,}/{whole['denominator']:,} = {whole['value']:.2%}")
        bad += (whole["numerator"], whole["denominator"]) != (total_ok, total)
        for dim, key in (("month", "month"), ("channel", "channel")):
            rows = compute(["on_time_rate"], period, [dim])
            got = {
                r["group"][dim]: (
                    r["values"]["on_time_rate"]["numerator"],
                    r["values"]["on_time_rate"]["denominator"],
                )
                for r in rows
            }
            want = {k: (on_time[key, k], due[key, k]) for (kind, k) in due if kind == key}
            got = {k: v for k, v in got.items() if v[1]}
            same = got == want
            bad += not same
            print(f"按{'月份' if dim == 'month' else '渠道'}：{len(want)} 组，{'一致' if same else '不一致'}")
            if not same:
                for k in sorted(set(got) | set(want)):
                    if got.get(k) != want.get(k):
                        print(f"  {k}: 引擎 {got.get(k)} 文件 {want.get(k)}")
    print("核对通过" if not bad else "核对不通过")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
