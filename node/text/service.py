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
from dataclasses import dataclass
from typing import Any

import peewee as pw

from node import clock, db
from node.errors import NotFound, ValidationError
from node.text import lexicon
from node.text.classifier import (
    ALGORITHM,
    Dataset,
    Report,
    TextClassifier,
    evaluate,
    evaluate_predictions,
    make_document,
    split,
)
from node.text.duplicates import Candidate, DuplicateIndex, OrderDoc, Thresholds
from node.text.models import MODEL_KINDS, CategoryChoice, DuplicateDecision, LexiconChange, TextModel
from node.text.rules import Ranked, Suggestion, taxonomy

CATEGORY_KINDS = ("business_type", "domain", "sub_business")
# What the node learns: the business type and the category leaf (the domain follows from the leaf).
LEARNED_KINDS = ("business_type", "sub_business")
# Orders stay in the duplicate index this long after acceptance (longer than any window in use).
DEFAULT_HORIZON_DAYS = 90
MIN_TRAINING_SAMPLES = 50
# A candidate model is compared with the live categoriser on this many held-out orders at least;
# fewer say too little to replace what agents already see.
MIN_HOLDOUT_SAMPLES = 20
# The held-out orders are chosen by a hash of each text with this salt: the same ones every time.
HOLDOUT_SALT = "retrain"
# Orders of these final states carry categories that went through handling and review; rejected
# and split orders do not (their categories may never have been checked).
UNCONFIRMED_CLOSED = ("rejected", "split")


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


WARM_SAMPLE = ("出租车拒载", "昨天在南京南站打出租车，司机拒载，车牌苏A12345，要求处理。")


def warm() -> dict[str, float]:
    """Load everything the first suggestion, duplicate check and order would otherwise load lazily
    (jieba's dictionary, the lexicon categoriser, active models, the duplicate index), so the
    first agent's first submit is as fast as the rest. Needs a bound database; returns seconds
    per part (for the log)."""
    from node.text import segment

    took: dict[str, float] = {}
    start = time.perf_counter()
    segment.search_tokens(WARM_SAMPLE[1])
    took["segment"] = time.perf_counter() - start
    with db.connection():
        start = time.perf_counter()
        suggest(*WARM_SAMPLE)
        took["suggest"] = time.perf_counter() - start
        start = time.perf_counter()
        duplicate_index().candidates(doc_from_fields({"title": WARM_SAMPLE[0], "content": WARM_SAMPLE[1]}))
        took["duplicates"] = time.perf_counter() - start
    return took


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


# ---- category suggestions -----------------------------------------------------------------------

_model_cache: dict[str, tuple[int, TextClassifier]] = {}
RULES_SOURCE = "关键词规则"


def _rules_source(version: int) -> str:
    return f"{RULES_SOURCE}（词表第{version}版）"


def leaf_of(domain: str | None, sub_business: str | None) -> str:
    """The category leaf of an order: its sub-business, or its domain when it has none."""
    return sub_business or domain or ""


def _names(kind: str) -> dict[str, str]:
    tax = taxonomy()
    if kind == "business_type":
        return dict(tax.types)
    domains = {c: n for c, n in tax.domains.items() if c in catalog_domains()}
    if kind == "domain":
        return domains
    if kind == "sub_business":
        return {code: tax.leaf_name(code) for code in [*domains, *tax.subs]}
    raise ValidationError(f"未知的分类类型：{kind}")


def catalog_domains() -> set[str]:
    """Domain codes an order can carry (the catalog's; not the categoriser's `00`)."""
    from node.catalog import data

    return {code for code, *_ in data.DOMAINS}


def _item(c: Ranked, source: str, model_version: int | None, with_domain: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "code": c.code,
        "name": c.name,
        "confidence": c.confidence,
        "words": c.words,
        "source": source,
        "model_version": model_version,
    }
    if with_domain:
        item["label"] = c.label or c.name
        item["domain"] = c.domain
        item["sub"] = c.code if len(c.code) == 4 else ""
    return item


