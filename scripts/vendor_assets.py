#!/usr/bin/env python3
"""Copy the front-end files the node serves from node_modules (installed by `npm ci` from
package-lock.json) into node/static/vendor/, with their licences. Run by scripts/setup.sh.

The copies are not committed (node/static/vendor/ is ignored): the setup script makes them on
every machine, so the lock file is the one source of the versions served.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ROOT / "node_modules"
VENDOR = ROOT / "node" / "static" / "vendor"

# package -> files to copy (source inside the package -> name in vendor/)
FILES: dict[str, dict[str, str]] = {
    "htmx.org": {"dist/htmx.min.js": "htmx.min.js", "LICENSE": "htmx.LICENSE.txt"},
    "echarts": {"dist/echarts.min.js": "echarts.min.js", "LICENSE": "echarts.LICENSE.txt"},
    "quill": {
        "dist/quill.js": "quill.js",
        "dist/quill.snow.css": "quill.snow.css",
        "LICENSE": "quill.LICENSE.txt",
    },
}


def main() -> int:
    if not MODULES.is_dir():
        print("缺少 node_modules：先运行 npm ci", file=sys.stderr)
        return 1
    VENDOR.mkdir(parents=True, exist_ok=True)
    versions: dict[str, str] = {}
    for package, files in FILES.items():
        pkg_dir = MODULES / package
        meta = json.loads((pkg_dir / "package.json").read_text(encoding="utf-8"))
        versions[package] = meta["version"]
        for source, target in files.items():
            src = pkg_dir / source
            if not src.exists():
                print(f"{package} 中缺少文件：{source}", file=sys.stderr)
                return 1
            dst = VENDOR / target
            if not dst.exists() or dst.read_bytes() != src.read_bytes():
                shutil.copyfile(src, dst)
    manifest = VENDOR / "VERSIONS.json"
    text = json.dumps(versions, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    if not manifest.exists() or manifest.read_text(encoding="utf-8") != text:
        manifest.write_text(text, encoding="utf-8")
    print("前端资源已就绪：" + "，".join(f"{k} {v}" for k, v in sorted(versions.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
