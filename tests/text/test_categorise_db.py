"""Categorisation on the real database (SQLite and PostgreSQL): the lexicon table (seed, edits,
history, permissions) used by the next suggestion, the REST API, agents' choices at intake, and
retraining that only goes live when it beats the live categoriser on held-out orders. (Agents'
choices at intake: tests/web/test_suggest_panel.py.)"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from node.audit.models import AuditEntry
from node.errors import Conflict, NotFound, PermissionDenied, ValidationError
from node.text import lexicon, service
from node.text.classifier import is_holdout, make_document
from node.text.models import LexiconChange, LexiconEntry
from node.text.rules import Entry, builtin_entries
from tests.factories import actor, make_order


@pytest.fixture
def fresh(db: str) -> Iterator[None]:
    service._model_cache.clear()
    lexicon.reset()
    yield
    service._model_cache.clear()
    lexicon.reset()


def leaf(text: str) -> str:
    found = service.suggest_categories("", text)["sub_business"]
    return found[0]["code"] if found else ""


# ---- the lexicon table ----------------------------------------------------------------------------


def test_seed_is_idempotent_and_keeps_what_people_changed(fresh: None, monkeypatch: Any) -> None:
    version = lexicon.version()
    assert lexicon.seed()["lexicon_added"] == 0 and lexicon.version() == version  # nothing changed
    admin = actor("admin")
    edited = LexiconEntry.get((LexiconEntry.term == "拒载") & (LexiconEntry.target == "0403"))
    lexicon.update_entry(admin, edited.id, {"weight": 9})
    shipped = builtin_entries()
    release = [e for e in shipped if not (e.term == "的哥" and e.target == "0403")]  # dropped
    release = [
        Entry(e.term, e.target, 1.0) if e.term in ("拒载", "打表") and e.target == "0403" else e
        for e in release
    ] + [Entry("扬招", "0403", 3.0)]  # a new word
    monkeypatch.setattr(lexicon, "builtin_entries", lambda: release)
    counts = lexicon.seed()
    assert counts["lexicon_added"] == 1 and lexicon.version() > version

    def row(term: str) -> LexiconEntry:
        return LexiconEntry.get((LexiconEntry.term == term) & (LexiconEntry.target == "0403"))

    assert row("拒载").weight == 9  # a person's edit wins over the release
    assert row("打表").weight == 1.0  # untouched: takes the release's weight
    assert not row("的哥").enabled  # gone from the release: disabled, kept
    assert row("扬招").builtin and row("扬招").enabled
    assert LexiconChange.select().order_by(LexiconChange.id.desc()).first().action == "seed"


def test_an_edit_is_used_by_the_next_suggestion(fresh: None) -> None:
    admin = actor("admin")
    assert leaf("叮叮车晚点半小时") == ""
    before = lexicon.version()
    row = lexicon.add_entry(admin, " 叮叮车 ", "0401", 4, note="本地对有轨电车的叫法")
    assert row.term == "叮叮车" and lexicon.version() > before
    found = service.suggest_categories("", "叮叮车晚点半小时")["sub_business"][0]
    assert found["code"] == "0401" and "叮叮车" in found["words"]
    assert found["source"] == f"关键词规则（词表第{lexicon.version()}版）"
    lexicon.update_entry(admin, row.id, {"enabled": False})
    assert leaf("叮叮车晚点半小时") == ""
    lexicon.update_entry(admin, row.id, {"enabled": True, "weight": 2.5, "note": "改"})
    assert leaf("叮叮车晚点半小时") == "0401"
    lexicon.delete_entry(admin, row.id)
    assert LexiconEntry.get_or_none(LexiconEntry.id == row.id) is None
    assert leaf("叮叮车晚点半小时") == ""
    # a built-in word is disabled, not deleted, so the next release does not bring it back
    builtin = LexiconEntry.get((LexiconEntry.term == "公交") & (LexiconEntry.target == "0401"))
    lexicon.delete_entry(admin, builtin.id)
    assert not LexiconEntry.get_by_id(builtin.id).enabled
    actions = [c.action for c in lexicon.history(admin, 10)]
    assert actions[:5] == ["edit", "delete", "edit", "edit", "add"]
    last = lexicon.history(admin, 1)[0]
    assert last.before["enabled"] is True and last.after["enabled"] is False and last.by_id == admin.user_id
    # a person's edits are in the node's audit log too
    audited = AuditEntry.select().where(AuditEntry.event == "lexicon.changed").order_by(AuditEntry.seq)
    assert [e.details["action"] for e in audited] == ["add", "edit", "edit", "delete", "edit"]
    assert audited[-1].target == f"lexicon:{builtin.id}" and audited[-1].actor_id == admin.user_id


def test_a_change_written_by_another_process_is_seen(fresh: None) -> None:
    """Another worker's edit arrives only through the database: the version check picks it up."""
    assert leaf("叮叮车晚点") == ""
    service.suggest_categories("", "先编译一次")
    entry = LexiconEntry.create(
        term="叮叮车", target="0401", weight=4.0, updated_at=LexiconChange.select().first().at
    )
    LexiconChange.create(at=entry.updated_at, action="add", entry_id=entry.id)
    assert leaf("叮叮车晚点") == "0401"


