"""Knowledge workflow on both databases: every allowed and refused transition per role, versions
and diffs, expiry by the job, bulletins arriving read-only, sanitising, synonyms, search filters."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest

from node import clock
from node.audit.models import AuditEntry
from node.errors import InvalidTransition, NotFound, PermissionDenied, ValidationError
from node.knowledge import service
from node.knowledge.models import Article, ArticleVersion
from node.notices.models import Notice
from tests import factories

BODY = "<p>网约车平台应当公示计程计价方式。</p><ul><li>乘客可拨打12328投诉</li></ul>"


def article_data(**over: Any) -> dict[str, Any]:
    data = {
        "title": "网约车计价规则咨询",
        "body": BODY,
        "domain": "04",
        "sub_business": "0403",
        "topic": "计价",
        "keywords": "网约车，计价",
    }
    data.update(over)
    return data


def published(author: Any, reviewer: Any, **over: Any) -> Article:
    article = service.create(author, article_data(**over))
    service.submit(author, article.id)
    return service.approve(reviewer, article.id)


def test_draft_submit_approve_publish(db: str) -> None:
    author, reviewer = factories.actor("knowledge_editor"), factories.actor("knowledge_editor")
    article = service.create(author, article_data())
    assert (article.state, article.work_state, article.search_text) == ("draft", "draft", "")
    v1 = service.version(article)
    assert v1.number == 1 and "<li>" in v1.body_html and "乘客可拨打12328投诉" in v1.body_text
    assert v1.suggested is None or "confidence" in v1.suggested
    with pytest.raises(InvalidTransition):
        service.approve(reviewer, article.id)  # not submitted yet
    service.submit(author, article.id)
    assert Article.get_by_id(article.id).state == "submitted"
    told = {n.user_id for n in Notice.select().where(Notice.kind == "review")}
    assert reviewer.user_id in told and author.user_id not in told, "reviewers are told, not the author"
    with pytest.raises(InvalidTransition, match="审核中"):
        service.save(author, article.id, article_data(title="改"))
    with pytest.raises(PermissionDenied, match="本人"):
        service.approve(author, article.id)
    with pytest.raises(PermissionDenied):
        service.approve(factories.actor("agent"), article.id)
    article = service.approve(reviewer, article.id, "同意")
    assert (article.state, article.work_state, article.live_version) == ("published", "", v1.id)
    assert "网约车" in article.search_text and article.answer.startswith("网约车平台")
    assert ArticleVersion.get_by_id(v1.id).status == "published"
    assert AuditEntry.select().where(AuditEntry.event == "knowledge.approved").count() == 1
    with pytest.raises(InvalidTransition):
        service.submit(author, article.id)  # nothing to submit


def test_send_back_needs_comment_and_returns_to_author(db: str) -> None:
    author, reviewer = factories.actor("knowledge_editor"), factories.actor("knowledge_editor")
    article = service.create(author, article_data())
    service.submit(author, article.id)
    with pytest.raises(ValidationError, match="审核意见"):
        service.send_back(reviewer, article.id, "  ")
    article = service.send_back(reviewer, article.id, "计价标准请注明文件依据")
    back = Notice.select().where(Notice.user == author.user_id, Notice.kind == "review").first()
    assert back is not None and "被退回" in back.title
    assert (article.state, article.work_state) == ("draft", "returned")
    assert service.version(article).review_comment == "计价标准请注明文件依据"
    v2 = service.save(author, article.id, article_data(body=BODY + "<p>依据：某某办法</p>"))
    assert v2.number == 2
    service.submit(author, article.id)
    assert service.approve(reviewer, article.id).live_version == v2.id


def test_revision_keeps_published_version_live(db: str) -> None:
    author, reviewer = factories.actor("knowledge_editor"), factories.actor("knowledge_editor")
    article = published(author, reviewer)
    first_live = article.live_version
    v2 = service.revise(author, article.id)
    with pytest.raises(InvalidTransition):
        service.revise(author, article.id)
    v3 = service.save(author, article.id, article_data(title="网约车计价规则（2027年修订）"))
    article = Article.get_by_id(article.id)
    assert (article.state, article.work_state, article.live_version) == ("published", "draft", first_live)
    assert article.title == "网约车计价规则咨询", "the published version stays live"
    hits, _ = service.search_articles(factories.actor("agent"), "网约车")
    assert [h.article.id for h in hits] == [article.id]
    service.submit(author, article.id)
    article = service.approve(reviewer, article.id)
    assert article.live_version == v3.id and article.title.endswith("（2027年修订）")
    assert ArticleVersion.get_by_id(first_live).status == "superseded"
    assert [v.number for v in service.versions(article)] == [3, 2, 1] and v2.number == 2
    d = service.diff(ArticleVersion.get_by_id(first_live), v3)
    assert ("标题", "网约车计价规则咨询", "网约车计价规则（2027年修订）") in d.fields


def test_withdraw_and_roles(db: str) -> None:
    author, reviewer = factories.actor("knowledge_editor"), factories.actor("knowledge_editor")
    agent = factories.actor("agent")
    with pytest.raises(PermissionDenied):
        service.create(agent, article_data())
    article = published(author, reviewer)
    assert service.get(agent, article.id).id == article.id
    with pytest.raises(PermissionDenied):
        service.withdraw(agent, article.id)
    service.withdraw(reviewer, article.id, "政策已废止")
    with pytest.raises(NotFound):
        service.get(agent, article.id)
    with pytest.raises(InvalidTransition):
        service.withdraw(reviewer, article.id)
    assert service.search_articles(agent, "网约车")[1] == 0
    draft = service.create(author, article_data(title="草稿文章"))
    with pytest.raises(NotFound):
        service.get(agent, draft.id)
    for bad in (0, -5, "1", None, 2**63):
        with pytest.raises(NotFound):
            service.get(author, bad)


def test_validation(db: str) -> None:
    author = factories.actor("knowledge_editor")
    cases = [
        ({"title": ""}, "title"),
        ({"body": "\x00"}, "body"),
        ({"domain": "4"}, "domain"),
        ({"sub_business": "0101"}, "子业务"),
        ({"region_scope": "999999"}, "行政区划"),
        ({"effective_date": "2027-13-01"}, "effective_date"),
        ({"expiry_date": "9999-01-01"}, "expiry_date"),
        ({"effective_date": "2027-02-01", "expiry_date": "2027-01-01"}, "失效日期"),
        ({"unknown": 1}, "unknown"),
        ({"body": "<script>alert(1)</script>"}, "正文不能为空"),
    ]
    for over, needle in cases:  # the field (details key) or the words of the message
        with pytest.raises(ValidationError) as err:
            service.create(author, article_data(**over))
        assert needle in str(err.value) or needle in (err.value.details or {}), (over, str(err.value))


def test_sanitising_keeps_lists_and_tables_but_no_script(db: str) -> None:
    author = factories.actor("knowledge_editor")
    body = (
        '<p onclick="x()">说明<script>alert(1)</script></p><table><tr><td colspan="2">票价</td></tr></table>'
        '<a href="javascript:alert(1)">链接</a><img src=x onerror=alert(1)><a href="https://x.cn">官网</a>'
    )
    v = service.version(service.create(author, article_data(body=body)))
    assert "<script" not in v.body_html and "onclick" not in v.body_html and "onerror" not in v.body_html
    assert "javascript:" not in v.body_html and "<img" not in v.body_html
    assert '<td colspan="2">票价</td>' in v.body_html and 'href="https://x.cn"' in v.body_html
    assert "alert" not in v.body_text


def test_expiry_job_warns_then_expires(db: str) -> None:
    author, reviewer = factories.actor("knowledge_editor"), factories.actor("knowledge_editor")
    with clock.frozen(dt.datetime(2027, 3, 1, 9, tzinfo=dt.UTC)):
        article = published(author, reviewer, expiry_date="2027-03-05")
        with pytest.raises(ValidationError, match="失效日期已过"):
            old = service.create(author, article_data(title="旧", expiry_date="2027-02-01"))
            service.submit(author, old.id)
            service.approve(reviewer, old.id)
        assert service.expire_due() == {"expired": 0, "warned": 1}
        assert Notice.select().where(Notice.user == author.user_id, Notice.kind == "warning").exists()
        assert service.expire_due() == {"expired": 0, "warned": 0}, "warned once"
        assert [a.id for a in service.expiring(30)] == [article.id]
    with clock.frozen(dt.datetime(2027, 3, 6, 9, tzinfo=dt.UTC)):
        assert service.expire_due()["expired"] == 1
    article = Article.get_by_id(article.id)
    assert article.state == "expired" and article.search_text == ""


def test_bulletin_arrives_published_and_read_only(db: str) -> None:
    from federation.models import KnowledgeBulletin

    now = clock.now().replace(tzinfo=None)
    row = KnowledgeBulletin.create(
        bulletin_id="b-1", issuer="320000", origin="320000", scope="320000", title="春运期间客运安全通报",
        body="各地加强客运站安全检查。", category="工作通知", tags="春运,安全", published_at=now,
        revision=1, received_at=now,
    )  # fmt: skip
    article = service.apply_bulletin(row)
    assert (article.state, article.source, article.read_only) == ("published", "bulletin", True)
    assert article.region_scope == "320000" and article.keywords == "春运,安全"
    editor = factories.actor("knowledge_editor")
    for action in (
        lambda: service.save(editor, article.id, article_data()),
        lambda: service.revise(editor, article.id),
        lambda: service.withdraw(editor, article.id),
    ):
        with pytest.raises(PermissionDenied, match="只读"):
            action()
    row.revision, row.body, row.withdrawn = 2, "更新：加强安检。", True
    row.save()
    article = service.apply_bulletin(row)
    assert article.state == "withdrawn" and len(service.versions(article)) == 2
    assert service.apply_bulletin(row).id == article.id and len(service.versions(article)) == 2


def test_search_filters_synonyms_and_highlight(db: str) -> None:
    author, reviewer = factories.actor("knowledge_editor"), factories.actor("knowledge_editor")
    agent = factories.actor("agent")
    taxi = published(author, reviewer)
    bus = published(
        author, reviewer, title="公交车卡充值", body="公交卡可在地铁站充值。", domain="04",
        sub_business="0401", keywords="公交卡", region_scope="320100",
    )  # fmt: skip
    hits, total = service.search_articles(agent, "网约车")
    assert total == 1 and hits[0].article.id == taxi.id and "<mark>网约车</mark>" in str(hits[0].title)
    assert service.search_articles(agent, "网络预约出租汽车")[1] == 0
    service.save_synonyms(author, "网约车，网络预约出租汽车")
    hits, _ = service.search_articles(agent, "网络预约出租汽车 计价")
    assert [h.article.id for h in hits] == [taxi.id]
    assert [h.article.id for h in service.search_articles(agent, "充值", region="320102")[0]] == [bus.id]
    assert service.search_articles(agent, "充值", region="110101")[1] == 0
    assert [h.article.id for h in service.search_articles(agent, "", sub_business="0403")[0]] == [taxi.id]
    assert service.search_articles(agent, "", source="bulletin")[1] == 0
    for bad in ({"domain": "x"}, {"validity": "no"}, {"state": "draft"}, {"source": "x"}, {"region": "1"}):
        with pytest.raises(ValidationError):
            service.search_articles(agent, "", **bad)
    with pytest.raises(ValidationError):
        service.search_articles(agent, "a\x00")
    with pytest.raises(ValidationError):
        service.save_synonyms(author, "孤词")


def test_feedback_near_duplicates_and_draft_from_order(db: str) -> None:
    author, reviewer = factories.actor("knowledge_editor"), factories.actor("knowledge_editor")
    agent = factories.actor("agent")
    article = published(author, reviewer)
    service.record_feedback(agent, article.id, "use")
    updated = service.record_feedback(agent, article.id, "helpful")
    assert (updated.use_count, updated.helpful, updated.not_helpful) == (1, 1, 0)
    with pytest.raises(ValidationError):
        service.record_feedback(agent, article.id, "love")
    twin = service.create(author, article_data(note="重复"))
    flagged = service.version(twin).near_duplicates
    assert flagged and flagged[0]["id"] == article.id and flagged[0]["score"] >= 0.6
    order = factories.make_order(state="replied")
    draft = service.draft_from_order(author, order.number)
    assert draft.state == "draft" and "已约谈驾驶员" in service.version(draft).body_text
    with pytest.raises(ValidationError):
        service.draft_from_order(author, "123")


def suggested(text: str) -> list[str]:
    from node.auth.service import SYSTEM
    from node.knowledge import suggest

    return [a.title for a, _ in suggest.suggest(SYSTEM, text, limit=5)]


def test_suggestions_follow_publishing_without_a_rebuild(db: str, monkeypatch: Any) -> None:
    """A published, revised or withdrawn article changes the suggestions in the next request by
    updating the index in place: the full build runs once."""
    from node.knowledge import suggest

    author, reviewer = factories.actor("knowledge_editor"), factories.actor("knowledge_editor")
    taxi = published(author, reviewer, title="出租车拒载如何投诉", body="<p>记下车牌号，拨打12328投诉。</p>")
    published(author, reviewer, title="公交卡挂失办理", body="<p>携带身份证到公交服务网点办理挂失。</p>")
    first = suggest.index()
    assert suggested("出租车拒载") == ["出租车拒载如何投诉"]

    def no_rebuild(signature: Any) -> Any:
        raise AssertionError("full rebuild")

    monkeypatch.setattr(suggest, "_build", no_rebuild)
    refund = published(author, reviewer, title="网约车退款流程", body="<p>在平台内申请退款，七日内到账。</p>")
    assert suggested("网约车退款")[:1] == ["网约车退款流程"]
    service.revise(author, taxi.id)
    service.save(author, taxi.id, article_data(title="出租车绕路怎么办", body="<p>保留发票，拨打12328。</p>"))
    assert suggested("出租车绕路")[:1] == ["出租车拒载如何投诉"], "the published version stays live"
    service.submit(author, taxi.id)
    service.approve(reviewer, taxi.id)
    assert suggested("出租车绕路")[:1] == ["出租车绕路怎么办"]
    assert "出租车绕路怎么办" not in suggested("拒载")
    service.withdraw(reviewer, refund.id, "政策调整")
    assert "网约车退款流程" not in suggested("网约车退款")
    assert suggest.index() is first and set(first.meta) == {taxi.id, refund.id - 1}
    # a change that did not set updated_at (a hand-edited database) is found by the published count
    Article.update(state="withdrawn", updated_at=dt.datetime(2020, 1, 1)).where(
        Article.id == taxi.id
    ).execute()
    assert "出租车绕路怎么办" not in suggested("出租车绕路") and set(first.meta) == {refund.id - 1}


def test_a_large_change_is_indexed_in_the_background(db: str, monkeypatch: Any) -> None:
    """More than SYNC_UPDATE_MAX changed articles: the request answers from the index as it is and a
    thread brings it up to date."""
    from node.knowledge import suggest

    monkeypatch.setattr(suggest, "SYNC_UPDATE_MAX", 1)
    author, reviewer = factories.actor("knowledge_editor"), factories.actor("knowledge_editor")
    published(author, reviewer, title="出租车拒载如何投诉")
    first = suggest.index()
    published(author, reviewer, title="公交卡挂失办理")
    published(author, reviewer, title="网约车退款流程")
    threads: list[threading.Thread] = []
    # the thread is created by the code under test; its target runs here, inside this test's
    # transaction (a thread of its own would have a connection that cannot see the test's rows)
    monkeypatch.setattr(threading.Thread, "start", lambda thread: threads.append(thread))
    assert suggest.index() is first and suggest._rebuilding
    assert [t.name for t in threads] == ["knowledge-index"]
    assert suggest.index() is first and len(threads) == 1, "one update at a time"
    assert "网约车退款流程" not in suggested("网约车退款")
    threads[0].run()
    assert not suggest._rebuilding and suggest.index() is first and len(first.meta) == 3
    assert suggested("网约车退款")[:1] == ["网约车退款流程"]
