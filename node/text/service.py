"""Text services on the node's data: duplicate hints and decisions, category suggestions and
choices, model training and versions, hot topics. Views, the CLI and jobs call these.

`install(settings)` wires the module into the work-order engine (search tokens, index updates);
the per-process duplicate index is loaded on first use and refreshed incrementally by `updated_at`.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterable
from typing import Any

import peewee as pw

from node import clock, db
from node.errors import NotFound, ValidationError
from node.text.classifier import ALGORITHM, Dataset, TextClassifier, evaluate, make_document, split
from node.text.duplicates import Candidate, DuplicateIndex, OrderDoc, Thresholds
from node.text.models import MODEL_KINDS, CategoryChoice, DuplicateDecision, TextModel
from node.text.rules import catalog_rules

CATEGORY_KINDS = ("business_type", "domain", "sub_business")
# Orders stay in the duplicate index this long after acceptance (longer than any window in use).
DEFAULT_HORIZON_DAYS = 90
MIN_TRAINING_SAMPLES = 50


# ---- wiring ------------------------------------------------------------------------------------


def install(settings: Any = None) -> None:
    """Hook the text module into the work-order engine and read `[text]` settings. Idempotent."""
    from node.text import segment
    from node.workflow import service as workflow

    if settings is not None:
        segment.configure_from_settings(settings)
        _cache.thresholds = Thresholds.from_settings(settings)
        _cache.reset()
    if segment.search_tokens not in workflow.SEARCH_TOKENS:
        workflow.SEARCH_TOKENS.insert(0, segment.search_tokens)
    if on_order_change not in workflow.ON_CHANGE:
        workflow.ON_CHANGE.append(on_order_change)


def on_order_change(order: Any, event: Any) -> None:
    """Work-order engine callback: the cache re-reads changed orders on its next use."""
    _cache.mark_dirty()


# ---- duplicate finder ---------------------------------------------------------------------------


def doc_from_order(order: Any) -> OrderDoc:
    """The duplicate finder's view of a WorkOrder (or any object with the same attributes)."""
    return OrderDoc(
        id=order.id,
        created_at=order.accepted_at or order.created_at,
        number=order.number or "",
        caller_hash=order.caller_phone_digest or "",
        company=order.respondent_name or "",
        plate=order.respondent_plate or "",
        route=order.respondent_route or "",
        vessel=order.respondent_vessel or "",
        address=order.address or "",
        region_code=order.region_code or "",
        domain=order.domain or "",
        sub_business=order.sub_business or "",
        text=f"{order.title or ''}\n{order.content or ''}",
        latitude=getattr(order, "latitude", None),
        longitude=getattr(order, "longitude", None),
    )


def doc_from_fields(body: dict[str, Any], now: dt.datetime | None = None) -> OrderDoc:
    """A not yet saved contact or order (the workstation form) as a query document."""
    from node import pii

    if not isinstance(body, dict):
        raise ValidationError("判重请求内容必须是对象")
    text = f"{body.get('title') or ''}\n{body.get('content') or ''}".strip()
    if not text:
        raise ValidationError("判重需要标题或内容")
    phone = str(body.get("caller_phone") or "").strip()
    caller_hash = str(body.get("caller_phone_digest") or "")
    if phone and not caller_hash and pii.valid_phone(phone):  # a half-typed number matches no one
        caller_hash = pii.codec().digest(phone)
    return OrderDoc(
        id=None,
        created_at=now or clock.now(),
        caller_hash=caller_hash,
        company=str(body.get("respondent_name") or ""),
        plate=str(body.get("respondent_plate") or ""),
        route=str(body.get("respondent_route") or ""),
        vessel=str(body.get("respondent_vessel") or ""),
        address=str(body.get("address") or ""),
        region_code=str(body.get("region_code") or ""),
        domain=str(body.get("domain") or ""),
        sub_business=str(body.get("sub_business") or ""),
        text=text,
        latitude=_coordinate(body, "latitude"),
        longitude=_coordinate(body, "longitude"),
    )


