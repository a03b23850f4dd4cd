"""Hot topics (热点分析): terms and clusters of similar orders that rise against preceding periods.

Burst test per term: the number of documents that use it in the current period against the
count expected from its share in the preceding periods, scaled to the current volume (so a busy
week does not make every word "hot"); z = (observed − expected) / sqrt(expected + 1), a Poisson
score with +1 smoothing. Rising terms seed clusters of similar current orders (greedy, TF-IDF
cosine to the cluster centroid); each cluster is compared with the similar orders of earlier periods.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from node.errors import ValidationError
from node.text.segment import STOPWORDS, terms

# Pseudo-documents in the baseline: a term never seen before is expected in 0.5 of 10 documents
# when there is no history at all, and its share fades to nothing as history grows.
PRIOR_DOCS = 10.0


@dataclass
class TopicDoc:
    id: int | None
    created_at: dt.datetime
    text: str = ""
    number: str = ""
    region_code: str = ""
    domain: str = ""
    tokens: Sequence[str] | None = None  # pre-segmented words (e.g. from search_text)


@dataclass
class RisingTerm:
    term: str
    count: int
    baseline: float
    expected: float
    growth: float | None
    z: float
    examples: list[str] = field(default_factory=list)


@dataclass
class TopicCluster:
    label: str
    terms: list[str]
    volume: int
    baseline: float
    growth: float | None
    examples: list[str] = field(default_factory=list)


@dataclass
class HotTopics:
    start: dt.datetime
    end: dt.datetime
    periods: int
    volume: int
    baseline_volume: float
    terms: list[RisingTerm]
    clusters: list[TopicCluster]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["start"] = self.start.isoformat(sep=" ")
        out["end"] = self.end.isoformat(sep=" ")
        return out


def _check_range(start: Any, end: Any) -> None:
    if not isinstance(start, dt.datetime) or not isinstance(end, dt.datetime) or end <= start:
        raise ValidationError("统计区间无效：结束时间必须晚于开始时间")


def _growth(current: float, base: float) -> float | None:
    return None if base <= 0 else round((current - base) / base, 4)


def _doc_terms(doc: TopicDoc) -> set[str]:
    if doc.tokens is not None:
        words = {w.lower() for w in doc.tokens if w and w.lower() not in STOPWORDS and not w.isdigit()}
        # search_text holds overlapping search tokens (高速, 公路, 高速公路): keep the longest
        return {w for w in words if len(w) > 1 and not any(w != o and w in o for o in words)}
    return {w for w in terms(doc.text) if len(w) > 1}


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    dot = sum(w * b.get(t, 0.0) for t, w in a.items())
    na = math.sqrt(sum(w * w for w in a.values()))
    nb = math.sqrt(sum(w * w for w in b.values()))
    return dot / (na * nb) if na and nb else 0.0


def hot_topics(
    docs: Iterable[TopicDoc],
    start: dt.datetime,
    end: dt.datetime,
    *,
    periods: int = 4,
    region: str | None = None,
    domain: str | None = None,
    top: int = 10,
    min_count: int = 3,
    z_min: float = 3.0,
    similarity: float = 0.3,
    examples: int = 3,
) -> HotTopics:
    """Rising terms and clusters in [start, end) against the `periods` equal periods before it."""
    _check_range(start, end)
    if not 1 <= periods <= 52:
        raise ValidationError("对比期数应在1至52之间")
    if not 1 <= top <= 100:
        raise ValidationError("热点数量应在1至100之间")
    if min_count < 1 or z_min <= 0 or not 0 < similarity < 1:
        raise ValidationError("热点阈值无效")
    length = end - start
    first = start - periods * length
    current: list[tuple[TopicDoc, set[str]]] = []
    previous: list[list[tuple[TopicDoc, set[str]]]] = [[] for _ in range(periods)]
    for doc in docs:
        if not first <= doc.created_at < end:
            continue
        if region and not doc.region_code.startswith(region):
            continue
        if domain and doc.domain != domain:
            continue
        item = (doc, _doc_terms(doc))
        if doc.created_at >= start:
            current.append(item)
        else:
            previous[int((doc.created_at - first) / length)].append(item)
    volume = len(current)
    prev_volume = sum(len(p) for p in previous)
    now_counts: Counter[str] = Counter(t for _, ts in current for t in ts)
    prev_counts: Counter[str] = Counter(t for p in previous for _, ts in p for t in ts)

    newest_first = sorted(current, key=lambda x: x[0].created_at)[::-1]
    rising: list[RisingTerm] = []
    for term, count in now_counts.items():
        if count < min_count:
            continue
        share = (prev_counts[term] + 0.5) / (prev_volume + PRIOR_DOCS)
        expected = share * volume
        z = (count - expected) / math.sqrt(expected + 1.0)
        if z < z_min:
            continue
        baseline = prev_counts[term] / periods
        ex = [d.number or str(d.id) for d, ts in newest_first if term in ts][:examples]
        rising.append(
            RisingTerm(
                term,
                count,
                round(baseline, 3),
                round(expected, 3),
                _growth(count, baseline),
                round(z, 3),
                ex,
            )
        )
    rising.sort(key=lambda r: (-r.z, -r.count, r.term))
    rising = rising[:top]

    clusters = _clusters(
        current, previous, [r.term for r in rising], now_counts, volume, similarity, min_count, examples
    )
    return HotTopics(start, end, periods, volume, round(prev_volume / periods, 3), rising, clusters[:top])


def _clusters(
    current: list[tuple[TopicDoc, set[str]]],
    previous: list[list[tuple[TopicDoc, set[str]]]],
    hot_terms: list[str],
    now_counts: Counter[str],
    volume: int,
    similarity: float,
    min_count: int,
    examples: int,
) -> list[TopicCluster]:
    if not hot_terms:
        return []
    hot = set(hot_terms)
    idf = {t: math.log((volume + 1) / (c + 1)) + 1.0 for t, c in now_counts.items()}

    def vec(ts: set[str]) -> dict[str, float]:
        return {t: idf.get(t, math.log(volume + 1) + 1.0) for t in ts}

    groups: list[dict[str, Any]] = []
    members = [(d, ts) for d, ts in current if ts & hot][-5000:]
    for doc, ts in members:
        v = vec(ts)
        best, best_sim = None, similarity
        for g in groups:
            s = _cosine(v, g["centroid"])
            if s >= best_sim:
                best, best_sim = g, s
        if best is None:
            groups.append({"centroid": dict(v), "docs": [doc], "terms": Counter(ts)})
        else:
            best["docs"].append(doc)
            best["terms"].update(ts)
            for t, w in v.items():
                best["centroid"][t] = best["centroid"].get(t, 0.0) + w
    out: list[TopicCluster] = []
    for g in groups:
        if len(g["docs"]) < min_count:
            continue
        size = len(g["docs"])
        top_terms = [
            t
            for t, c in sorted(g["terms"].items(), key=lambda kv: (-kv[1] * idf[kv[0]], kv[0]))
            if c * 2 >= size
        ][:5]
        label_terms = [t for t in top_terms if t in hot][:2] + [t for t in top_terms if t not in hot][:2]
        centroid = g["centroid"]
        earlier = sum(
            1
            for period in previous
            for _, ts in period
            if ts & hot and _cosine(vec(ts), centroid) >= similarity
        )
        baseline = earlier / len(previous)
        docs_sorted = sorted(g["docs"], key=lambda d: d.created_at, reverse=True)
        out.append(
            TopicCluster(
                "、".join(label_terms or top_terms[:3]),
                top_terms,
                size,
                round(baseline, 3),
                _growth(size, baseline),
                [d.number or str(d.id) for d in docs_sorted[:examples]],
            )
        )
    out.sort(key=lambda c: (-c.volume, c.label))
    return out


def hot_topics_for_orders(
    start: dt.datetime,
    end: dt.datetime,
    *,
    region: str | None = None,
    domain: str | None = None,
    periods: int = 4,
    **options: Any,
) -> HotTopics:
    """Hot topics over the node's work orders (by accepted time); needs a bound database."""
    from node.workflow.models import WorkOrder

    _check_range(start, end)
    if region is not None and not region.isdigit():
        raise ValidationError("区划代码前缀只能包含数字")
    first = start - periods * (end - start)
    query = WorkOrder.select(
        WorkOrder.id,
        WorkOrder.number,
        WorkOrder.accepted_at,
        WorkOrder.region_code,
        WorkOrder.domain,
        WorkOrder.title,
        WorkOrder.content,
        WorkOrder.search_text,
    ).where((WorkOrder.accepted_at >= first) & (WorkOrder.accepted_at < end))
    if region:
        query = query.where(WorkOrder.region_code.startswith(region))
    if domain:
        query = query.where(WorkOrder.domain == domain)
    docs = (
        TopicDoc(
            o.id,
            o.accepted_at,
            f"{o.title} {o.content}",
            o.number,
            o.region_code,
            o.domain,
            o.search_text.split() if o.search_text else None,
        )
        for o in query.iterator()
    )
    return hot_topics(docs, start, end, periods=periods, region=region, domain=domain, **options)
