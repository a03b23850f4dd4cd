"""Suggestions on the agent workstation: the published, valid articles best matching what the agent
has typed so far, ranked by node.text.retrieval over each article's title, keywords and answer.

Each process keeps one index and rebuilds it when the published set changes (its signature — count,
last change, last id — is read on every call: one indexed query). A small knowledge base is rebuilt
in the request that notices the change; a large one (SYNC_REBUILD_MAX articles or more, ~30 s at
20,000) in a background thread while the requests go on with the previous index."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import peewee as pw

from node import clock
from node.auth.service import Actor
from node.errors import ValidationError
from node.knowledge.models import Article
from node.text.retrieval import Retriever

MAX_QUERY = 2000
SYNC_REBUILD_MAX = 2000  # published articles; above this a stale index is rebuilt in the background


@dataclass
class _Index:
    signature: tuple[Any, ...]
    ids: list[int]
    scopes: list[str]
    effective: list[Any]
    retriever: Retriever | None


_lock = threading.Lock()
_index: _Index | None = None
_rebuilding = False


def _signature() -> tuple[Any, ...]:
    row = (
        Article.select(pw.fn.COUNT(Article.id), pw.fn.MAX(Article.updated_at), pw.fn.MAX(Article.id))
        .where(Article.state == "published")
        .tuples()
        .first()
    )
    return tuple(row or ())


def index() -> _Index:
    global _rebuilding
    signature = _signature()
    current = _index
    if current is not None and current.signature == signature:
        return current
    if current is not None and len(current.ids) >= SYNC_REBUILD_MAX:
        with _lock:
            if _rebuilding:
                return current
            _rebuilding = True
        threading.Thread(target=_rebuild_in_background, name="knowledge-index", daemon=True).start()
        return current
    with _lock:
        if _index is not None and _index.signature == signature:
            return _index
        return _build(signature)


def _rebuild_in_background() -> None:
    global _rebuilding
    from node import db

    try:
        with db.connection(), _lock:
            _build(_signature())
    except Exception:  # the next request tries again; suggestions go on from the previous index
        import logging

        logging.getLogger(__name__).exception("知识推荐索引重建失败")
    finally:
        _rebuilding = False


def _build(signature: tuple[Any, ...]) -> _Index:
    """Read the published articles and swap in a new index (call with `_lock` held)."""
    global _index
    rows = list(
        Article.select(
            Article.id,
            Article.title,
            Article.keywords,
            Article.answer,
            Article.region_scope,
            Article.effective_date,
        )
        .where(Article.state == "published")
        .order_by(Article.id)
    )
    retriever = (
        Retriever([(a.title, f"{a.keywords.replace(',', ' ')}\n{a.answer}") for a in rows]) if rows else None
    )
    _index = _Index(
        signature,
        [a.id for a in rows],
        [a.region_scope for a in rows],
        [a.effective_date for a in rows],
        retriever,
    )
    return _index


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
    if not text or idx.retriever is None:
        return []
    today = clock.today()
    picked: list[tuple[int, float]] = []
    for i, score in idx.retriever.search(text, k=min(len(idx.ids), limit * 4)):
        if score <= 0 or not _covers(idx.scopes[i], region):
            continue
        if idx.effective[i] is not None and idx.effective[i] > today:
            continue
        picked.append((idx.ids[i], score))
        if len(picked) == limit:
            break
    found = {a.id: a for a in Article.select().where(Article.id.in_([i for i, _ in picked] or [0]))}
    return [(found[i], s) for i, s in picked if i in found and found[i].state == "published"]
