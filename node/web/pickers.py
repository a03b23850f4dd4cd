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


# Lexicon terms at least this decisive name a category the way callers do (公交 → 公共汽电车,
# 网约车 → 出租汽车, 地铁 → 城市轨道交通); weaker ones are only hints for the categoriser.
SYNONYM_MIN_WEIGHT = 3.0
MAX_SYNONYMS = 40
_synonym_cache: dict[str, tuple[int, dict[str, list[tuple[str, str]]]]] = {}


def category_synonyms() -> dict[str, list[tuple[str, str]]]:
    """Domain / sub-business code → [(term, pinyin initials)] from the live categorisation lexicon
    (node/text, edited at /text/lexicon): one source of how callers talk, for the picker and the
    suggestions alike. Recomputed when the lexicon version moves."""
    from node.text import lexicon
    from node.text.models import LexiconEntry

    current = lexicon.version()
    key = str(db_key())
    with _lock:
        hit = _synonym_cache.get(key)
        if hit and hit[0] == current:
            return hit[1]
    rows = (
        LexiconEntry.select(LexiconEntry.term, LexiconEntry.target, LexiconEntry.weight)
        .where(LexiconEntry.enabled == True, LexiconEntry.weight >= SYNONYM_MIN_WEIGHT)  # noqa: E712
        .order_by(LexiconEntry.weight.desc(), LexiconEntry.term)
    )
    out: dict[str, list[tuple[str, str]]] = {}
    for row in rows:
        if len(row.target) not in (2, 4) or row.target == "00" or row.term.startswith("〈"):
            continue
        terms = out.setdefault(row.target, [])
        if len(terms) < MAX_SYNONYMS and all(t != row.term for t, _ in terms):
            terms.append((row.term, catalog.initials(row.term)))
    with _lock:
        _synonym_cache[key] = (current, out)
    return out


def db_key() -> object:
    from node import db

    return getattr(db.database.obj, "database", None)


def categories() -> list[dict[str, str]]:
    """One entry per domain and per sub-business: 城市客运 › 出租汽车 (code 0403, initials cskyczqc),
    with the lexicon's words for it (`syn`: 出租车 网约车 打车 …, `synpy`: their initials)."""
    synonyms = category_synonyms()
    subs = catalog.sub_businesses()
    out: list[dict[str, str]] = []
    for d in sorted(catalog.domains().values(), key=lambda d: d.code):
        d_py = catalog.initials(d.name)
        note = "" if d.in_scope else f"非本热线受理范围，可告知或转接 {d.referral_hotline}"
        out.append(
            {
                "domain": d.code,
                "sub": "",
                "label": d.name,
                "py": d_py,
                "code": d.code,
                "note": note,
                **_syn(synonyms.get(d.code, [])),
            }
        )
        for s in sorted((s for s in subs.values() if s.domain_id == d.code), key=lambda s: s.code):
            out.append(
                {
                    "domain": d.code,
                    "sub": s.code,
                    "label": f"{d.name} › {s.name}",
                    "py": f"{s.pinyin} {d_py}{s.pinyin}",
                    "code": s.code,
                    "note": note,
                    **_syn(synonyms.get(s.code, [])),
                }
            )
    return out


def _syn(terms: list[tuple[str, str]]) -> dict[str, str]:
    return {"syn": " ".join(t for t, _ in terms), "synpy": " ".join(p for _, p in terms)}


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