def _model_candidates(clf: TextClassifier, doc: str, kind: str, top: int) -> list[Ranked]:
    tax = taxonomy()
    probs = clf.predict_proba([doc])[0]
    order = probs.argsort()[::-1][:top]
    out = []
    for i in order:
        code = clf.labels[i]
        conf = round(float(probs[i]), 4)
        if kind == "business_type":
            out.append(Ranked(code, tax.types.get(code, code), conf))
        else:
            out.append(Ranked(code, tax.leaf_name(code), conf, domain=code[:2], label=tax.leaf_label(code)))
    if out:
        out[0].words = clf.explain(doc, out[0].code)
    return out


def _model_domains(clf: TextClassifier, doc: str, leaves: list[Ranked], top: int) -> list[Ranked]:
    """Domain confidences of a leaf model: the sum over each domain's leaves."""
    tax = taxonomy()
    probs = clf.predict_proba([doc])[0]
    by_domain: dict[str, float] = {}
    for code, p in zip(clf.labels, probs, strict=True):
        by_domain[code[:2]] = by_domain.get(code[:2], 0.0) + float(p)
    ranked = sorted(by_domain.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    words = leaves[0].words if leaves else []
    return [
        Ranked(
            d,
            tax.domains.get(d, d),
            round(p, 4),
            words if leaves and d == leaves[0].domain else [],
            domain=d,
            label=tax.domains.get(d, d),
        )
        for d, p in ranked
    ]


EVIDENCE_FIELDS = ("respondent_name", "respondent_plate", "respondent_route", "respondent_vessel", "address")


def evidence_text(fields: dict[str, Any] | None) -> str:
    """The order's other fields as text the categoriser reads after the content: the company,
    plate, line (a bare number is a bus line: 65 → 65路), vessel and place all point somewhere."""
    parts = []
    for name in EVIDENCE_FIELDS:
        value = str((fields or {}).get(name) or "").strip()[:200]
        if not value:
            continue
        if name == "respondent_route" and value.isdigit():
            value += "路"
        elif name == "respondent_vessel":
            value = "船舶" + value
        parts.append(value)
    return "；".join(parts)


def suggest(
    title: str, content: str, top: int = 3, fields: dict[str, Any] | None = None
) -> tuple[Suggestion, dict[str, tuple[str, int | None]]]:
    """The live categoriser's suggestion and, per kind, where it came from (source, model version):
    the node's active model of a learned kind, else the keyword rules of its lexicon. `fields` are
    the draft's respondent, plate, line, vessel and place (`EVIDENCE_FIELDS`)."""
    if not isinstance(title, str) or not isinstance(content, str):
        raise ValidationError("标题和内容必须是文本")
    if not (title.strip() or content.strip()):
        raise ValidationError("需要标题或内容才能给出分类建议")
    if not 1 <= top <= 10:
        raise ValidationError("建议数量应在1至10之间")
    extra = evidence_text(fields)
    if extra:
        content = f"{content}\n{extra}"
    lexicon_version, active = _live_state(LEARNED_KINDS)
    rules = lexicon.categoriser(lexicon_version)
    result = rules.suggest(title, content, top=top)
    rules_source = (_rules_source(rules.version), None)
    sources = {"business_type": rules_source, "sub_business": rules_source}
    models = _load_models(active)
    if models:
        doc = make_document(title, content)
        if "business_type" in models:
            version, clf = models["business_type"]
            result.business_type = _model_candidates(clf, doc, "business_type", top)
            sources["business_type"] = (f"模型第{version}版", version)
        if "sub_business" in models:
            version, clf = models["sub_business"]
            result.sub_business = _model_candidates(clf, doc, "sub_business", top)
            result.domain = _model_domains(clf, doc, result.sub_business, top)
            sources["sub_business"] = (f"模型第{version}版", version)
    return result, sources


def suggest_categories(
    title: str, content: str, top: int = 3, fields: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Suggested business type, domain and category leaf, best first, each with its confidence and
    deciding words (the API's and the workstation's view of `suggest`)."""
    result, sources = suggest(title, content, top, fields)
    type_source, type_version = sources["business_type"]
    leaf_source, leaf_version = sources["sub_business"]
    return {
        "business_type": [_item(c, type_source, type_version, False) for c in result.business_type],
        "domain": [_item(c, leaf_source, leaf_version, True) for c in result.domain],
        "sub_business": [_item(c, leaf_source, leaf_version, True) for c in result.sub_business],
    }


# ---- agents' choices ------------------------------------------------------------------------------


def record_category_choice(
    actor: Any, order_number: str, kind: str, chosen: str, suggestion: dict[str, Any] | None = None
) -> CategoryChoice:
    """Store the agent's final category next to what was suggested (for the suggestion hit rate;
    an order with a recorded choice counts as confirmed for training)."""
    actor.require("order.edit")
    if kind not in CATEGORY_KINDS:
        raise ValidationError(f"未知的分类类型：{kind}")
    if chosen not in _names(kind):
        raise ValidationError(f"分类代码无效：{chosen}")
    _order(order_number)
    suggested = str((suggestion or {}).get("code") or "")
    if suggested and suggested not in _names(kind) and suggested != "00":
        raise ValidationError(f"建议的分类代码无效：{suggested}")
    values = {
        CategoryChoice.suggested: suggested,
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


def record_intake_choices(actor: Any, order: Any, shown: dict[str, dict[str, Any]]) -> None:
    """At intake: the agent confirmed the order's categories; store them with what the suggestion
    panel showed (`shown[kind]` = code, confidence, model version; empty when nothing was shown)."""
    chosen = {
        "business_type": order.business_type or "",
        "domain": order.domain or "",
        "sub_business": leaf_of(order.domain, order.sub_business),
    }
    for kind, code in chosen.items():
        if code:
            record_category_choice(actor, order.number, kind, code, shown.get(kind) or None)


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


# ---- learning on the node -------------------------------------------------------------------------


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


def activate_model(actor: Any, kind: str, version: int | None) -> TextModel | None:
    """Make a stored version the live one (an older one to roll back), or, with None, go back to
    the keyword rules. Every worker sees the change on its next suggestion."""
    actor.require(lexicon.PERMISSION)
    if kind not in MODEL_KINDS:
        raise ValidationError(f"未知的模型类型：{kind}")
    with db.write_tx():
        row = None
        if version is not None:
            row = TextModel.get_or_none((TextModel.kind == kind) & (TextModel.version == version))
            if row is None:
                raise NotFound(f"模型不存在：{kind} 第{version}版")
        TextModel.update(active=False).where(TextModel.kind == kind).execute()
        if row is not None:
            TextModel.update(active=True).where(TextModel.id == row.id).execute()
    _model_cache.pop(kind, None)
    return TextModel.get_by_id(row.id) if row is not None else None


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


def model_status(actor: Any) -> list[dict[str, Any]]:
    """Per learned kind: what is live (a model version or the keyword rules) and every stored
    version with its held-out figures and the live categoriser's figures on the same orders."""
    if not (actor.can(lexicon.PERMISSION) or actor.can("stats.view")):
        actor.require(lexicon.PERMISSION)
    rules_version = lexicon.version()
    out = []
    for kind in LEARNED_KINDS:
        rows = list_models(kind)
        live = next((r for r in rows if r.active), None)
        out.append(
            {
                "kind": kind,
                "live": {"source": "model", "version": live.version, "name": f"模型第{live.version}版"}
                if live
                else {"source": "rules", "version": rules_version, "name": _rules_source(rules_version)},
                "hit_rate": suggestion_hit_rate(kind),
                "models": [
                    {
                        "version": r.version,
                        "active": r.active,
                        "created_at": r.created_at.isoformat(sep=" ", timespec="seconds"),
                        "samples": r.samples,
                        "source": r.source,
                        "metrics": r.metrics,
                    }
                    for r in rows
                ],
            }
        )
    return out


def _live_state(kinds: Iterable[str]) -> tuple[int, dict[str, tuple[int, int]]]:
    """What is live, in one round trip (every suggestion asks, in every worker): the lexicon
    version and, per kind, the (id, version) of its active model. Plain SQL: building the two
    queries with the ORM cost more than running them."""
    kinds = list(kinds)
    marks = ", ".join(db.database.param for _ in kinds)
    sql = (
        f"SELECT '', MAX(id), 0 FROM {LexiconChange._meta.table_name} UNION ALL "
        f"SELECT kind, version, id FROM {TextModel._meta.table_name} WHERE active = {db.database.param}"
        f" AND kind IN ({marks})"
    )
    lexicon_version = 0
    active: dict[str, tuple[int, int]] = {}
    for kind, version, row_id in db.database.execute_sql(sql, [True, *kinds]).fetchall():
        if kind == "":
            lexicon_version = int(version or 0)
        elif kind not in active or version > active[kind][1]:
            active[kind] = (int(row_id), int(version))
    return lexicon_version, active


def _load_models(active: dict[str, tuple[int, int]]) -> dict[str, tuple[int, TextClassifier]]:
    """The classifiers of the active (id, version) rows; a model is loaded from its blob only when
    this process has not cached that version of it (so another process's activation is seen)."""
    out: dict[str, tuple[int, TextClassifier]] = {}
    for kind, (row_id, version) in active.items():
        cached = _model_cache.get(kind)
        if cached is None or cached[0] != version:
            blob = TextModel.select(TextModel.blob).where(TextModel.id == row_id).scalar()
            cached = _model_cache[kind] = (version, TextClassifier.loads(bytes(blob)))
        out[kind] = cached
    return out


def _active_models(kinds: Iterable[str]) -> dict[str, tuple[int, TextClassifier]]:
    """The active model (version, classifier) of each of `kinds` that has one."""
    return _load_models(_live_state(kinds)[1])


def active_model(kind: str) -> tuple[int, TextClassifier] | None:
    """The active model of `kind` (cached per process by version), or None."""
    return _active_models([kind]).get(kind)


def training_data(kind: str, since: dt.datetime | None = None) -> Dataset:
    """Labelled documents from orders whose categories are confirmed: chosen by an agent at intake
    (a recorded choice) or carried through handling to the end (closed states other than rejected
    and split). The label is the order's current business type or category leaf."""
    from node.workflow import states
    from node.workflow.models import WorkOrder

    if kind not in LEARNED_KINDS:
        raise ValidationError(f"只能训练业务类型（business_type）或业务分类（sub_business）模型：{kind}")
    done = [s for s in states.states_in(states.CLOSED) if s not in UNCONFIRMED_CLOSED]
    chosen = CategoryChoice.select(CategoryChoice.order_number).where(CategoryChoice.kind == kind)
    query = WorkOrder.select(
        WorkOrder.title, WorkOrder.content, WorkOrder.business_type, WorkOrder.domain, WorkOrder.sub_business
    ).where(WorkOrder.state.in_(done) | WorkOrder.number.in_(chosen))
    if since is not None:
        query = query.where(WorkOrder.accepted_at >= since)
    seen: dict[str, str] = {}
    for row in query.order_by(WorkOrder.id).dicts().iterator():
        label = (
            row["business_type"] if kind == "business_type" else leaf_of(row["domain"], row["sub_business"])
        )
        if label:
            seen.setdefault(make_document(row["title"], row["content"]), label)
    if kind == "sub_business" and since is None:  # editors' confirmed article categories (知识库)
        from node.knowledge.service import training_samples

        for doc, label in training_samples():
            seen.setdefault(doc, label)
    return Dataset(list(seen), list(seen.values()))


@dataclass
class TrainOutcome:
    """What a retraining did: the stored version (if any), whether it went live, and why."""

    kind: str
    row: TextModel | None
    activated: bool
    reason: str
    candidate: Report | None = None
    live: Report | None = None
    live_name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "version": self.row.version if self.row else None,
            "activated": self.activated,
            "reason": self.reason,
            "candidate": self.candidate.to_dict() if self.candidate else None,
            "live": self.live.to_dict() if self.live else None,
            "live_name": self.live_name,
        }


