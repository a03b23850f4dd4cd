"""Duplicate finder (工单判重): ranked candidates for a new contact or order, with reasons.

An in-memory index over recent orders: an inverted index of TF-IDF weighted terms (numpy arrays
that grow in place) for text cosine similarity, exact-key lists for the caller, the respondent
(company, plate, route, vessel) and the address, and a grid of latitude/longitude cells for
orders that carry coordinates. A query touches only the postings of its own terms, keys and
neighbouring cells, so it stays fast with 200 k open orders. Scores combine the signals with
weights that each node can set (`[text.duplicates]` in node.toml): text similarity, same caller,
same respondent, place (the nearer of an identical address and the distance between coordinates
when both orders have them), region and domain, sub-business, and closeness in time.

Coordinates shared by a large share of the indexed orders (a geocoder's default such as a city
centre used for "address unknown") say nothing about the place and are ignored, like very common
terms.

IDF values are taken when a document is added; removals leave stale postings that are skipped
and dropped by `compact()`, which also recounts document frequencies.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from array import array
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from node.errors import ValidationError
from node.text.normalize import normalize
from node.text.segment import plates, terms


@dataclass
class OrderDoc:
    """What the duplicate finder knows of an order (工单) or a new contact."""

    id: int | None
    created_at: dt.datetime
    number: str = ""
    caller_hash: str = ""
    company: str = ""
    plate: str = ""
    route: str = ""
    vessel: str = ""
    address: str = ""
    region_code: str = ""
    domain: str = ""
    sub_business: str = ""
    text: str = ""
    latitude: float | None = None
    longitude: float | None = None


def _point(doc: OrderDoc) -> tuple[float, float] | None:
    """(latitude, longitude) of `doc` rounded to 10⁻⁶° (about 0.1 m), or None when either is
    missing or both are 0; out-of-range or non-numeric values are rejected."""
    lat, lng = doc.latitude, doc.longitude
    if lat is None or lng is None:
        return None
    try:
        lat, lng = float(lat), float(lng)
    except (TypeError, ValueError) as exc:
        raise ValidationError("工单经纬度必须是数字") from exc
    if not (math.isfinite(lat) and math.isfinite(lng)) or not (
        -90.0 <= lat <= 90.0 and -180.0 <= lng <= 180.0
    ):
        raise ValidationError("工单经纬度超出范围")
    if lat == 0.0 and lng == 0.0:  # the usual "not geocoded" value
        return None
    return round(lat, 6), round(lng, 6)


EARTH_RADIUS_M = 6_371_000.0
_M_PER_DEG = math.pi * EARTH_RADIUS_M / 180.0


def distance_m(lat1: Any, lng1: Any, lat2: Any, lng2: Any) -> Any:
    """Distance in metres (equirectangular approximation: exact enough below a few kilometres);
    works on floats and on numpy arrays."""
    x = np.radians(np.asarray(lng2) - lng1) * np.cos(np.radians((np.asarray(lat2) + lat1) / 2.0))
    y = np.radians(np.asarray(lat2) - lat1)
    return EARTH_RADIUS_M * np.hypot(x, y)


def _distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    """`distance_m` for two points without numpy's per-call overhead."""
    x = math.radians(b[1] - a[1]) * math.cos(math.radians((a[0] + b[0]) / 2.0))
    return EARTH_RADIUS_M * math.hypot(x, math.radians(b[0] - a[0]))


