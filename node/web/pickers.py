"""Data for the type-ahead pickers (业务分类, 行政区划, 承办单位): names, codes and pinyin initials."""

from __future__ import annotations

import threading
import time
from typing import Any

from node.catalog import service as catalog
from node.catalog.models import Region
from node.settings import current as current_settings

_CACHE_SECONDS = 300.0
_regions_cache: dict[str, tuple[float, list[dict[str, str]]]] = {}
_lock = threading.Lock()


def categories() -> list[dict[str, str]]:
    """One entry per domain and per sub-business: 城市客运 › 出租汽车 (code 0403, initials cskyczqc)."""
    subs = catalog.sub_businesses()
    out: list[dict[str, str]] = []
    for d in sorted(catalog.domains().values(), key=lambda d: d.code):
        d_py = catalog.initials(d.name)
        note = "" if d.in_scope else f"非本热线受理范围，可告知或转接 {d.referral_hotline}"
        out.append({"domain": d.code, "sub": "", "label": d.name, "py": d_py, "code": d.code, "note": note})
        for s in sorted((s for s in subs.values() if s.domain_id == d.code), key=lambda s: s.code):
            out.append(
                {
                    "domain": d.code,
                    "sub": s.code,
                    "label": f"{d.name} › {s.name}",
                    "py": f"{s.pinyin} {d_py}{s.pinyin}",
                    "code": s.code,
                    "note": note,
                }
            )
    return out


def node_regions() -> list[dict[str, str]]:
    """Regions under this node (its own code first), with pinyin initials, cached per node."""
    region = current_settings().region
    with _lock:
        hit = _regions_cache.get(region)
        if hit and time.monotonic() - hit[0] < _CACHE_SECONDS:
            return hit[1]
    prefix = region.rstrip("0")
    if len(prefix) % 2:
        prefix += "0"
    query = Region.select().where(Region.retired == False)  # noqa: E712
    if prefix:
        query = query.where(Region.code.startswith(prefix))
    rows = list(query.order_by(Region.code))
    names = {r.code: r.name for r in rows}
    out = []
    for r in rows:
        parent = names.get(r.parent_code, "")
        label = f"{parent} {r.name}" if parent and r.level == 3 else r.name
        out.append({"code": r.code, "label": label, "py": catalog.initials(r.name)})
    with _lock:
        _regions_cache[region] = (time.monotonic(), out)
    return out


def units() -> list[dict[str, Any]]:
    return [
        {"code": u.code, "label": u.name, "py": catalog.initials(u.name)}
        for u in catalog.units(active_only=True)
    ]