def _live_predictions(kind: str, docs: list[str]) -> tuple[list[str], str]:
    """What the live categoriser (active model, else the keyword rules) says for each document."""
    model = active_model(kind)
    if model is not None:
        return model[1].predict_labels(docs), f"模型第{model[0]}版"
    rules = lexicon.categoriser()
    out = []
    for doc in docs:
        title, _, content = doc.partition("\n")
        result = rules.suggest(title, content, top=1)
        ranked = result.business_type if kind == "business_type" else result.sub_business
        out.append(ranked[0].code if ranked else "")
    return out, _rules_source(rules.version)


def train_from_orders(kind: str, *, holdout: float = 0.2, since: dt.datetime | None = None) -> TrainOutcome:
    """Train `kind` on the node's confirmed orders minus a held-out share and store it as a new
    version; it goes live only when it is more accurate on the held-out orders than the live
    categoriser. The held-out share is chosen by a hash of each text, so the same orders are held
    out at every retraining and no stored model has seen them."""
    if kind not in LEARNED_KINDS:
        raise ValidationError(f"只能训练业务类型（business_type）或业务分类（sub_business）模型：{kind}")
    if not 0.05 <= holdout <= 0.5:
        raise ValidationError("留出比例应在0.05至0.5之间")
    data = training_data(kind, since)
    if len(data.docs) < MIN_TRAINING_SAMPLES or len(set(data.labels)) < 2:
        return TrainOutcome(
            kind, None, False, f"已确认分类的工单不足{MIN_TRAINING_SAMPLES}条或只有一个类别，继续使用现有归类"
        )
    train, test = split(data, holdout, salt=HOLDOUT_SALT)
    if len(test.docs) < MIN_HOLDOUT_SAMPLES or len(set(train.labels)) < 2:
        return TrainOutcome(
            kind, None, False, f"留出的工单不足{MIN_HOLDOUT_SAMPLES}条，无法与现用归类比较，暂不训练"
        )
    clf = TextClassifier().fit(train.docs, train.labels)
    candidate = evaluate(clf, test.docs, test.labels)
    predicted, live_name = _live_predictions(kind, test.docs)
    live = evaluate_predictions(test.labels, predicted)
    activated = candidate.accuracy > live.accuracy
    reason = (
        f"留出{len(test.docs)}条工单上准确率 {candidate.accuracy:.4f}，高于现用的{live_name}（{live.accuracy:.4f}），已启用"
        if activated
        else f"留出{len(test.docs)}条工单上准确率 {candidate.accuracy:.4f}，未超过现用的{live_name}（{live.accuracy:.4f}），已保存但未启用"
    )
    metrics: dict[str, Any] = {
        **candidate.to_dict(),
        "train_samples": len(train.docs),
        "train_seconds": round(clf.train_seconds, 2),
        "compared_with": live_name,
        "live_accuracy": round(live.accuracy, 4),
        "live_macro_f1": round(live.macro_f1, 4),
        "activated": activated,
        "reason": reason,
    }
    row = save_model(
        kind,
        clf,
        metrics=metrics,
        source="本节点已确认分类的工单",
        samples=len(train.docs),
        activate=activated,
    )
    if activated:
        _model_cache.pop(kind, None)
    return TrainOutcome(kind, row, activated, reason, candidate, live, live_name)


def train_now(actor: Any, kind: str) -> TrainOutcome:
    """An administrator's retraining outside the weekly job."""
    actor.require(lexicon.PERMISSION)
    return train_from_orders(kind)


def retrain_job(now: dt.datetime) -> dict[str, Any]:
    """Scheduled retraining (weekly): a candidate per learned kind, live only if it wins. Returns
    what happened per kind (stored in the job's run record)."""
    out: dict[str, Any] = {}
    for kind in LEARNED_KINDS:
        outcome = train_from_orders(kind)
        out[kind] = {"version": outcome.row.version if outcome.row else None, "activated": outcome.activated}
    return out
