"""Suggestions on the agent workstation: the published, valid articles best matching what the agent
has typed so far, ranked by node.text.retrieval over each article's title, keywords and answer.

Each process keeps one index. The published set's signature (count, last change, last id: one
indexed query) is read on every call; when it changed, the index is brought up to date
incrementally: the articles changed since the last update are re-indexed (jieba on those texts
only) and those no longer published removed, so a newly published or revised article reaches the
suggestions in the next request. The first build runs in the request that needs it
(~30 s for 20,000 articles); an update touching more than SYNC_UPDATE_MAX articles (an import, a bulk
expiry) runs in a background thread while the requests go on with the index as it is."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any, cast

import peewee as pw

from node import clock
from node.auth.service import Actor
from node.errors import ValidationError
from node.knowledge.models import Article
from node.text.retrieval import Retriever

MAX_QUERY = 2000
SYNC_UPDATE_MAX = 200  # changed articles re-indexed inside the request; more go to a background thread
MARGIN = dt.timedelta(minutes=1)  # changes read again around the last one (commits land out of order)


@dataclass
class _Index:
    signature: tuple[Any, ...]
    retriever: Retriever | None
    meta: dict[int, tuple[str, Any]] = field(default_factory=dict)  # id -> (region scope, effective date)


_lock = threading.Lock()  # held while the index is built or updated inside a request
_index: _Index | None = None
_rebuilding = False

_COLUMNS = (
    Article.id,
    Article.state,
    Article.title,
    Article.keywords,
    Article.answer,
    Article.region_scope,
    Article.effective_date,
)


def _signature() -> tuple[Any, ...]:
    row = (
        Article.select(pw.fn.COUNT(Article.id), pw.fn.MAX(Article.updated_at), pw.fn.MAX(Article.id))
        .where(Article.state == "published")
        .tuples()
        .first()
    )
    return tuple(row or ())


def _doc(a: Article) -> tuple[str, str]:
    return a.title, f"{a.keywords.replace(',', ' ')}\n{a.answer}"


def index() -> _Index:
    """The up-to-date index (or, while a large update runs in the background, the current one)."""
    global _rebuilding
    signature = _signature()
    current = _index
    if current is not None and (current.signature == signature or _rebuilding):
        return current
    with _lock:
        if _index is None:
            return _build(signature)
        if _index.signature == signature or _rebuilding:
            return _index
        changes = _changes(_index, SYNC_UPDATE_MAX, signature[0] or 0)
        if changes is not None:
            return _apply(_index, signature, *changes)
        _rebuilding = True
        try:
            threading.Thread(target=_update_in_background, name="knowledge-index", daemon=True).start()
        except BaseException:
            _rebuilding = False
            raise
        return _index


def _update_in_background() -> None:
    """A large update, without holding `_lock`: requests go on searching the index meanwhile (each
    change to it is atomic) and none starts another update while `_rebuilding` is set."""
    global _rebuilding
    from node import db

    try:
        with db.connection():
            signature = _signature()
            if _index is not None:
                _apply(_index, signature, *(_changes(_index, None, signature[0] or 0) or ([], set())))
    except Exception:  # the next request tries again; suggestions go on from the index as it is
        import logging

        logging.getLogger(__name__).exception("知识推荐索引更新失败")
    finally:
        _rebuilding = False


def _build(signature: tuple[Any, ...]) -> _Index:
    """Index every published article."""
    global _index
    rows = list(Article.select(*_COLUMNS).where(Article.state == "published").order_by(Article.id))
    retriever = Retriever([_doc(a) for a in rows], keys=[a.id for a in rows]) if rows else None
    _index = _Index(signature, retriever, {a.id: (a.region_scope, a.effective_date) for a in rows})
    return _index


def _changes(idx: _Index, limit: int | None, published: int) -> tuple[list[Article], set[int]] | None:
    """Published articles to (re)index and ids to drop since `idx` was last updated, from the
    articles changed since (every publish, revision, withdrawal and expiry sets `updated_at`); the
    full list of published ids is read only when the count of `published` articles disagrees.
    None when more than `limit` articles changed."""
    since = idx.signature[1] if len(idx.signature) > 1 else None
    query = Article.select(Article.id, Article.state)
    if since is not None:
        query = query.where(Article.updated_at >= since - MARGIN)
    recent = list(query.tuples())
    changed = {i for i, state in recent if state == "published"}
    gone = {i for i, state in recent if state != "published" and i in idx.meta}
    if len((set(idx.meta) - gone) | changed) != published:
        ids = {i for (i,) in Article.select(Article.id).where(Article.state == "published").tuples()}
        gone = set(idx.meta) - ids
        changed |= ids - set(idx.meta)
    if limit is not None and len(changed) + len(gone) > limit:
        return None
    rows = list(Article.select(*_COLUMNS).where(Article.id.in_(sorted(changed) or [0])).order_by(Article.id))
    return rows, gone


def _apply(idx: _Index, signature: tuple[Any, ...], rows: list[Article], gone: set[int]) -> _Index:
    """Re-index `rows`, drop `gone`."""
    global _index
    if idx.retriever is None:
        return _build(signature)
    for i in gone:
        idx.retriever.remove(i)
        idx.meta.pop(i, None)
    for a in rows:
        if a.state != "published":
            continue
        idx.retriever.add(a.id, *_doc(a))
        idx.meta[a.id] = (a.region_scope, a.effective_date)
    idx.signature = signature
    _index = idx
    return idx


def _covers(scope: str, region: str) -> bool:
    if not scope or scope == "000000" or not region:
        return True
    prefix = scope[:2] if scope.endswith("0000") else scope[:4] if scope.endswith("00") else scope
    return region.startswith(prefix)


def suggest(actor: Actor, text: str, *, region: str = "", limit: int = 5) -> list[tuple[Article, float]]:
    """Up to `limit` published articles for the caller's words, best first, with their score."""
    actor.require("knowledge.view")
    if not isinstance(text, str) or "\x00" in text:
        raise ValidationError("检索内容应为文本", details={"q": "格式不正确"})
    if not isinstance(region, str) or (region and not (region.isdigit() and len(region) == 6)):
        raise ValidationError("行政区划代码应为6位数字", details={"region": "格式不正确"})
    if not isinstance(limit, int) or not 1 <= limit <= 20:
        raise ValidationError("建议条数应在1至20之间", details={"limit": "超出范围"})
    text = text.strip()[:MAX_QUERY]
    idx = index()
    if not text or idx.retriever is None or not len(idx.retriever):
        return []
    today = clock.today()
    picked: list[tuple[int, float]] = []
    for key, score in idx.retriever.search(text, k=min(len(idx.retriever), limit * 4)):
        article_id = cast(int, key)
        scope, effective = idx.meta.get(article_id, ("", None))
        if score <= 0 or not _covers(scope, region):
            continue
        if effective is not None and effective > today:
            continue
        picked.append((article_id, score))
        if len(picked) == limit:
            break
    found = {a.id: a for a in Article.select().where(Article.id.in_([i for i, _ in picked] or [0]))}
    return [(found[i], s) for i, s in picked if i in found and found[i].state == "published"]


def reset() -> None:
    """Forget the index (tests whose database rolls back under it)."""
    global _index, _rebuilding
    with _lock:
        _index, _rebuilding = None, False