def _coordinate(body: dict[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValidationError("经纬度必须是数字")
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError("经纬度必须是数字") from exc


def _indexable(order: Any) -> bool:
    return getattr(order, "master_id", None) is None


class DuplicateCache:
    """The per-process index: loaded on first use, then refreshed by `updated_at` at most every
    `min_interval` seconds (at once after a change made by this process)."""

    def __init__(self, horizon_days: int = DEFAULT_HORIZON_DAYS, min_interval: float = 2.0):
        self.horizon_days = horizon_days
        self.min_interval = min_interval
        self.thresholds = Thresholds()
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.index: DuplicateIndex | None = None
        self.watermark: dt.datetime | None = None
        self.checked = 0.0
        self.pruned = time.monotonic()
        self.dirty = False

    def mark_dirty(self) -> None:
        self.dirty = True

    def get(self) -> DuplicateIndex:
        with self._lock:
            if self.index is None:
                self._load()
            elif self.dirty or time.monotonic() - self.checked >= self.min_interval:
                self._refresh()
            assert self.index is not None
            return self.index

    def _query(self) -> pw.ModelSelect:
        from node.workflow.models import WorkOrder

        return WorkOrder.select(
            WorkOrder.id,
            WorkOrder.number,
            WorkOrder.accepted_at,
            WorkOrder.created_at,
            WorkOrder.updated_at,
            WorkOrder.caller_phone_digest,
            WorkOrder.respondent_name,
            WorkOrder.respondent_plate,
            WorkOrder.respondent_route,
            WorkOrder.respondent_vessel,
            WorkOrder.address,
            WorkOrder.latitude,
            WorkOrder.longitude,
            WorkOrder.region_code,
            WorkOrder.domain,
            WorkOrder.sub_business,
            WorkOrder.title,
            WorkOrder.content,
            WorkOrder.master,
        )

    def _load(self) -> None:
        from node.workflow.models import WorkOrder

        since = clock.now() - dt.timedelta(days=self.horizon_days)
        index = DuplicateIndex(self.thresholds)
        watermark = None
        for order in self._query().where(WorkOrder.accepted_at >= since).iterator():
            if _indexable(order):
                index.add(doc_from_order(order))
            watermark = max(watermark or order.updated_at, order.updated_at)
        self.index, self.watermark = index, watermark
        self.checked, self.dirty = time.monotonic(), False

    def _refresh(self) -> None:
        from node.workflow.models import WorkOrder

        assert self.index is not None
        self.dirty = False
        self.checked = time.monotonic()
        since = clock.now() - dt.timedelta(days=self.horizon_days)
        query = self._query()
        if self.watermark is not None:
            # >= : rows written in the same instant as the watermark are re-read (add is idempotent)
            query = query.where(WorkOrder.updated_at >= self.watermark)
        for order in query.iterator():
            if _indexable(order) and order.accepted_at >= since:
                self.index.add(doc_from_order(order))
            else:
                self.index.remove(order.id)
            self.watermark = max(self.watermark or order.updated_at, order.updated_at)
        if time.monotonic() - self.pruned >= 3600:  # pruning compacts the index: hourly is enough
            self.index.prune(since)
            self.pruned = time.monotonic()


_cache = DuplicateCache()


def duplicate_index() -> DuplicateIndex:
    """This process's duplicate index (needs a bound database)."""
    return _cache.get()


def find_duplicates(
    actor: Any, target: Any, *, window_days: int | None = None, limit: int | None = None
) -> list[Candidate]:
    """判重: ranked candidates for an order (WorkOrder or its number) or a new contact (dict of fields)."""
    actor.require("order.view_all")
    if isinstance(target, dict):
        doc = doc_from_fields(target)
    else:
        doc = doc_from_order(_order(target) if isinstance(target, str) else target)
    return duplicate_index().candidates(doc, window_days=window_days, limit=limit)


def _order(number: str) -> Any:
    from node.workflow.models import WorkOrder

    order = WorkOrder.get_or_none(WorkOrder.number == number)
    if order is None:
        raise NotFound(f"工单不存在：{number}")
    return order


def record_duplicate_decision(
    actor: Any,
    order_number: str,
    candidate_number: str,
    is_duplicate: bool,
    candidate: Candidate | None = None,
    rank: int | None = None,
) -> DuplicateDecision:
    """Store the reviewer's verdict on one candidate (a later verdict replaces an earlier one)."""
    actor.require("order.merge")
    if not isinstance(is_duplicate, bool):
        raise ValidationError("判重结论必须为是或否")
    if not order_number or not candidate_number or order_number == candidate_number:
        raise ValidationError("判重结论需要两个不同的工单编号")
    _order(order_number)
    _order(candidate_number)
    values = {
        DuplicateDecision.is_duplicate: is_duplicate,
        DuplicateDecision.score: candidate.score if candidate else None,
        DuplicateDecision.text_similarity: candidate.text_similarity if candidate else None,
        DuplicateDecision.reasons: candidate.reasons if candidate else None,
        DuplicateDecision.rank: rank,
        DuplicateDecision.decided_by: actor.user_id,
        DuplicateDecision.decided_at: clock.now(),
    }
    with db.write_tx():
        DuplicateDecision.insert(
            {
                DuplicateDecision.order_number: order_number,
                DuplicateDecision.candidate_number: candidate_number,
                **values,
            }
        ).on_conflict(
            conflict_target=[DuplicateDecision.order_number, DuplicateDecision.candidate_number],
            update=values,
        ).execute()
    return DuplicateDecision.get(
        (DuplicateDecision.order_number == order_number)
        & (DuplicateDecision.candidate_number == candidate_number)
    )


def duplicate_precision(since: dt.datetime | None = None) -> dict[str, Any]:
    """Share of suggested candidates that reviewers confirmed, overall and for the top-ranked one."""
    query = DuplicateDecision.select()
    if since is not None:
        query = query.where(DuplicateDecision.decided_at >= since)
    rows = list(query)
    confirmed = sum(1 for r in rows if r.is_duplicate)
    top = [r for r in rows if r.rank == 1]
    return {
        "decisions": len(rows),
        "confirmed": confirmed,
        "precision": round(confirmed / len(rows), 4) if rows else None,
        "top1_decisions": len(top),
        "top1_precision": round(sum(1 for r in top if r.is_duplicate) / len(top), 4) if top else None,
    }


# ---- classifier models ---------------------------------------------------------------------------

_model_cache: dict[str, tuple[int, TextClassifier]] = {}


def save_model(
    kind: str,
    clf: TextClassifier,
    *,
    metrics: dict[str, Any] | None,
    source: str,
    samples: int,
    activate: bool = True,
) -> TextModel:
    """Store a trained model as the next version of `kind`; older versions are kept."""
    if kind not in MODEL_KINDS:
        raise ValidationError(f"未知的模型类型：{kind}")
    blob = clf.dumps()
    with db.write_tx():
        last = TextModel.select(pw.fn.MAX(TextModel.version)).where(TextModel.kind == kind).scalar() or 0
        if activate:
            TextModel.update(active=False).where(TextModel.kind == kind).execute()
        row = TextModel.create(
            kind=kind,
            version=last + 1,
            created_at=clock.now(),
            algorithm=ALGORITHM,
            source=source[:200],
            samples=samples,
            metrics=metrics,
            labels=clf.labels,
            blob=blob,
            active=activate,
        )
    return row


def activate_model(kind: str, version: int) -> TextModel:
    """Make an older (or newer) version the one in use."""
    with db.write_tx():
        row = TextModel.get_or_none((TextModel.kind == kind) & (TextModel.version == version))
        if row is None:
            raise NotFound(f"模型不存在：{kind} 第{version}版")
        TextModel.update(active=False).where(TextModel.kind == kind).execute()
        TextModel.update(active=True).where(TextModel.id == row.id).execute()
    _model_cache.pop(kind, None)
    return TextModel.get_by_id(row.id)


def list_models(kind: str | None = None) -> list[TextModel]:
    query = TextModel.select(
        TextModel.id,
        TextModel.kind,
        TextModel.version,
        TextModel.created_at,
        TextModel.algorithm,
        TextModel.source,
        TextModel.samples,
        TextModel.metrics,
        TextModel.active,
    )
    if kind:
        query = query.where(TextModel.kind == kind)
    return list(query.order_by(TextModel.kind, TextModel.version.desc()))


def _active_models(kinds: Iterable[str]) -> dict[str, tuple[int, TextClassifier]]:
    """The active model (version, classifier) of each of `kinds` that has one. One query reads
    the versions in use; a model is loaded from its blob only when this process has not cached
    that version of it (so an activation in another process is seen on the next call)."""
    rows: dict[str, Any] = {}
    query = TextModel.select(TextModel.id, TextModel.kind, TextModel.version).where(
        TextModel.kind.in_(list(kinds)) & TextModel.active
    )
    for row in query:
        if row.kind not in rows or row.version > rows[row.kind].version:
            rows[row.kind] = row
    out: dict[str, tuple[int, TextClassifier]] = {}
    for kind, row in rows.items():
        cached = _model_cache.get(kind)
        if cached is None or cached[0] != row.version:
            blob = TextModel.select(TextModel.blob).where(TextModel.id == row.id).scalar()
            cached = _model_cache[kind] = (row.version, TextClassifier.loads(bytes(blob)))
        out[kind] = cached
    return out


def active_model(kind: str) -> tuple[int, TextClassifier] | None:
    """The active model of `kind` (cached per process by version), or None."""
    return _active_models([kind]).get(kind)


def _names(kind: str) -> dict[str, str]:
    return {label.code: label.name for label in catalog_rules(kind).labels}


def suggest_categories(title: str, content: str, top: int = 3) -> dict[str, list[dict[str, Any]]]:
    """Suggested business type, domain and sub-business with confidences, best first. Uses the
    node's active model of each kind, or the catalog keyword rules while there is none."""
    if not isinstance(title, str) or not isinstance(content, str):
        raise ValidationError("标题和内容必须是文本")
    if not (title.strip() or content.strip()):
        raise ValidationError("需要标题或内容才能给出分类建议")
    if not 1 <= top <= 10:
        raise ValidationError("建议数量应在1至10之间")
    doc = make_document(title, content)
    models = _active_models(CATEGORY_KINDS)
    out: dict[str, list[dict[str, Any]]] = {}
    for kind in CATEGORY_KINDS:
        names = _names(kind)
        model = models.get(kind)
        if model is not None:
            version, clf = model
            out[kind] = [
                {
                    "code": code,
                    "name": names.get(code, code),
                    "confidence": conf,
                    "source": f"模型第{version}版",
                    "model_version": version,
                }
                for code, conf in clf.predict(doc, top=top)
            ]
        else:
            out[kind] = [
                {
                    "code": label.code,
                    "name": label.name,
                    "confidence": conf,
                    "source": "关键词规则",
                    "model_version": None,
                }
                for label, conf in catalog_rules(kind).predict(doc, top=top)
            ]
    return out


def record_category_choice(
    actor: Any, order_number: str, kind: str, chosen: str, suggestion: dict[str, Any] | None = None
) -> CategoryChoice:
    """Store the agent's final category next to what was suggested (for the suggestion hit rate)."""
    actor.require("order.edit")
    if kind not in CATEGORY_KINDS:
        raise ValidationError(f"未知的分类类型：{kind}")
    if chosen not in _names(kind):
        raise ValidationError(f"分类代码无效：{chosen}")
    _order(order_number)
    values = {
        CategoryChoice.suggested: str((suggestion or {}).get("code") or ""),
        CategoryChoice.confidence: (suggestion or {}).get("confidence"),
        CategoryChoice.model_version: (suggestion or {}).get("model_version"),
        CategoryChoice.chosen: chosen,
        CategoryChoice.decided_by: actor.user_id,
        CategoryChoice.decided_at: clock.now(),
    }
    with db.write_tx():
        CategoryChoice.insert(
            {CategoryChoice.order_number: order_number, CategoryChoice.kind: kind, **values}
        ).on_conflict(
            conflict_target=[CategoryChoice.order_number, CategoryChoice.kind], update=values
        ).execute()
    return CategoryChoice.get((CategoryChoice.order_number == order_number) & (CategoryChoice.kind == kind))


def suggestion_hit_rate(kind: str) -> dict[str, Any]:
    rows = list(
        CategoryChoice.select().where((CategoryChoice.kind == kind) & (CategoryChoice.suggested != ""))
    )
    hits = sum(1 for r in rows if r.suggested == r.chosen)
    return {
        "kind": kind,
        "choices": len(rows),
        "hits": hits,
        "hit_rate": round(hits / len(rows), 4) if rows else None,
    }


def training_data(kind: str, since: dt.datetime | None = None) -> Dataset:
    """Labelled documents from the node's closed orders (their final category is the label)."""
    from node.workflow import states
    from node.workflow.models import WorkOrder

    if kind not in CATEGORY_KINDS:
        raise ValidationError(f"未知的分类类型：{kind}")
    field = {
        "business_type": WorkOrder.business_type,
        "domain": WorkOrder.domain,
        "sub_business": WorkOrder.sub_business,
    }[kind]
    query = WorkOrder.select(WorkOrder.title, WorkOrder.content, field.alias("label")).where(
        WorkOrder.state.in_(states.states_in(states.CLOSED)) & (field != "")
    )
    if since is not None:
        query = query.where(WorkOrder.accepted_at >= since)
    seen: dict[str, str] = {}
    for row in query.dicts().iterator():
        seen.setdefault(make_document(row["title"], row["content"]), row["label"])
    return Dataset(list(seen), list(seen.values()))


def train_from_orders(
    kind: str, *, holdout: float = 0.2, since: dt.datetime | None = None
) -> TextModel | None:
    """Train `kind` from the node's archive and store it as a new version; None when the archive
    is too small (fewer than 50 orders or a single class) and the keyword rules stay in use."""
    data = training_data(kind, since)
    if len(data.docs) < MIN_TRAINING_SAMPLES or len(set(data.labels)) < 2:
        return None
    train, test = split(data, holdout)
    if len(set(train.labels)) < 2:
        return None
    clf = TextClassifier().fit(train.docs, train.labels)
    metrics: dict[str, Any] = {"train_samples": len(train.docs), "train_seconds": round(clf.train_seconds, 2)}
    if test.docs:
        metrics.update(evaluate(clf, test.docs, test.labels).to_dict())
        # the stored model learns from everything once measured
        clf = TextClassifier().fit(data.docs, data.labels)
    return save_model(kind, clf, metrics=metrics, source="本节点已办结工单", samples=len(data.docs))


def retrain_job(now: dt.datetime) -> dict[str, int | None]:
    """Scheduled retraining (e.g. weekly): a new version per kind that has enough history."""
    out: dict[str, int | None] = {}
    for kind in CATEGORY_KINDS:
        row = train_from_orders(kind)
        out[kind] = row.version if row else None
    return out
