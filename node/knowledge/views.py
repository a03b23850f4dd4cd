"""Knowledge base routes: the REST API (`/api/v1/knowledge`, in OpenAPI) and the staff screens
(`/knowledge`: browse by category and search, article page, editor with version history and diff,
review queue, expiring-soon list, synonyms, import and export) and the workstation's suggestion
panel. Thin: parse, call node.knowledge.service, render."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import peewee as pw
from flask import Blueprint, Flask, Response, flash, jsonify, redirect, render_template, request, url_for
from pydantic import Field

from node.api.routing import arg_int, json_body, route
from node.auth import web
from node.errors import DomainError, NotFound, ValidationError
from node.files import service as files
from node.knowledge import exchange, service, suggest
from node.knowledge.models import (
    FEEDBACK_KINDS,
    SOURCES,
    STATES,
    VERSION_STATES,
    WORK_STATES,
    Article,
    Synonym,
)
from node.validation import Input, parse

api = Blueprint("knowledge_api", __name__, url_prefix="/api/v1/knowledge")
screens = Blueprint("knowledge", __name__, url_prefix="/knowledge")
TAG = "知识库"


def init_app(app: Flask) -> None:
    for bp in (api, screens):
        if bp.name not in app.blueprints:
            app.register_blueprint(bp)
    register_files()
    nav = app.config.setdefault("NAV_EXTRA", [])
    if not any(item[1] == "/knowledge/" for item in nav):
        nav.append(("知识库", "/knowledge/", "knowledge.", "knowledge.view"))
    if not any(item[1] == "/knowledge/review" for item in nav):
        nav.append(("知识审核", "/knowledge/review", "knowledge.review_queue", "knowledge.review"))


def register_files() -> None:
    """Articles own attachments: readable by whoever may read the article, attached and removed by
    editors (never on a read-only bulletin)."""

    def _article(actor: Any, oid: str) -> Article | None:
        try:
            return service.get(actor, int(oid)) if oid.isdigit() else None
        except DomainError:
            return None

    def can_read(actor: Any, oid: str) -> bool:
        return _article(actor, oid) is not None

    def can_write(actor: Any, oid: str) -> bool:
        a = _article(actor, oid) if actor.can("knowledge.edit") else None
        return a is not None and not a.read_only

    files.register_owner(files.Owner("article", "知识文章", can_read, can_write))


@api.before_request
def _api_csrf() -> None:
    web.check_csrf(request.headers.get(web.CSRF_HEADER))


@screens.before_request
def _form_csrf() -> None:
    from node.web.common import require_form_csrf

    web.current_actor()
    require_form_csrf()


# ---- presenting ------------------------------------------------------------------------------------


def _date(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def present(article: Article, *, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": article.id,
        "state": article.state,
        "state_label": STATES[article.state],
        "work_state": article.work_state,
        "source": article.source,
        "source_label": SOURCES.get(article.source, article.source),
        "read_only": article.read_only,
        "title": article.title or service._work_title(article),
        "domain": article.domain,
        "sub_business": article.sub_business,
        "topic": article.topic,
        "region_scope": article.region_scope,
        "effective_date": _date(article.effective_date),
        "expiry_date": _date(article.expiry_date),
        "keywords": [k for k in article.keywords.split(",") if k],
        "use_count": article.use_count,
        "helpful": article.helpful,
        "not_helpful": article.not_helpful,
        "updated_at": article.updated_at.isoformat(timespec="seconds"),
    }
    if full:
        v = service.live(article)
        out["answer"] = article.answer
        out["body_html"] = v.body_html if v else ""
    return out


def present_version(v: Any) -> dict[str, Any]:
    return {
        "number": v.number,
        "status": v.status,
        "status_label": VERSION_STATES.get(v.status, v.status),
        "title": v.title,
        "body_html": v.body_html,
        "domain": v.domain,
        "sub_business": v.sub_business,
        "topic": v.topic,
        "region_scope": v.region_scope,
        "effective_date": _date(v.effective_date),
        "expiry_date": _date(v.expiry_date),
        "keywords": [k for k in v.keywords.split(",") if k],
        "suggested_category": v.suggested,
        "near_duplicates": v.near_duplicates or [],
        "note": v.note,
        "author": v.author.display_name if v.author else "系统",
        "created_at": v.created_at.isoformat(timespec="seconds"),
        "review_comment": v.review_comment,
    }


# ---- API ------------------------------------------------------------------------------------------


def _filters(args: Any) -> dict[str, Any]:
    return {
        "domain": args.get("domain", ""),
        "sub_business": args.get("sub_business", ""),
        "topic": args.get("topic", ""),
        "region": args.get("region", ""),
        "source": args.get("source", ""),
        "validity": args.get("validity", "valid") or "valid",
        "state": args.get("state", ""),
    }


@route(
    api,
    "/articles",
    "GET",
    "检索知识文章（全文检索、同义词扩展、筛选、高亮）",
    TAG,
    query={
        "q": "检索词",
        "domain": "业务领域",
        "sub_business": "子业务",
        "topic": "主题",
        "region": "适用区划",
        "source": "来源 local/bulletin/policy",
        "validity": "valid/expired/all",
        "state": "状态（编辑可用）",
        "page": "页码",
        "page_size": "每页条数",
    },
)
def api_search() -> Any:
    actor = web.current_actor()
    page, size = arg_int("page", 1, 1, 10_000), arg_int("page_size", 20, 1, 100)
    hits, total = service.search_articles(
        actor, request.args.get("q", ""), **_filters(request.args), page=page, size=size
    )
    items = [
        {
            **present(h.article),
            "score": round(h.score, 4),
            "title_html": str(h.title),
            "snippet_html": str(h.snippet),
        }
        for h in hits
    ]
    return jsonify({"items": items, "total": total, "page": page, "page_size": size})


@route(api, "/articles", "POST", "新建知识文章（草稿）", TAG, body=service.ArticleIn, status=201)
def api_create() -> Any:
    article = service.create(web.current_actor(), json_body())
    return jsonify({**present(article), "version": present_version(service.version(article))}), 201


@route(api, "/articles/<int:article_id>", "GET", "知识文章（现行版本）", TAG)
def api_get(article_id: int) -> Any:
    return jsonify(present(service.get(web.current_actor(), article_id), full=True))


@route(
    api,
    "/articles/<int:article_id>",
    "PUT",
    "保存修改（生成新版本；已发布文章为修订稿）",
    TAG,
    body=service.ArticleIn,
)
def api_save(article_id: int) -> Any:
    v = service.save(web.current_actor(), article_id, json_body())
    return jsonify(present_version(v))


class ActionIn(Input):
    comment: Annotated[str, Field(max_length=2000)] = ""


ACTIONS = {
    "submit": lambda a, i, c: service.submit(a, i),
    "approve": lambda a, i, c: service.approve(a, i, c),
    "return": lambda a, i, c: service.send_back(a, i, c),
    "withdraw": lambda a, i, c: service.withdraw(a, i, c),
    "revise": lambda a, i, c: service.revise(a, i).article,
}


@route(
    api,
    "/articles/<int:article_id>/actions/<action>",
    "POST",
    "流转：submit 提交审核 / approve 审核发布 / return 退回（须填意见）/ withdraw 撤回 / revise 修订",
    TAG,
    body=ActionIn,
)
def api_action(article_id: int, action: str) -> Any:
    if action not in ACTIONS:
        raise NotFound(f"未知的操作：{action[:20]}")
    data = parse(ActionIn, json_body())
    article = ACTIONS[action](web.current_actor(), article_id, data.comment)
    return jsonify(present(Article.get_by_id(article.id)))


@route(api, "/articles/<int:article_id>/versions", "GET", "版本历史", TAG)
def api_versions(article_id: int) -> Any:
    article = service.get(web.current_actor(), article_id)
    return jsonify([present_version(v) for v in service.versions(article)])


@route(
    api,
    "/articles/<int:article_id>/diff",
    "GET",
    "两个版本的差异",
    TAG,
    query={"from": "版本号", "to": "版本号"},
)
def api_diff(article_id: int) -> Any:
    article = service.get(web.current_actor(), article_id)
    d = service.diff(
        service.version(article, arg_int("from", 1, 1, 100_000)),
        service.version(article, arg_int("to", 1, 1, 100_000)),
    )
    return jsonify({"fields": [list(f) for f in d.fields], "lines": [list(ln) for ln in d.lines]})


class FeedbackIn(Input):
    kind: Annotated[str, Field(pattern=r"^(use|helpful|not_helpful)$")]


@route(
    api,
    "/articles/<int:article_id>/feedback",
    "POST",
    "坐席反馈：use 引用 / helpful 有用 / not_helpful 无用",
    TAG,
    body=FeedbackIn,
)
def api_feedback(article_id: int) -> Any:
    data = parse(FeedbackIn, json_body())
    return jsonify(present(service.record_feedback(web.current_actor(), article_id, data.kind)))


@route(
    api,
    "/suggest",
    "GET",
    "坐席录入时的知识推荐（按相关度）",
    TAG,
    query={"q": "来电内容", "region": "区划", "limit": "条数"},
)
def api_suggest() -> Any:
    found = suggest.suggest(
        web.current_actor(),
        request.args.get("q", ""),
        region=request.args.get("region", ""),
        limit=arg_int("limit", 5, 1, 20),
    )
    return jsonify([{**present(a), "score": round(s, 4), "answer": a.answer} for a, s in found])


class SynonymIn(Input):
    words: Annotated[str, Field(min_length=1, max_length=400)]


@route(api, "/synonyms", "GET", "同义词组", TAG)
def api_synonyms() -> Any:
    web.current_actor().require("knowledge.view")
    return jsonify([{"id": s.id, "words": s.words.split(",")} for s in Synonym.select().order_by(Synonym.id)])


@route(
    api, "/synonyms", "POST", "新增同义词组（如 网约车=网络预约出租汽车）", TAG, body=SynonymIn, status=201
)
def api_synonym_add() -> Any:
    row = service.save_synonyms(web.current_actor(), parse(SynonymIn, json_body()).words)
    return jsonify({"id": row.id, "words": row.words.split(",")}), 201


@route(api, "/synonyms/<int:group_id>", "DELETE", "删除同义词组", TAG)
def api_synonym_delete(group_id: int) -> Any:
    service.delete_synonyms(web.current_actor(), group_id)
    return jsonify({"id": group_id, "deleted": True})


@route(api, "/from-order/<number>", "POST", "由工单答复生成知识文章草稿", TAG, status=201)
def api_from_order(number: str) -> Any:
    article = service.draft_from_order(web.current_actor(), number)
    return jsonify(present(article)), 201


@route(api, "/export", "GET", "导出整个知识库（Excel）", TAG)
def api_export() -> Any:
    return _export_response()


def _export_response() -> Response:
    data, name = exchange.export_xlsx(web.current_actor())
    from urllib.parse import quote

    resp = Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    resp.headers["Content-Disposition"] = (
        f"attachment; filename=\"knowledge.xlsx\"; filename*=UTF-8''{quote(name)}"
    )
    return resp


# ---- screens --------------------------------------------------------------------------------------


def _catalog() -> dict[str, Any]:
    from node.catalog import service as catalog

    domains = catalog.domains()
    subs = catalog.sub_businesses()
    return {
        "domains": {code: d.name for code, d in domains.items()},
        "subs": {code: (s.domain_id, s.name) for code, s in subs.items()},
    }


def _category_label(domain: str, sub: str) -> str:
    from node.catalog import service as catalog

    if not domain:
        return "未分类"
    label = catalog.domain_name(domain)
    return f"{label} › {catalog.sub_name(sub)}" if sub else label


def _region_label(code: str) -> str:
    from node.catalog import service as catalog

    return "全国" if code in ("", "000000") else catalog.region_name(code)


@screens.app_template_global("kb_category")
def _kb_category(domain: str, sub: str) -> str:
    return _category_label(domain, sub)


@screens.app_template_global("kb_region")
def _kb_region(code: str) -> str:
    return _region_label(code)


@screens.get("/")
def index() -> Any:
    from node.web.common import pages

    actor = web.current_actor()
    args = request.args
    page = arg_int("page", 1, 1, 10_000)
    filters = _filters(args)
    q = args.get("q", "")
    try:
        hits, total = service.search_articles(actor, q, **filters, page=page, size=20)
    except ValidationError as exc:
        flash(exc.message, "error")
        hits, total = [], 0
    counts = dict(
        Article.select(Article.domain, pw.fn.COUNT(Article.id))
        .where(Article.state == "published")
        .group_by(Article.domain)
        .tuples()
    )
    return render_template(
        "knowledge/index.html",
        hits=hits,
        total=total,
        q=q,
        f=filters,
        counts=counts,
        pages=pages(page, total, 20),
        args=args,
        sources=SOURCES,
        states=STATES,
        editor=service.is_editor(actor),
        **_catalog(),
    )


def _article_context(actor: Any, article: Article) -> dict[str, Any]:
    live = service.live(article)
    work = service.version(article) if article.work_version else None
    attachments = files.files_of(actor, "article", str(article.id))
    return {
        "a": article,
        "live": live,
        "work": work,
        "versions": service.versions(article),
        "attachments": [files.present(f) for f in attachments],
        "states": STATES,
        "work_states": WORK_STATES,
        "version_states": VERSION_STATES,
        "sources": SOURCES,
        "feedback_kinds": FEEDBACK_KINDS,
        "editor": service.is_editor(actor),
        "can_edit": actor.can("knowledge.edit") and not article.read_only,
        "can_review": actor.can("knowledge.review"),
        "own_work": work is not None and work.author_id == actor.user_id,
    }


@screens.get("/<int:article_id>")
def article_page(article_id: int) -> Any:
    actor = web.current_actor()
    article = service.get(actor, article_id)
    return render_template("knowledge/article.html", **_article_context(actor, article))


@screens.post("/<int:article_id>/action")
def article_action(article_id: int) -> Any:
    actor = web.current_actor()
    action = request.form.get("action", "")
    comment = request.form.get("comment", "")
    messages = {
        "submit": "已提交审核",
        "approve": "已审核通过并发布",
        "return": "已退回编辑",
        "withdraw": "已撤回",
        "revise": "已建立修订稿（原版本在审核通过前继续有效）",
    }
    try:
        if action in FEEDBACK_KINDS:
            service.record_feedback(actor, article_id, action)
            flash("感谢反馈", "ok")
        elif action in ACTIONS:
            ACTIONS[action](actor, article_id, comment)
            flash(messages[action], "ok")
            if action == "revise":
                return redirect(url_for("knowledge.edit_page", article_id=article_id))
        else:
            raise ValidationError("未知的操作")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("knowledge.article_page", article_id=article_id))


@screens.post("/<int:article_id>/attachments")
def upload_attachment(article_id: int) -> Any:
    actor = web.current_actor()
    request.max_content_length = files.max_upload_bytes() + 256 * 1024
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise ValidationError("请选择要上传的文件")
        files.save(actor, "article", str(article_id), upload.filename, upload.read())
        flash("附件已上传", "ok")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("knowledge.article_page", article_id=article_id))


@screens.post("/<int:article_id>/attachments/<int:file_id>/delete")
def delete_attachment(article_id: int, file_id: int) -> Any:
    try:
        files.delete(web.current_actor(), file_id)
        flash("附件已删除", "ok")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("knowledge.article_page", article_id=article_id))


def _form_data() -> dict[str, Any]:
    form = request.form
    data: dict[str, Any] = {
        name: form.get(name, "")
        for name in (
            "title",
            "body",
            "domain",
            "sub_business",
            "topic",
            "region_scope",
            "keywords",
            "source",
            "source_ref",
            "note",
        )
    }
    for name in ("effective_date", "expiry_date"):
        data[name] = form.get(name) or None
    data["source"] = data["source"] or "local"
    return data


def _editor(
    article: Article | None,
    form: dict[str, Any] | None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Any:
    v = service.version(article) if article is not None else None
    if form is None and v is not None:
        form = {
            "title": v.title,
            "body": v.body_html,
            "domain": v.domain,
            "sub_business": v.sub_business,
            "topic": v.topic,
            "region_scope": v.region_scope,
            "effective_date": _date(v.effective_date) or "",
            "expiry_date": _date(v.expiry_date) or "",
            "keywords": v.keywords.replace(",", "，"),
            "source": article.source if article else "local",
            "source_ref": article.source_ref if article else "",
            "note": "",
        }
    return render_template(
        "knowledge/edit.html",
        a=article,
        v=v,
        form=form or {},
        errors=errors or {},
        sources=SOURCES,
        **_catalog(),
    ), status


@screens.get("/new")
def new_page() -> Any:
    web.current_actor().require("knowledge.edit")
    return _editor(None, None)


@screens.post("/new")
def new_submit() -> Any:
    actor = web.current_actor()
    data = _form_data()
    try:
        article = service.create(actor, data)
    except ValidationError as exc:
        flash(exc.message, "error")
        return _editor(None, data, exc.details if isinstance(exc.details, dict) else {}, 422)
    flash("草稿已保存", "ok")
    return redirect(url_for("knowledge.edit_page", article_id=article.id))


@screens.get("/<int:article_id>/edit")
def edit_page(article_id: int) -> Any:
    actor = web.current_actor()
    actor.require("knowledge.edit")
    return _editor(service.get(actor, article_id), None)


@screens.post("/<int:article_id>/edit")
def edit_submit(article_id: int) -> Any:
    actor = web.current_actor()
    article = service.get(actor, article_id)
    data = _form_data()
    try:
        service.save(actor, article_id, data)
    except ValidationError as exc:
        flash(exc.message, "error")
        return _editor(article, data, exc.details if isinstance(exc.details, dict) else {}, 422)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("knowledge.article_page", article_id=article_id))
    if request.form.get("then") == "submit":
        try:
            service.submit(actor, article_id)
            flash("已保存并提交审核", "ok")
        except DomainError as exc:
            flash(exc.message, "error")
        return redirect(url_for("knowledge.article_page", article_id=article_id))
    flash("已保存为新版本", "ok")
    return redirect(url_for("knowledge.edit_page", article_id=article_id))


@screens.get("/<int:article_id>/diff")
def diff_page(article_id: int) -> Any:
    actor = web.current_actor()
    article = service.get(actor, article_id)
    newest = service.versions(article)[0].number
    to = arg_int("to", newest, 1, 100_000)
    frm = arg_int("from", max(1, to - 1), 1, 100_000)
    d = service.diff(service.version(article, frm), service.version(article, to))
    return render_template(
        "knowledge/diff.html", a=article, d=d, frm=frm, to=to, versions=service.versions(article)
    )


@screens.get("/review")
def review_queue() -> Any:
    actor = web.current_actor()
    actor.require("knowledge.review")
    rows = list(Article.select().where(Article.work_state == "submitted").order_by(Article.updated_at))
    items = [(a, service.version(a)) for a in rows]
    return render_template("knowledge/review.html", items=items, me=actor.user_id)


@screens.get("/expiring")
def expiring_page() -> Any:
    actor = web.current_actor()
    if not service.is_editor(actor):
        actor.require("knowledge.edit")
    days = arg_int("days", 30, 1, 365)
    expired = list(
        Article.select().where(Article.state == "expired").order_by(Article.expiry_date.desc()).limit(50)
    )
    return render_template("knowledge/expiring.html", soon=service.expiring(days), expired=expired, days=days)


@screens.get("/synonyms")
def synonyms_page() -> Any:
    web.current_actor().require("knowledge.view")
    rows = list(Synonym.select().order_by(Synonym.id))
    return render_template("knowledge/synonyms.html", rows=rows)


@screens.post("/synonyms")
def synonyms_submit() -> Any:
    actor = web.current_actor()
    try:
        if request.form.get("action") == "delete":
            gid = request.form.get("id", "")
            service.delete_synonyms(actor, int(gid) if gid.isdigit() else 0)
            flash("已删除同义词组", "ok")
        else:
            gid = request.form.get("id", "")
            service.save_synonyms(actor, request.form.get("words", ""), int(gid) if gid.isdigit() else None)
            flash("同义词组已保存，检索立即生效", "ok")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("knowledge.synonyms_page"))


@screens.get("/import")
def import_page() -> Any:
    web.current_actor().require("knowledge.edit")
    return render_template("knowledge/import.html", preview=None)


@screens.post("/import")
def import_submit() -> Any:
    actor = web.current_actor()
    actor.require("knowledge.edit")
    request.max_content_length = 10 * 1024 * 1024
    try:
        if request.form.get("token"):
            report = exchange.confirm_import(actor, request.form["token"])
            flash(f"已导入 {report['created']} 篇草稿", "ok")
            return redirect(url_for("knowledge.index", state="draft", validity="all"))
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise ValidationError("请选择 Excel（.xlsx）或 Word（.docx）文件")
        preview = exchange.preview_import(actor, upload.filename, upload.read())
    except DomainError as exc:
        flash(exc.message, "error")
        return render_template("knowledge/import.html", preview=None), 422
    return render_template("knowledge/import.html", preview=preview)


@screens.get("/export")
def export_page() -> Any:
    return _export_response()


@screens.post("/suggest")
def workstation_panel() -> Any:
    """The workstation's 知识推荐 panel, refreshed as the agent types the caller's words."""
    actor = web.current_actor()
    text = f"{request.form.get('title', '')[:100]}\n{request.form.get('content', '')[:5000]}"
    region = request.form.get("region_code", "")
    region = region if region.isdigit() and len(region) == 6 else ""
    found = suggest.suggest(actor, text, region=region, limit=5) if text.strip() else []
    return render_template("knowledge/panel.html", found=found)


@screens.post("/from-order/<number>")
def from_order(number: str) -> Any:
    try:
        article = service.draft_from_order(web.current_actor(), number)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(request.referrer or url_for("knowledge.index"))
    flash("已由工单答复生成知识文章草稿", "ok")
    return redirect(url_for("knowledge.edit_page", article_id=article.id))