@dataclass
class Thresholds:
    """Per-node weights and cut-offs (判重阈值)."""

    window_days: int = 30
    limit: int = 10
    min_score: float = 0.45
    text_floor: float = 0.10
    w_text: float = 0.60
    w_caller: float = 0.20
    w_respondent: float = 0.25
    w_address: float = 0.15
    w_region_domain: float = 0.10
    w_sub_business: float = 0.05
    # place: both orders have coordinates → w_geo × (1 − distance / geo_radius_m); the larger of
    # that and w_address (identical address text) counts
    w_geo: float = 0.15
    geo_radius_m: float = 200.0
    # time: the score is multiplied by 1 − w_time × (1 − 2^(−gap / time_half_life_hours))
    w_time: float = 0.10
    time_half_life_hours: float = 168.0
    # terms in more than this share of documents are ignored (they carry almost no weight)
    max_df_ratio: float = 0.5
    # an exact coordinate shared by more than this share of the documents (and by more than 50)
    # is a placeholder, not a place
    max_point_share: float = 0.01

    def __post_init__(self) -> None:
        if self.window_days < 1 or self.window_days > 3660:
            raise ValidationError("判重时间窗口应在1至3660天之间")
        if self.limit < 1 or self.limit > 200:
            raise ValidationError("判重候选数量应在1至200之间")
        if not 1.0 <= float(self.geo_radius_m) <= 100_000.0:
            raise ValidationError("判重距离半径应在1至100000米之间")
        if not 0.1 <= float(self.time_half_life_hours) <= 87_600.0:
            raise ValidationError("判重时间半衰期应在0.1至87600小时之间")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.startswith(("w_", "min_", "text_", "max_")) and not 0.0 <= float(value) <= 1.0:
                raise ValidationError(f"判重参数 {f.name} 应在0至1之间")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Thresholds:
        known = {f.name: f.type for f in fields(cls)}
        unknown = set(raw) - set(known)
        if unknown:
            raise ValidationError(f"未知的判重参数：{', '.join(sorted(unknown))}")
        try:
            values = {k: (int(v) if k in ("window_days", "limit") else float(v)) for k, v in raw.items()}
        except (TypeError, ValueError) as exc:
            raise ValidationError("判重参数必须是数字") from exc
        return cls(**values)  # type: ignore[arg-type]

    @classmethod
    def from_settings(cls, settings: Any) -> Thresholds:
        raw = settings.section("text").get("duplicates", {})
        if not isinstance(raw, dict):
            raise ValidationError("配置项 [text.duplicates] 应为表")
        return cls.from_dict(raw)


@dataclass
class Candidate:
    """A possible duplicate with its score and the reasons shown to the agent."""

    id: int | None
    number: str
    score: float
    text_similarity: float
    created_at: dt.datetime
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["created_at"] = self.created_at.isoformat(sep=" ", timespec="seconds")
        return out


@dataclass(slots=True)
class _Entry:
    id: int | None
    number: str
    created_at: dt.datetime
    caller: str
    keys: tuple[str, ...]
    region_code: str
    domain: str
    sub_business: str
    point: tuple[float, float] | None = None


def _norm_key(value: str) -> str:
    return normalize(value).replace(" ", "").upper() if value else ""


def _keys(doc: OrderDoc) -> tuple[str, ...]:
    keys: list[str] = []
    if doc.caller_hash:
        keys.append("caller:" + doc.caller_hash)
    for plate in dict.fromkeys([_norm_key(doc.plate), *plates(doc.text)]):
        if plate:
            keys.append("plate:" + plate)
    for kind, value in (
        ("company", doc.company),
        ("route", doc.route),
        ("vessel", doc.vessel),
        ("address", doc.address),
    ):
        if key := _norm_key(value):
            keys.append(f"{kind}:{key}")
    return tuple(keys)


_KEY_REASON = {
    "caller": "同一来电人",
    "plate": "同一车牌：{}",
    "company": "同一被反映对象：{}",
    "route": "同一线路：{}",
    "vessel": "同一船舶：{}",
    "address": "同一地点",
}


def _gap(delta: dt.timedelta) -> str:
    seconds = abs(delta.total_seconds())
    if seconds < 3600:
        return f"相隔{max(1, int(seconds // 60))}分钟"
    if seconds < 86400:
        return f"相隔{int(seconds // 3600)}小时"
    return f"相隔{int(seconds // 86400)}天"


