"""Knowledge base service: articles and their versions, the review workflow, search, suggestions,
feedback, synonyms, bulletins from upper nodes, expiry.

Workflow (state of the article / of its working version):

    create ─► draft ─submit─► submitted ─approve─► published ─withdraw─► withdrawn
                ▲                 │                  │    └─(expiry date passed)─► expired
                └──send_back──────┘                  └─revise─► (working version: draft → submitted →
                                                               approved replaces the live one)

While a revision is written and reviewed the published version stays live. `knowledge.edit`
writes and submits; `knowledge.review` approves, sends back (with a comment) and withdraws; nobody
approves a version they wrote. Bulletins from upper nodes arrive published and read-only.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass
from itertools import pairwise
from typing import Annotated, Any

import peewee as pw
from pydantic import Field, field_validator

from node import clock, db
from node.auth.service import Actor
from node.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationError
from node.knowledge import richtext, search
from node.knowledge.models import (
    FEEDBACK_KINDS,
    SOURCES,
    STATES,
    Article,
    ArticleFeedback,
    ArticleVersion,
    Synonym,
)
from node.validation import Input, parse

WARN_DAYS = 7  # the editor is warned this many days before an article expires
DUPLICATE_THRESHOLD = 0.6  # cosine of character bigrams above which an article is flagged
_REGION_RE = re.compile(r"^(\d{6})?$")


# ---- input ----------------------------------------------------------------------------------------


class ArticleIn(Input):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    body: Annotated[str, Field(min_length=1, max_length=100_000)]
    domain: Annotated[str, Field(pattern=r"^(\d{2})?$")] = ""
    sub_business: Annotated[str, Field(pattern=r"^(\d{4})?$")] = ""
    topic: Annotated[str, Field(max_length=40)] = ""
    region_scope: Annotated[str, Field(pattern=r"^(\d{6})?$")] = ""
    effective_date: dt.date | None = None
    expiry_date: dt.date | None = None
    keywords: Annotated[str, Field(max_length=400)] = ""
    source: Annotated[str, Field(pattern=r"^(local|policy)$")] = "local"
    source_ref: Annotated[str, Field(max_length=60)] = ""
    note: Annotated[str, Field(max_length=200)] = ""

    @field_validator("title", "body", "topic", "keywords", "source_ref", "note")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("不能包含空字符")
        return value

    @field_validator("effective_date", "expiry_date")
    @classmethod
    def _sane_date(cls, value: dt.date | None) -> dt.date | None:
        if value is not None and not dt.date(2000, 1, 1) <= value <= dt.date(2100, 12, 31):
            raise ValueError("日期应在2000年至2100年之间")
        return value


def normalise_keywords(raw: str) -> str:
    words = [w.strip() for w in re.split(r"[,，;；、\s]+", raw or "") if w.strip()]
    return ",".join(dict.fromkeys(words))[:400]


def _check(data: ArticleIn) -> None:
    from node.catalog import service as catalog

    if data.domain or data.sub_business:
        catalog.check_codes(
            business_type="1", domain=data.domain or None, sub_business=data.sub_business or None
        )
    if data.region_scope and data.region_scope != "000000":
        catalog.check_region(data.region_scope)
    if data.effective_date and data.expiry_date and data.expiry_date < data.effective_date:
        raise ValidationError("失效日期不能早于生效日期", details={"expiry_date": "早于生效日期"})


# ---- reading --------------------------------------------------------------------------------------


def is_editor(actor: Actor) -> bool:
    return actor.can("knowledge.edit") or actor.can("knowledge.review")


def get(actor: Actor, article_id: Any) -> Article:
    """An article the actor may see: agents see published ones, editors and reviewers every one."""
    actor.require("knowledge.view")
    if not isinstance(article_id, int) or isinstance(article_id, bool) or not 1 <= article_id <= 2**62:
        raise NotFound("知识文章不存在")
    article = Article.get_or_none(Article.id == article_id)
    if article is None or (not is_editor(actor) and article.state != "published"):
        raise NotFound("知识文章不存在或未发布")
    return article


def version(article: Article, number: int | None = None) -> ArticleVersion:
    """A version by number; default the working version, else the live one."""
    if number is None:
        vid = article.work_version or article.live_version
        found = ArticleVersion.get_or_none(ArticleVersion.id == vid) if vid else None
    else:
        found = ArticleVersion.get_or_none(ArticleVersion.article == article, ArticleVersion.number == number)
    if found is None:
        raise NotFound("版本不存在")
    return found


def live(article: Article) -> ArticleVersion | None:
    return (
        ArticleVersion.get_or_none(ArticleVersion.id == article.live_version)
        if article.live_version
        else None
    )


def versions(article: Article) -> list[ArticleVersion]:
    return list(article.versions.order_by(ArticleVersion.number.desc()))


# ---- writing ---------------------------------------------------------------------------------------


def _now() -> dt.datetime:
    return clock.now().replace(tzinfo=None)


def _suggest_category(title: str, text: str) -> dict[str, Any] | None:
    from node.text import service as text_service

    try:
        found = text_service.suggest_categories(title, text[:5000], top=3)
    except ValidationError:
        return None
    best = found["sub_business"][0] if found["sub_business"] else None
    if best is None or best.get("domain") in (None, "", "00"):
        return None
    return {
        "domain": best["domain"],
        "sub_business": best.get("sub", ""),
        "label": best["label"],
        "confidence": round(float(best["confidence"]), 3),
        "source": best["source"],
    }


def _bigrams(text: str) -> set[str]:
    chars = [c for c in text if not c.isspace()]
    return {a + b for a, b in pairwise(chars)}


def near_duplicates(
    title: str, text: str, exclude: int | None = None, limit: int = 3
) -> list[dict[str, Any]]:
    """Published articles whose title and text are nearly the same (cosine of character bigrams)."""
    q = search.parse(title, groups=[])
    candidates = [i for i, _ in search.ranked_ids(search.Query([[a] for c in q.clauses[:6] for a in c]), 20)]
    if not candidates:
        loose = [[[w]] for w in search.parse(title + " " + text[:200], groups=[]).words[:1]]
        candidates = [i for i, _ in search.ranked_ids(search.Query(loose), 20)] if loose else []
    mine = _bigrams(title + text)
    found = []
    for a in Article.select().where(Article.id.in_(candidates or [0])):
        if a.id == exclude:
            continue
        theirs = _bigrams(a.title + a.answer)
        if not mine or not theirs:
            continue
        score = len(mine & theirs) / ((len(mine) * len(theirs)) ** 0.5)
        if score >= DUPLICATE_THRESHOLD:
            found.append({"id": a.id, "title": a.title, "score": round(score, 3)})
    return sorted(found, key=lambda d: -d["score"])[:limit]


def _new_version(
    article: Article, actor: Actor | None, data: ArticleIn, status: str, *, checks: bool = True
) -> ArticleVersion:
    """Store `data` as the article's next version; `checks` adds the suggested category and the
    near-duplicate flags (for editors' drafts, not for bulletins)."""
    body_html = richtext.sanitise(data.body)
    body_text = richtext.plain_text(body_html)
    if not body_text.strip():
        raise ValidationError("正文不能为空", details={"body": "必填"})
    last = (
        ArticleVersion.select(pw.fn.MAX(ArticleVersion.number))
        .where(ArticleVersion.article == article)
        .scalar()
    )
    return ArticleVersion.create(
        article=article,
        number=(last or 0) + 1,
        title=data.title,
        body_html=body_html,
        body_text=body_text,
        domain=data.domain,
        sub_business=data.sub_business,
        topic=data.topic,
        region_scope=data.region_scope,
        effective_date=data.effective_date,
        expiry_date=data.expiry_date,
        keywords=normalise_keywords(data.keywords),
        suggested=_suggest_category(data.title, body_text) if checks else None,
        near_duplicates=(near_duplicates(data.title, body_text, exclude=article.id) or None)
        if checks
        else None,
        note=data.note,
        status=status,
        author=actor.user_id if actor else None,
        created_at=_now(),
    )


def create(actor: Actor, raw: dict[str, Any]) -> Article:
    """A new article (草稿) with its first version."""
    actor.require("knowledge.edit")
    data = parse(ArticleIn, raw)
    _check(data)
    now = _now()
    with db.write_tx():
        article = Article.create(
            state="draft",
            source=data.source,
            source_ref=data.source_ref,
            created_by=actor.user_id,
            created_at=now,
            updated_at=now,
            work_state="draft",
        )
        v = _new_version(article, actor, data, "draft")
        article.work_version = v.id
        article.save()
    return article


def _locked(article_id: int) -> Article:
    found = db.locked(Article.select().where(Article.id == article_id)).first()
    if found is None:
        raise NotFound("知识文章不存在")
    return found


def _writable(article: Article) -> None:
    if article.read_only:
        raise PermissionDenied("上级下发的知识通报为只读，不能修改")


def save(actor: Actor, article_id: int, raw: dict[str, Any]) -> ArticleVersion:
    """Save an edit as a new version of the working copy. On a published (withdrawn, expired)
    article without a working copy this starts a revision; the live version stays live."""
    actor.require("knowledge.edit")
    get(actor, article_id)
    data = parse(ArticleIn, raw)
    _check(data)
    with db.write_tx():
        article = _locked(article_id)
        _writable(article)
        if article.work_state == "submitted":
            raise InvalidTransition("文章正在审核中，审核结束前不能修改")
        v = _new_version(article, actor, data, "draft")
        article.work_version, article.work_state, article.updated_at = v.id, "draft", _now()
        if article.live_version is None:
            article.state = "draft"
        article.source, article.source_ref = data.source, data.source_ref
        article.save()
    return v


def revise(actor: Actor, article_id: int) -> ArticleVersion:
    """Start a revision of a published (or withdrawn, expired) article from its live version."""
    actor.require("knowledge.edit")
    get(actor, article_id)
    with db.write_tx():
        article = _locked(article_id)
        _writable(article)
        current = live(article)
        if current is None or article.work_state:
            raise InvalidTransition("该文章已有未发布的修订稿，请直接编辑")
        data = ArticleIn(**_fields_of(current), body=current.body_html, note="修订")
        v = _new_version(article, actor, data, "draft")
        article.work_version, article.work_state, article.updated_at = v.id, "draft", _now()
        article.save()
    return v


def _fields_of(v: ArticleVersion) -> dict[str, Any]:
    return {
        "title": v.title,
        "domain": v.domain,
        "sub_business": v.sub_business,
        "topic": v.topic,
        "region_scope": v.region_scope,
        "effective_date": v.effective_date,
        "expiry_date": v.expiry_date,
        "keywords": v.keywords,
    }


def submit(actor: Actor, article_id: int) -> Article:
    actor.require("knowledge.edit")
    get(actor, article_id)
    with db.write_tx():
        article = _locked(article_id)
        _writable(article)
        if article.work_state not in ("draft", "returned"):
            raise InvalidTransition("只有草稿或被退回的稿件可以提交审核")
        ArticleVersion.update(status="submitted").where(ArticleVersion.id == article.work_version).execute()
        article.work_state, article.updated_at = "submitted", _now()
        if article.live_version is None:
            article.state = "submitted"
        article.save()
        author = ArticleVersion.get_by_id(article.work_version).author_id
        _notify_reviewers(article, author)
    return article


def _reviewable(actor: Actor, article_id: int) -> tuple[Article, ArticleVersion]:
    actor.require("knowledge.review")
    get(actor, article_id)
    article = _locked(article_id)
    if article.work_state != "submitted":
        raise InvalidTransition("该文章没有待审核的稿件")
    work = ArticleVersion.get_by_id(article.work_version)
    if work.author_id is not None and work.author_id == actor.user_id:
        raise PermissionDenied("不能审核本人编写的稿件")
    return article, work


def approve(actor: Actor, article_id: int, comment: str = "") -> Article:
    """Publish the submitted version: it becomes the live one (the previous live one is kept as
    superseded)."""
    comment = _comment(comment, required=False)
    with db.write_tx():
        article, work = _reviewable(actor, article_id)
        if work.expiry_date is not None and work.expiry_date < clock.today():
            raise ValidationError("该稿件的失效日期已过，不能发布；请退回修改有效期")
        now = _now()
        ArticleVersion.update(status="superseded").where(
            ArticleVersion.article == article, ArticleVersion.status == "published"
        ).execute()
        work.status, work.reviewed_by, work.reviewed_at, work.review_comment = (
            "published",
            actor.user_id,
            now,
            comment,
        )
        work.save()
        _make_live(article, work)
        article.work_version, article.work_state = None, ""
        article.save()
        _audit(actor, "knowledge.approved", article, {"version": work.number})
    return article


def _make_live(article: Article, v: ArticleVersion) -> None:
    article.live_version = v.id
    article.state = "published"
    article.title = v.title
    article.answer = v.body_text
    article.domain, article.sub_business, article.topic = v.domain, v.sub_business, v.topic
    article.region_scope = v.region_scope
    article.effective_date, article.expiry_date = v.effective_date, v.expiry_date
    article.keywords = v.keywords
    article.search_text = search.document_tokens(v.title, v.keywords.replace(",", " "), v.body_text)
    article.expiry_warned = None
    article.updated_at = _now()


def _comment(text: Any, required: bool) -> str:
    if text is None:
        text = ""
    if not isinstance(text, str) or "\x00" in text or len(text) > 2000:
        raise ValidationError("审核意见应为不超过2000字的文本", details={"comment": "格式不正确"})
    text = text.strip()
    if required and not text:
        raise ValidationError("退回时请填写审核意见", details={"comment": "必填"})
    return text


def send_back(actor: Actor, article_id: int, comment: str) -> Article:
    comment = _comment(comment, required=True)
    with db.write_tx():
        article, work = _reviewable(actor, article_id)
        work.status, work.reviewed_by, work.reviewed_at, work.review_comment = (
            "returned",
            actor.user_id,
            _now(),
            comment,
        )
        work.save()
        article.work_state, article.updated_at = "returned", _now()
        if article.live_version is None:
            article.state = "draft"
        article.save()
        _audit(actor, "knowledge.returned", article, {"version": work.number, "comment": comment})
    _notify_users([work.author_id], f"知识文章被退回：{work.title}", comment, article)
    return article


def withdraw(actor: Actor, article_id: int, reason: str = "") -> Article:
    actor.require("knowledge.review")
    reason = _comment(reason, required=False)
    get(actor, article_id)
    with db.write_tx():
        article = _locked(article_id)
        _writable(article)
        if article.state != "published":
            raise InvalidTransition("只有已发布的文章可以撤回")
        article.state, article.search_text, article.updated_at = "withdrawn", "", _now()
        article.save()
        _audit(actor, "knowledge.withdrawn", article, {"reason": reason})
    return article


def _audit(actor: Actor, event: str, article: Article, details: dict[str, Any]) -> None:
    from node.audit import service as audit

    audit.record(actor, event, target=f"knowledge:{article.id}", details={"title": article.title, **details})


# ---- notifications (node.notices) ---------------------------------------------------------------


def _notify_users(
    user_ids: list[int | None], title: str, body: str, article: Article, kind: str = "review"
) -> None:
    from node.notices import service as notices

    ids = list(dict.fromkeys(u for u in user_ids if u))
    if ids:
        notices.notify(kind, title[:120], users=ids, body=body[:2000], link=f"/knowledge/{article.id}")


def _notify_reviewers(article: Article, author_id: int | None) -> None:
    """知识审核: every holder of a role that reviews knowledge, except the author, is told."""
    from node.auth.roles import PERMISSIONS
    from node.notices import service as notices

    roles = [r for r, perms in PERMISSIONS.items() if "knowledge.review" in perms]
    notices.notify(
        "review",
        f"知识文章待审核：{_work_title(article)}"[:120],
        roles=roles,
        link=f"/knowledge/{article.id}",
        exclude=[author_id] if author_id else [],
    )


def _work_title(article: Article) -> str:
    v = ArticleVersion.get_or_none(ArticleVersion.id == article.work_version)
    return v.title if v else article.title


# ---- expiry ---------------------------------------------------------------------------------------


def expire_due(today: dt.date | None = None) -> dict[str, int]:
    """Job: published articles past their expiry date become 已过期 (no longer found); editors of
    those expiring within WARN_DAYS are warned once."""
    today = today or clock.today()
    expired = warned = 0
    with db.write_tx():
        for article in db.locked(
            Article.select().where(Article.state == "published", Article.expiry_date < today)
        ):
            article.state, article.search_text, article.updated_at = "expired", "", _now()
            article.save()
            expired += 1
    soon = list(
        Article.select().where(
            Article.state == "published",
            Article.expiry_date >= today,
            Article.expiry_date <= today + dt.timedelta(days=WARN_DAYS),
            Article.expiry_warned.is_null(),
        )
    )
    for article in soon:
        v = live(article)
        _notify_users(
            [v.author_id if v else None, article.created_by_id],
            f"知识文章即将过期：{article.title}",
            f"失效日期 {article.expiry_date.year}年{article.expiry_date.month}月{article.expiry_date.day}日，请修订或确认撤回。",
            article,
            kind="warning",
        )
        Article.update(expiry_warned=today).where(Article.id == article.id).execute()
        warned += 1
    return {"expired": expired, "warned": warned}


def expiring(days: int = 30, today: dt.date | None = None) -> list[Article]:
    today = today or clock.today()
    return list(
        Article.select()
        .where(
            Article.state == "published",
            Article.expiry_date.is_null(False),
            Article.expiry_date <= today + dt.timedelta(days=days),
        )
        .order_by(Article.expiry_date, Article.id)
    )


# ---- bulletins from upper nodes ---------------------------------------------------------------------


def apply_bulletin(row: Any) -> Article:
    """Make (or update) the read-only article of a knowledge bulletin (federation.models.KnowledgeBulletin):
    published at once, withdrawn when the bulletin is; each revision is a new version."""
    ref = f"bulletin:{row.bulletin_id}"[:60]
    body = row.body or row.title
    tags = ",".join(t for t in (row.tags or "").split(",") if t)
    data = ArticleIn(
        title=row.title[:200],
        body=body[:100_000],
        topic=(row.category or "")[:40],
        region_scope=row.scope if row.scope != "000000" else "",
        effective_date=row.effective_date,
        expiry_date=row.valid_until.date() if row.valid_until else None,
        keywords=tags[:400],
        note=f"上级通报（{row.issuer}）第{row.revision}版",
    )
    with db.write_tx():
        article = Article.get_or_none(Article.source_ref == ref)
        now = _now()
        if article is None:
            article = Article.create(
                state="published",
                source="bulletin",
                source_ref=ref,
                read_only=True,
                created_at=now,
                updated_at=now,
            )
        current = live(article)
        if current is None or current.note != data.note:
            ArticleVersion.update(status="superseded").where(
                ArticleVersion.article == article, ArticleVersion.status == "published"
            ).execute()
            v = _new_version(article, None, data, "published", checks=False)
            _make_live(article, v)
        if row.withdrawn:
            article.state, article.search_text = "withdrawn", ""
        elif article.expiry_date and article.expiry_date < clock.today():
            article.state, article.search_text = "expired", ""
        article.save()
    return article


# ---- diff -----------------------------------------------------------------------------------------

FIELD_LABELS = {
    "title": "标题",
    "domain": "业务领域",
    "sub_business": "子业务",
    "topic": "主题",
    "region_scope": "适用范围",
    "effective_date": "生效日期",
    "expiry_date": "失效日期",
    "keywords": "关键词",
}


@dataclass
class Diff:
    fields: list[tuple[str, str, str]]  # (label, before, after)
    lines: list[tuple[str, str]]  # ("+" / "-" / " ", line)


def diff(a: ArticleVersion, b: ArticleVersion) -> Diff:
    """What changed from version `a` to version `b`: fields, and the body line by line."""
    fields = [
        (label, str(getattr(a, name) or ""), str(getattr(b, name) or ""))
        for name, label in FIELD_LABELS.items()
        if getattr(a, name) != getattr(b, name)
    ]
    lines = []
    for line in difflib.ndiff(a.body_text.splitlines(), b.body_text.splitlines()):
        if line[:1] in "+- ":
            lines.append((line[:1], line[2:]))
    return Diff(fields, lines)


# ---- search and suggestions --------------------------------------------------------------------------


def _region_scopes(region: str) -> list[str]:
    return ["", "000000", region[:2] + "0000", region[:4] + "00", region]


@dataclass
class Hit:
    article: Article
    score: float
    title: Any
    snippet: Any


def search_articles(
    actor: Actor,
    q: str = "",
    *,
    domain: str = "",
    sub_business: str = "",
    topic: str = "",
    region: str = "",
    source: str = "",
    validity: str = "valid",
    state: str = "",
    page: int = 1,
    size: int = 20,
) -> tuple[list[Hit], int]:
    """Articles matching the words of `q` (synonyms expanded), best first, with filters; without
    `q`, the newest. Agents search published, valid articles; editors may pick any state."""
    actor.require("knowledge.view")
    for name, value, pattern in (
        ("domain", domain, r"^(\d{2})?$"),
        ("sub_business", sub_business, r"^(\d{4})?$"),
        ("region", region, r"^(\d{6})?$"),
    ):
        if not isinstance(value, str) or not re.match(pattern, value):
            raise ValidationError(f"筛选条件 {name} 格式不正确", details={name: "格式不正确"})
    if source and source not in SOURCES:
        raise ValidationError("未知的来源", details={"source": "未知"})
    if validity not in ("valid", "expired", "all"):
        raise ValidationError("有效性筛选应为 valid / expired / all", details={"validity": "未知"})
    if state and (state not in STATES or not is_editor(actor)):
        raise ValidationError("未知的状态或无权按状态筛选", details={"state": "不可用"})
    if not isinstance(q, str) or len(q) > 200 or "\x00" in q:
        raise ValidationError("检索词应为不超过200字的文本", details={"q": "格式不正确"})
    query = Article.select()
    today = clock.today()
    if state:
        query = query.where(Article.state == state)
    elif validity == "expired":
        query = query.where(Article.state == "expired")
    elif validity == "valid":
        query = query.where(
            Article.state == "published",
            Article.effective_date.is_null() | (Article.effective_date <= today),
        )
    elif not is_editor(actor):
        query = query.where(Article.state.in_(["published", "expired"]))
    if domain:
        query = query.where(Article.domain == domain)
    if sub_business:
        query = query.where(Article.sub_business == sub_business)
    if topic:
        query = query.where(Article.topic == topic[:40])
    if region:
        query = query.where(Article.region_scope.in_(_region_scopes(region)))
    if source:
        query = query.where(Article.source == source)
    parsed = search.parse(q) if q.strip() else None
    if parsed is None or not parsed.clauses:
        total = query.count()
        rows = list(query.order_by(Article.updated_at.desc(), Article.id.desc()).paginate(page, size))
        words: list[str] = []
        scored = [(a, 0.0) for a in rows]
    else:
        ranked = search.ranked_ids(parsed, 500)
        score = dict(ranked)
        found = {a.id: a for a in query.where(Article.id.in_(list(score) or [0]))}
        ordered = [(found[i], s) for i, s in ranked if i in found]
        total = len(ordered)
        scored = ordered[(page - 1) * size : page * size]
        words = parsed.surface
    hits = [
        Hit(a, s, search.highlight(a.title or _work_title(a), words), search.highlight(a.answer, words, 120))
        for a, s in scored
    ]
    return hits, total


def record_feedback(actor: Actor, article_id: int, kind: str) -> Article:
    """An agent used an article in an answer, or found it helpful / not helpful."""
    article = get(actor, article_id)
    if kind not in FEEDBACK_KINDS:
        raise ValidationError("反馈类型应为 use / helpful / not_helpful", details={"kind": "未知"})
    column = {"use": Article.use_count, "helpful": Article.helpful, "not_helpful": Article.not_helpful}[kind]
    with db.write_tx():
        ArticleFeedback.create(article=article, user=actor.user_id, kind=kind, at=_now())
        Article.update({column: column + 1}).where(Article.id == article.id).execute()
    return Article.get_by_id(article.id)


# ---- synonyms -------------------------------------------------------------------------------------


def save_synonyms(actor: Actor, words: Any, group_id: int | None = None) -> Synonym:
    actor.require("knowledge.edit")
    if not isinstance(words, str) or "\x00" in words or len(words) > 400:
        raise ValidationError("同义词应为不超过400字的文本", details={"words": "格式不正确"})
    items = [w.strip() for w in re.split(r"[,，=＝;；、\s]+", words) if w.strip()]
    items = list(dict.fromkeys(items))
    if len(items) < 2 or any(len(w) > 40 for w in items):
        raise ValidationError("同义词组至少两个词，每个词不超过40字", details={"words": "至少两个词"})
    with db.write_tx():
        row = Synonym.get_or_none(Synonym.id == group_id) if group_id else Synonym()
        if row is None:
            raise NotFound("同义词组不存在")
        row.words, row.updated_by, row.updated_at = ",".join(items), actor.user_id, _now()
        row.save()
    return row


def delete_synonyms(actor: Actor, group_id: int) -> None:
    actor.require("knowledge.edit")
    if not Synonym.delete().where(Synonym.id == group_id).execute():
        raise NotFound("同义词组不存在")


# ---- from an order's reply --------------------------------------------------------------------------


def draft_from_order(actor: Actor, number: str) -> Article:
    """A draft article from a good order reply: the order's title as the question, its reply (the
    handling unit's 基本情况/办理过程/办理依据, else the instant answer) as the body, its category."""
    from node.workflow import service as workflow

    actor.require("knowledge.edit")
    if not isinstance(number, str) or not re.match(r"^\d{21}$", number):
        raise ValidationError("工单编号应为21位数字", details={"number": "格式不正确"})
    order = workflow.get_order(actor, number)
    parts = [
        (label, text)
        for label, text in (
            ("基本情况", order.result_basic),
            ("办理过程", order.result_process),
            ("办理依据", order.result_basis),
        )
        if (text or "").strip()
    ]
    reply = "\n".join(f"{label}：{text}" for label, text in parts) or order.immediate_answer
    if not (reply or "").strip():
        raise Conflict("该工单还没有答复内容，不能生成知识文章")
    sub = order.sub_business or ""
    return create(
        actor,
        {
            "title": (order.title or order.content[:60])[:200],
            "body": reply,
            "domain": order.domain or "",
            "sub_business": sub if sub and not sub.endswith("00") else "",
            "note": f"由工单 {number} 的答复生成",
        },
    )


def training_samples() -> list[tuple[str, str]]:
    """(document, category leaf) of published local articles: the editors' confirmed categories
    feed the category model's retraining (node.text.service.training_data)."""
    from node.text.classifier import make_document
    from node.text.service import leaf_of

    out = []
    for a in Article.select(Article.title, Article.answer, Article.domain, Article.sub_business).where(
        Article.state == "published", Article.source != "bulletin", Article.domain != ""
    ):
        label = leaf_of(a.domain, a.sub_business)
        if label:
            out.append((make_document(a.title, a.answer), label))
    return out
