"""`make bench`: runs every benchmark module (tests/bench/bench_*.py) in turn; each prints its figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> int:
    failed = []
    only = sys.argv[1:]
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem
        if only and name not in only:
            continue
        print(f"\n######## {name} ########", flush=True)
        done = subprocess.run([sys.executable, "-m", f"tests.bench.{name}"], cwd=HERE.parents[1], check=False)
        if done.returncode != 0:
            failed.append(name)
    if failed:
        print("失败的基准：" + "、".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