class DuplicateIndex:
    """Thread-safe in-memory duplicate index. `add/update/remove(doc)`, `candidates(doc)`."""

    def __init__(self, thresholds: Thresholds | None = None):
        self.thresholds = thresholds or Thresholds()
        self._lock = threading.RLock()
        self._reset()

    def _reset(self) -> None:
        self._vocab: dict[str, int] = {}
        self._df: array[int] = array("i")
        self._post_slot: list[array[int]] = []
        self._post_w: list[array[float]] = []
        self._entries: list[_Entry | None] = []
        self._time: array[float] = array("d")
        self._alive = bytearray()
        self._slot_of: dict[Any, int] = {}
        self._keys: dict[str, list[int]] = {}
        self._n_alive = 0
        # coordinates per slot (NaN when unknown), grid cells → slots, alive documents per point
        self._lat: array[float] = array("d")
        self._lng: array[float] = array("d")
        self._cells: dict[tuple[int, int], array[int]] = {}
        self._points: Counter[tuple[float, float]] = Counter()
        self._crowded: set[tuple[float, float]] = set()  # points with more than 50 documents
        self._cell_deg = self.thresholds.geo_radius_m / _M_PER_DEG

    # ---- maintenance -------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._n_alive

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._slot_of

    def _vector(self, text: str, *, grow: bool) -> tuple[list[int], list[float]]:
        counts = Counter(terms(text)) if text else Counter()
        ids: list[int] = []
        raw: list[float] = []
        n = max(self._n_alive, 1)
        for term, tf in counts.items():
            tid = self._vocab.get(term)
            if tid is None and grow:
                tid = self._vocab[term] = len(self._df)
                self._df.append(0)
                self._post_slot.append(array("i"))
                self._post_w.append(array("f"))
            df = 0 if tid is None else self._df[tid]
            ids.append(-1 if tid is None else tid)  # -1, an unseen term: counts in the norm, matches nothing
            raw.append((1.0 + math.log(tf)) * (math.log((n + 1) / (df + 1)) + 1.0))
        norm = math.sqrt(sum(w * w for w in raw)) or 1.0
        return ids, [w / norm for w in raw]

    def add(self, doc: OrderDoc) -> None:
        """Add or replace `doc` (by id)."""
        if doc.id is None:
            raise ValidationError("加入判重索引的工单必须有编号")
        if not isinstance(doc.created_at, dt.datetime):
            raise ValidationError("工单受理时间无效")
        point = _point(doc)
        with self._lock:
            self._remove(doc.id)
            ids, weights = self._vector(doc.text, grow=True)
            slot = len(self._entries)
            for tid, w in zip(ids, weights, strict=True):
                self._df[tid] += 1
                self._post_slot[tid].append(slot)
                self._post_w[tid].append(w)
            keys = _keys(doc)
            for key in keys:
                self._keys.setdefault(key, []).append(slot)
            self._entries.append(
                _Entry(
                    doc.id,
                    doc.number,
                    doc.created_at,
                    doc.caller_hash,
                    keys,
                    doc.region_code,
                    doc.domain,
                    doc.sub_business,
                    point,
                )
            )
            self._time.append(doc.created_at.timestamp())
            self._alive.append(1)
            if point is None:
                self._lat.append(math.nan)
                self._lng.append(math.nan)
            else:
                self._lat.append(point[0])
                self._lng.append(point[1])
                self._points[point] += 1
                if self._points[point] > 50:
                    self._crowded.add(point)
                self._cells.setdefault(self._cell(*point), array("i")).append(slot)
            self._slot_of[doc.id] = slot
            self._n_alive += 1

    update = add

    def remove(self, doc: OrderDoc | int) -> bool:
        """Drop a document (or an id); True when it was indexed."""
        doc_id = doc.id if isinstance(doc, OrderDoc) else doc
        with self._lock:
            removed = self._remove(doc_id)
            if len(self._entries) > 1000 and len(self._entries) > 2 * self._n_alive:
                self.compact()
            return removed

    def _remove(self, doc_id: Any) -> bool:
        slot = self._slot_of.pop(doc_id, None)
        if slot is None:
            return False
        self._alive[slot] = 0
        entry = self._entries[slot]
        if entry is not None and entry.point is not None:
            self._points[entry.point] -= 1
            if self._points[entry.point] <= 50:
                self._crowded.discard(entry.point)
            if self._points[entry.point] <= 0:
                del self._points[entry.point]
        self._entries[slot] = None
        self._n_alive -= 1
        return True

    def prune(self, before: dt.datetime) -> int:
        """Remove documents created before `before` (they left every window); returns the count."""
        with self._lock:
            old = [e.id for e in self._entries if e is not None and e.created_at < before]
            for doc_id in old:
                self._remove(doc_id)
            if old:
                self.compact()
            return len(old)

    def compact(self) -> None:
        """Drop dead slots from every posting and recount document frequencies."""
        with self._lock:
            alive = np.frombuffer(self._alive, dtype=np.uint8).astype(bool)
            remap = np.cumsum(alive, dtype=np.int64) - 1
            for tid in range(len(self._post_slot)):
                slots = np.frombuffer(self._post_slot[tid], dtype=np.int32)
                keep = alive[slots] if slots.size else slots.astype(bool)
                new_slots = remap[slots[keep]].astype(np.int32)
                new_w = np.frombuffer(self._post_w[tid], dtype=np.float32)[keep]
                del slots
                self._post_slot[tid] = array("i", new_slots.tobytes())
                self._post_w[tid] = array("f", new_w.tobytes())
                self._df[tid] = int(new_slots.size)
            self._entries = [e for e in self._entries if e is not None]
            times = np.frombuffer(self._time, dtype=np.float64)[alive]
            self._time = array("d", times.tobytes())
            self._lat = array("d", np.frombuffer(self._lat, dtype=np.float64)[alive].tobytes())
            self._lng = array("d", np.frombuffer(self._lng, dtype=np.float64)[alive].tobytes())
            for cell, cell_slots in list(self._cells.items()):
                old = np.frombuffer(cell_slots, dtype=np.int32)
                kept_slots = remap[old[alive[old]]].astype(np.int32)
                if kept_slots.size:
                    self._cells[cell] = array("i", kept_slots.tobytes())
                else:
                    del self._cells[cell]
            self._alive = bytearray(b"\x01" * len(self._entries))
            self._slot_of = {e.id: i for i, e in enumerate(self._entries)}
            for key, slots_list in list(self._keys.items()):
                kept = [int(remap[s]) for s in slots_list if alive[s]]
                if kept:
                    self._keys[key] = kept
                else:
                    del self._keys[key]

    # ---- places ------------------------------------------------------------------------------
    def _cell(self, lat: float, lng: float) -> tuple[int, int]:
        return math.floor(lat / self._cell_deg), math.floor(lng / self._cell_deg)

    def _placeholder(self, point: tuple[float, float]) -> bool:
        """A coordinate so many orders share that it cannot be a real place (see module doc)."""
        count = self._points.get(point, 0)
        return count > 50 and count > self.thresholds.max_point_share * self._n_alive

    def _nearby(self, point: tuple[float, float], ok: Any, center: float, cap: int = 50) -> tuple[Any, Any]:
        """Slots within `geo_radius_m` of `point` that pass the mask `ok`, nearest first (at most
        `cap`; among equally near ones, those nearest in time to `center`), and their distances
        in metres."""
        radius = self.thresholds.geo_radius_m
        lat, lng = point
        ci, cj = self._cell(lat, lng)
        # cells were sized for the radius in force when the index was made; scan as many as needed
        rows = math.ceil(radius / _M_PER_DEG / self._cell_deg)
        cols = min(math.ceil(rows / max(math.cos(math.radians(lat)), 0.02)), 50)
        parts = [
            np.frombuffer(self._cells[key], dtype=np.int32)
            for i in range(ci - rows, ci + rows + 1)
            for j in range(cj - cols, cj + cols + 1)
            if (key := (i, j)) in self._cells
        ]
        if not parts:
            return np.empty(0, dtype=np.int64), np.empty(0)
        slots = np.concatenate(parts).astype(np.int64)
        slots = slots[ok[slots]]
        lats = np.frombuffer(self._lat, dtype=np.float64)[slots]
        lngs = np.frombuffer(self._lng, dtype=np.float64)[slots]
        dist = distance_m(lat, lng, lats, lngs)
        near = dist <= radius
        # orders sitting on a placeholder coordinate are not "near" anything
        for p in self._crowded:
            if self._placeholder(p) and abs(p[0] - lat) * _M_PER_DEG <= radius * 2:
                near &= ~((lats == p[0]) & (lngs == p[1]))
        slots, dist = slots[near], dist[near]
        gap = np.abs(np.frombuffer(self._time, dtype=np.float64)[slots] - center)
        order = np.lexsort((gap, np.round(dist)))[:cap]
        return slots[order], dist[order]

    # ---- queries -----------------------------------------------------------------------------
    def candidates(
        self, doc: OrderDoc, window_days: int | None = None, limit: int | None = None
    ) -> list[Candidate]:
        """Ranked possible duplicates of `doc` within ±window_days, best first."""
        th = self.thresholds
        window = th.window_days if window_days is None else window_days
        top = th.limit if limit is None else limit
        if not isinstance(window, int) or not 1 <= window <= 3660:
            raise ValidationError("判重时间窗口应在1至3660天之间")
        if not isinstance(top, int) or not 1 <= top <= 200:
            raise ValidationError("判重候选数量应在1至200之间")
        if not isinstance(doc.created_at, dt.datetime):
            raise ValidationError("工单受理时间无效")
        with self._lock:
            n_slots = len(self._entries)
            if n_slots == 0:
                return []
            ids, weights = self._vector(doc.text, grow=False)
            max_df = max(th.max_df_ratio * self._n_alive, 50)
            slot_parts, w_parts = [], []
            for tid, w in zip(ids, weights, strict=True):
                if tid < 0 or self._df[tid] > max_df:
                    continue
                slot_parts.append(np.frombuffer(self._post_slot[tid], dtype=np.int32))
                w_parts.append(np.frombuffer(self._post_w[tid], dtype=np.float32) * np.float32(w))
            if slot_parts:
                text_scores = np.bincount(
                    np.concatenate(slot_parts), weights=np.concatenate(w_parts), minlength=n_slots
                )
            else:
                text_scores = np.zeros(n_slots)
            del slot_parts, w_parts
            times = np.frombuffer(self._time, dtype=np.float64)
            center = doc.created_at.timestamp()
            ok = (np.abs(times - center) <= window * 86400.0) & np.frombuffer(self._alive, dtype=bool)
            own = self._slot_of.get(doc.id) if doc.id is not None else None
            if own is not None:
                ok[own] = False
            masked = np.where(ok & (text_scores >= th.text_floor), text_scores, 0.0)
            shortlist = max(top * 5, 50)
            if np.count_nonzero(masked) > shortlist:
                chosen = np.argpartition(-masked, shortlist)[:shortlist]
            else:
                chosen = np.flatnonzero(masked)
            pool = {int(s) for s in chosen if masked[s] > 0}
            doc_keys = _keys(doc)
            for key in doc_keys:
                for s in self._keys.get(key, [])[-200:]:
                    if ok[s]:
                        pool.add(s)
            point = _point(doc)
            if point is not None and (th.w_geo <= 0 or self._placeholder(point)):
                point = None
            if point is not None:
                pool.update(self._nearby(point, ok, center)[0].tolist())
            results = [self._score(doc, doc_keys, point, s, float(text_scores[s])) for s in pool]
        found = [c for c in results if c is not None]
        found.sort(key=lambda c: (-c.score, -c.text_similarity, abs(c.created_at - doc.created_at)))
        return found[:top]

    def _score(
        self,
        doc: OrderDoc,
        doc_keys: tuple[str, ...],
        point: tuple[float, float] | None,
        slot: int,
        sim: float,
    ) -> Candidate | None:
        th = self.thresholds
        entry = self._entries[slot]
        if entry is None:
            return None
        sim = min(sim, 1.0)
        shared = set(doc_keys).intersection(entry.keys)
        same_caller = any(k.startswith("caller:") for k in shared)
        respondent = sorted(
            k for k in shared if k.split(":", 1)[0] in ("plate", "company", "route", "vessel")
        )
        # the same caller about the same respondent needs no shared wording; anything else does
        if sim < th.text_floor and not (same_caller and respondent):
            return None
        score = th.w_text * sim
        reasons: list[str] = []
        if same_caller:
            score += th.w_caller
            reasons.append(_KEY_REASON["caller"])
        if respondent:
            score += th.w_respondent
            for key in respondent:
                kind, value = key.split(":", 1)
                reasons.append(_KEY_REASON[kind].format(value))
        place = 0.0
        if any(k.startswith("address:") for k in shared):
            place = th.w_address
            reasons.append(_KEY_REASON["address"])
        if point is not None and entry.point is not None and not self._placeholder(entry.point):
            metres = _distance(point, entry.point)
            if metres <= th.geo_radius_m:
                place = max(place, th.w_geo * (1.0 - metres / th.geo_radius_m))
                reasons.append(f"相距约{metres:.0f}米")
        score += place
        if (
            doc.region_code
            and doc.region_code == entry.region_code
            and doc.domain
            and doc.domain == entry.domain
        ):
            score += th.w_region_domain
            reasons.append("同一区域同一领域")
        if doc.sub_business and doc.sub_business == entry.sub_business:
            score += th.w_sub_business
            reasons.append("同一子业务")
        reasons.append(f"文本相似度{sim:.2f}")
        gap = doc.created_at - entry.created_at
        reasons.append(_gap(gap))
        # older reports count for less: at most w_time of the score is lost to time
        hours = abs(gap.total_seconds()) / 3600.0
        score *= 1.0 - th.w_time * (1.0 - 0.5 ** (hours / th.time_half_life_hours))
        score = min(score, 1.0)
        if score < th.min_score:
            return None
        return Candidate(entry.id, entry.number, round(score, 4), round(sim, 4), entry.created_at, reasons)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "documents": self._n_alive,
                "slots": len(self._entries),
                "terms": len(self._vocab),
                "postings": sum(len(p) for p in self._post_slot),
                "keys": len(self._keys),
                "geo_cells": len(self._cells),
            }