def test_lexicon_edits_are_checked_and_refused(fresh: None) -> None:
    admin, agent = actor("admin"), actor("agent")
    for who in (agent, actor("supervisor")):
        with pytest.raises(PermissionDenied):
            lexicon.add_entry(who, "叮叮车", "0401", 4)
        with pytest.raises(PermissionDenied):
            lexicon.list_entries(who, lexicon.EntryFilter())
    for term, target, weight in [
        ("", "0401", 1),
        ("叮叮车", "0499", 1),
        ("叮叮车", "0401", 20),
        ("〈乱写〉", "1", 1),
    ]:
        with pytest.raises(ValidationError):
            lexicon.add_entry(admin, term, target, weight)
    with pytest.raises(Conflict):
        lexicon.add_entry(admin, "拒载", "0403", 1)
    row = lexicon.add_entry(admin, "叮叮车", "0401", 4)
    with pytest.raises(ValidationError):
        lexicon.update_entry(admin, row.id, {"term": "别的"})
    with pytest.raises(ValidationError):
        lexicon.update_entry(admin, row.id, {"enabled": "yes"})
    with pytest.raises(NotFound):
        lexicon.update_entry(admin, 10**9, {"weight": 1})
    version = lexicon.version()
    lexicon.update_entry(admin, row.id, {"weight": 4})  # no change: no new version
    assert lexicon.version() == version
    rows, total = lexicon.list_entries(admin, lexicon.EntryFilter(q="叮叮", kind="category"))
    assert total == 1 and rows[0].id == row.id
    _, types = lexicon.list_entries(admin, lexicon.EntryFilter(kind="type"), 1, 5)
    assert types > 100
    with pytest.raises(ValidationError):
        lexicon.list_entries(admin, lexicon.EntryFilter(kind="colour"))


# ---- REST --------------------------------------------------------------------------------------


def test_lexicon_and_models_over_rest(client: Any, token_for: Any, fresh: None) -> None:
    admin, agent = token_for("admin"), token_for("agent")
    r = client.post(
        "/api/v1/text/lexicon", json={"term": "叮叮车", "target": "0401", "weight": 4}, headers=admin
    )
    assert r.status_code == 201, r.get_json()
    entry = r.get_json()
    assert entry["target_name"] == "城市客运 › 公共汽电车" and entry["kind"] == "category"
    found = client.post("/api/v1/text/suggest", json={"content": "叮叮车晚点"}, headers=agent).get_json()
    assert found["sub_business"][0]["code"] == "0401" and "叮叮车" in found["sub_business"][0]["words"]
    r = client.patch(f"/api/v1/text/lexicon/{entry['id']}", json={"weight": 0}, headers=admin)
    assert r.status_code == 200 and r.get_json()["weight"] == 0
    assert client.get(f"/api/v1/text/lexicon/{entry['id']}", headers=admin).get_json()["weight"] == 0
    listed = client.get("/api/v1/text/lexicon?q=叮叮&enabled=1", headers=admin).get_json()
    assert listed["total"] == 1 and listed["version"] >= 1
    changes = client.get("/api/v1/text/lexicon/changes?limit=2", headers=admin).get_json()
    assert [c["action"] for c in changes] == ["edit", "add"]
    tokens = client.get("/api/v1/text/lexicon/tokens", headers=admin).get_json()
    assert any(t["token"] == "〈公交线路〉" for t in tokens)
    assert client.delete(f"/api/v1/text/lexicon/{entry['id']}", headers=admin).status_code == 204
    # bad input: a clear Chinese message, nothing stored
    for body in [
        {"term": "x", "target": "9", "weight": 1},
        {"term": "x", "target": "01", "weight": 99},
        {"term": "x"},
    ]:
        r = client.post("/api/v1/text/lexicon", json=body, headers=admin)
        assert r.status_code == 422 and r.get_json()["message"], body
    assert client.patch(f"/api/v1/text/lexicon/{entry['id']}", json={}, headers=admin).status_code == 422
    assert client.get("/api/v1/text/lexicon?enabled=maybe", headers=admin).status_code == 422
    # refused roles
    assert client.get("/api/v1/text/lexicon", headers=agent).status_code == 403
    assert (
        client.post(
            "/api/v1/text/lexicon", json={"term": "叮", "target": "01", "weight": 1}, headers=agent
        ).status_code
        == 403
    )
    assert client.post("/api/v1/text/models/sub_business/train", headers=agent).status_code == 403
    assert client.get("/api/v1/text/lexicon").status_code == 401
    # models: the rules are live until a model wins
    status = client.get("/api/v1/text/models", headers=token_for("supervisor")).get_json()
    assert [s["live"]["source"] for s in status] == ["rules", "rules"]
    trained = client.post("/api/v1/text/models/sub_business/train", headers=admin).get_json()
    assert trained["version"] is None and "不足50条" in trained["reason"]
    r = client.post("/api/v1/text/models/sub_business/activate", json={"version": 7}, headers=admin)
    assert r.status_code == 404
    r = client.post("/api/v1/text/models/sub_business/activate", json={}, headers=admin)
    assert r.status_code == 200 and r.get_json()["live"]["source"] == "rules"
    # the form's other fields are evidence too
    found = client.post(
        "/api/v1/text/suggest", json={"content": "司机态度很差", "respondent_route": "65"}, headers=agent
    ).get_json()
    assert found["sub_business"][0]["code"] == "0401" and "65路" in found["sub_business"][0]["words"]


# ---- learning: a model goes live only when it beats the live categoriser ------------------------

HOLDOUT = 0.4
PLACES = ["新街口", "鼓楼", "河西", "仙林", "江宁", "浦口", "六合", "溧水", "高淳", "栖霞", "雨花台", "秦淮"]
ISSUES = [
    "今天早上等了很久",
    "昨天晚上服务很不好",
    "上周三下午遇到的情况",
    "这个月已经第二次了",
    "周末带孩子出门时",
]


def confirm(agent: Any, content: str, sub: str) -> None:
    order = make_order(content=content, title="", business_type="1", domain=sub[:2], sub_business=sub)
    service.record_category_choice(agent, order.number, "sub_business", sub)


def texts(words: dict[str, list[str]], side: str, per_class: int) -> list[tuple[str, str]]:
    """Contents on the requested side of the held-out split (train or held out), `per_class` each."""
    out = []
    for sub, names in words.items():
        got = 0
        for n, (place, issue) in enumerate(itertools.product(PLACES, ISSUES)):
            name = names[n % len(names)]
            content = f"{place}{issue}，{name}的事情想反映一下，第{n}次记录"
            if is_holdout(make_document("", content), HOLDOUT, salt=service.HOLDOUT_SALT) == (
                side == "held out"
            ):
                out.append((content, sub))
                got += 1
            if got == per_class:
                break
    return out


def test_a_model_that_beats_the_rules_goes_live(fresh: None) -> None:
    agent, admin = actor("agent"), actor("admin")
    # the node's own words, unknown to the shipped lexicon
    local = {"0401": ["叮叮车"], "0403": ["蓝鲸约车"], "0305": ["钣喷中心"]}
    for content, sub in texts(local, "train", 14) + texts(local, "held out", 8):
        confirm(agent, content, sub)
    outcome = service.train_from_orders("sub_business", holdout=HOLDOUT)
    assert outcome.activated and outcome.row is not None and outcome.row.active
    assert outcome.candidate.accuracy > outcome.live.accuracy and outcome.live_name.startswith("关键词规则")
    assert outcome.row.metrics["compared_with"] == outcome.live_name and "已启用" in outcome.reason
    found = service.suggest_categories("", "鼓楼的叮叮车又晚点了")
    assert found["sub_business"][0]["code"] == "0401" and found["sub_business"][0]["model_version"] == 1
    assert found["domain"][0]["code"] == "04"
    status = {s["kind"]: s for s in service.model_status(admin)}
    assert status["sub_business"]["live"] == {"source": "model", "version": 1, "name": "模型第1版"}
    assert status["business_type"]["live"]["source"] == "rules"
    # back to the rules, and forward again: both are kept
    service.activate_model(admin, "sub_business", None)
    assert service.suggest_categories("", "叮叮车晚点")["sub_business"] == []  # the rules do not know it
    assert service.suggest_categories("", "公交车晚点")["sub_business"][0]["model_version"] is None
    service.activate_model(admin, "sub_business", 1)
    assert service.suggest_categories("", "叮叮车晚点")["sub_business"][0]["model_version"] == 1


def test_a_model_worse_than_the_rules_is_kept_but_not_activated(fresh: None) -> None:
    agent = actor("agent")
    # training orders use some everyday words, held-out orders others: the lexicon knows all of
    # them, a model trained on the first set cannot know the second
    seen = {"0401": ["公交车", "公交站台"], "0403": ["出租车", "网约车"], "0306": ["驾校", "学车"]}
    unseen = {"0401": ["几路车", "候车亭"], "0403": ["的哥", "计价器"], "0306": ["科目二", "陪练"]}
    for content, sub in texts(seen, "train", 14) + texts(unseen, "held out", 8):
        confirm(agent, content, sub)
    outcome = service.train_from_orders("sub_business", holdout=HOLDOUT)
    assert outcome.row is not None and not outcome.activated and not outcome.row.active
    assert outcome.candidate.accuracy < outcome.live.accuracy
    assert "未超过" in outcome.reason and outcome.row.metrics["activated"] is False
    assert service.suggest_categories("", "的哥不打表")["sub_business"][0]["model_version"] is None
    assert [m.version for m in service.list_models("sub_business")] == [1]
    status = {s["kind"]: s for s in service.model_status(actor("admin"))}
    assert status["sub_business"]["live"]["source"] == "rules"
    assert status["sub_business"]["models"][0]["active"] is False
