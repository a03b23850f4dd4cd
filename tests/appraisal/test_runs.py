"""Runs with known orders, calls, ratings and inspections: raw values from the engine and the
appraisal measures, scheme versions across periods, adjustments, publication, objections and who
sees what. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from node import clock
from node.appraisal import qa, runs, schemes
from node.appraisal.models import Result
from node.audit.models import AuditEntry
from node.errors import PermissionDenied, ValidationError
from tests import factories
from tests.appraisal import helpers

NOV = dt.datetime(2026, 11, 3, 10)
AFTER = dt.datetime(2026, 12, 2, 9)

AGENT_ITEMS = [
    {"indicator": "calls_handled", "weight": 40, "rule": "linear", "floor": 0, "target": 4},
    {"indicator": "qa_score", "weight": 30, "rule": "thresholds", "bands": [[90, 30], [80, 20]]},
    {"indicator": "phone_satisfaction", "weight": 30, "rule": "linear", "floor": 0.5, "target": 1},
]
UNIT_ITEMS = [
    {"indicator": "sign_on_time_rate", "weight": 20, "rule": "linear", "floor": 0, "target": 1},
    {"indicator": "on_time_rate", "weight": 40, "rule": "linear", "floor": 0, "target": 1},
    {"indicator": "urges_received", "weight": 20, "rule": "deduction", "per_event": 5},
    {"indicator": "returns", "weight": 20, "rule": "deduction", "per_event": 4, "cap": 8},
]


def _agents() -> tuple[object, object]:
    a = factories.make_user("agent")
    b = factories.make_user("agent")
    sa, sb = helpers.seat(a), helpers.seat(b)
    c1 = helpers.call(sa, NOV, wait_s=4, talk_s=200, rating=1)
    helpers.call(sa, NOV + dt.timedelta(days=1), wait_s=6, talk_s=100, rating=1)
    helpers.call(sa, NOV + dt.timedelta(days=2), wait_s=5, talk_s=300, rating=3)
    helpers.call(sb, NOV, wait_s=20, talk_s=500, rating=3)
    helpers.call(sa, dt.datetime(2026, 10, 5, 9), rating=1)  # October
    return a, b, c1


def _score_all(inspector: object, period: str) -> None:
    for row in qa.listing(inspector, period):
        qa.score(
            inspector, row.id, {"greeting": 15, "accuracy": 27, "attitude": 23, "script": 12, "order": 15}
        )


def test_agent_run_uses_engine_values_qa_and_the_scheme_in_force(db: str) -> None:
    admin = factories.actor("admin")
    leader = factories.actor("shift_leader")
    a, b, _ = _agents()
    with clock.frozen(AFTER):
        v2 = schemes.save(
            admin, "agent", name="话务员考核（11月起）", effective_from="2026-11-01", items=AGENT_ITEMS
        )
        assert v2.version == 2  # version 1 is the default scheme
        qa.sample(leader, "2026-11", per_agent=0)  # only the 不满意 calls: one each
        rows = qa.listing(leader, "2026-11")
        assert sorted(r.agent_user_id for r in rows) == sorted([a.id, b.id])
        assert {r.reason for r in rows} == {"unsatisfied"}
        mine = next(r for r in rows if r.agent_user_id == a.id)
        qa.score(leader, mine.id, {"greeting": 15, "accuracy": 27, "attitude": 23, "script": 12, "order": 15})
        nov = runs.score_period(leader, "agent", "2026-11")
        octo = runs.score_period(leader, "agent", "2026-10")
    assert nov.scheme.version == 2 and octo.scheme.version == 1
    results = {r.subject_id: r for r in Result.select().where(Result.run == nov)}
    ra, rb = results[str(a.id)], results[str(b.id)]
    items = {i["key"]: i for i in ra.items}
    assert items["calls_handled"]["raw"] == 3 and items["calls_handled"]["points"] == 30
    assert items["qa_score"]["raw"] == 92 and items["qa_score"]["points"] == 30
    assert items["phone_satisfaction"]["raw"] == pytest.approx(2 / 3, abs=1e-4)
    assert items["phone_satisfaction"]["points"] == pytest.approx(10, abs=0.01)
    assert ra.total == pytest.approx(70, abs=0.01) and ra.rank == 1
    b_items = {i["key"]: i for i in rb.items}
    assert (
        b_items["qa_score"]["raw"] is None and b_items["qa_score"]["points"] is None
    )  # not scored: excluded
    assert rb.total == pytest.approx((10 + 0) * 100 / 70, abs=0.01) and rb.rank == 2
    # October: the default scheme's items, and the evidence behind a figure are the calls
    assert {i["key"] for i in Result.get(Result.run == octo, Result.subject_id == str(a.id)).items} == {
        "calls_handled",
        "asa",
        "aht",
        "qa_score",
        "phone_satisfaction",
    }
    from node.appraisal import measures, periods

    calls = measures.evidence("agent", "calls_handled", str(a.id), periods.parse("2026-11"))
    assert len(calls) == 3 and {c["kind"] for c in calls} == {"call"}
    sat = measures.evidence("agent", "phone_satisfaction", str(a.id), periods.parse("2026-11"))
    assert sorted(c["note"] for c in sat) == ["仅计入分母", "计入分子", "计入分子"]


def test_unit_run_adjustments_publish_and_objection(db: str) -> None:
    leader = factories.actor("shift_leader")
    admin = factories.actor("admin")
    u1, u2 = factories.make_unit(), factories.make_unit()
    o1 = helpers.unit_order(u1, NOV, signed_after_h=1, closed_after_d=3)
    helpers.unit_order(u1, NOV, signed_after_h=5, closed_after_d=8)  # signed late, closed late
    helpers.unit_order(u2, NOV, signed_after_h=1, closed_after_d=2)
    helpers.urge(o1, u1, NOV + dt.timedelta(days=1))
    helpers.urge(o1, u1, NOV + dt.timedelta(days=1), automatic=True)  # automatic warnings do not count
    helpers.returned(o1, u1, NOV)
    helpers.returned(o1, u1, NOV)
    helpers.returned(o1, u1, NOV)
    with clock.frozen(AFTER):
        schemes.save(
            admin,
            "unit",
            name="承办单位考核",
            effective_from="2026-11-01",
            items=UNIT_ITEMS,
            bonus_cap=3,
            penalty_cap=5,
        )
        run = runs.score_period(leader, "unit", "2026-11")
        r1 = Result.get(Result.run == run, Result.subject_id == str(u1.id))
        r2 = Result.get(Result.run == run, Result.subject_id == str(u2.id))
        i1 = {i["key"]: i for i in r1.items}
        assert i1["sign_on_time_rate"]["raw"] == 0.5 and i1["sign_on_time_rate"]["points"] == 10
        assert i1["on_time_rate"]["raw"] == 0.5 and i1["on_time_rate"]["points"] == 20
        assert i1["urges_received"]["raw"] == 1 and i1["urges_received"]["points"] == 15
        assert i1["returns"]["raw"] == 3 and i1["returns"]["points"] == 12  # 3 × 4 capped at 8
        assert r1.total == 57 and r2.total == 100 and (r2.rank, r1.rank) == (1, 2)

        # hand adjustments: a reason is required, caps hold, every change is audited
        with pytest.raises(ValidationError):
            runs.adjust(leader, r1.id, 2, "  ")
        with pytest.raises(ValidationError):
            runs.adjust(leader, r1.id, "1e400", "x")
        with pytest.raises(PermissionDenied):
            runs.adjust(factories.actor("agent"), r1.id, 1, "理由")
        runs.adjust(leader, r1.id, 3, "抢险救灾表现突出")
        with pytest.raises(ValidationError, match="加分合计"):
            runs.adjust(leader, r1.id, 0.5, "再加")
        runs.adjust(leader, r2.id, -5, "群众投诉属实")
        with pytest.raises(ValidationError, match="扣分合计"):
            runs.adjust(leader, r2.id, -1, "再扣")
        r1, r2 = Result.get_by_id(r1.id), Result.get_by_id(r2.id)
        assert (r1.total, r2.total, r2.rank) == (60, 95, 1)
        assert AuditEntry.select().where(AuditEntry.event == "appraisal.adjust").count() == 2

        # a re-score of the draft keeps the adjustments
        run = runs.score_period(leader, "unit", "2026-11")
        assert Result.get(Result.run == run, Result.subject_id == str(u1.id)).total == 60

        staff1 = factories.actor("unit_staff", u1)
        staff2 = factories.actor("unit_staff", u2)
        r1 = Result.get(Result.run == run, Result.subject_id == str(u1.id))
        with pytest.raises(ValidationError, match="发布后"):
            runs.file_objection(staff1, r1.id, "退回次数有误")
        assert runs.ranking(staff1, "unit", "2026-11")[1] == []  # drafts are not shown to units
        runs.publish(leader, run.id)
        with pytest.raises(ValidationError):
            runs.score_period(leader, "unit", "2026-11")
        with pytest.raises(ValidationError):
            runs.adjust(leader, r1.id, 1, "发布后调整")

        # a unit sees only itself
        _, seen = runs.ranking(staff1, "unit", "2026-11")
        assert [row.result.subject_id for row in seen] == [str(u1.id)]
        with pytest.raises(PermissionDenied):
            runs.result_for(staff2, r1.id)
        _, all_rows = runs.ranking(leader, "unit", "2026-11")
        assert len(all_rows) >= 2

        # objection: only the unit's own staff, one pending at a time, decided by a leader
        with pytest.raises(PermissionDenied):
            runs.file_objection(staff2, r1.id, "不是我们的")
        with pytest.raises(ValidationError):
            runs.file_objection(staff1, r1.id, "x", item_key="nope")
        obj = runs.file_objection(staff1, r1.id, "其中两次退回为同一工单重复提交", item_key="returns")
        with pytest.raises(ValidationError, match="待处理"):
            runs.file_objection(staff1, r1.id, "再次申诉")
        with pytest.raises(PermissionDenied):
            runs.decide_objection(staff1, obj.id, True, "自己批准", 4)
        runs.decide_objection(leader, obj.id, True, "核实重复退回两次，更正", 4)
        with pytest.raises(ValidationError, match="已处理"):
            runs.decide_objection(leader, obj.id, False, "再处理")
        r1 = Result.get_by_id(r1.id)
        assert r1.total == 64 and r1.adjustment == 7
        assert AuditEntry.select().where(AuditEntry.event == "appraisal.objection").count() == 1
        assert [o.status for o in runs.objections(staff1)] == ["upheld"]
        assert runs.objections(staff2) == []


def test_ranking_trend_against_previous_period(db: str) -> None:
    leader = factories.actor("shift_leader")
    u = factories.make_unit()
    helpers.unit_order(u, dt.datetime(2026, 10, 5, 9), signed_after_h=5)
    helpers.unit_order(u, NOV)
    with clock.frozen(AFTER):
        runs.score_period(leader, "unit", "2026-10")
        runs.score_period(leader, "unit", "2026-11")
        _, rows = runs.ranking(leader, "unit", "2026-11")
    row = next(r for r in rows if r.result.subject_id == str(u.id))
    assert row.previous_total is not None and row.trend == pytest.approx(
        row.result.total - row.previous_total
    )
    assert row.trend > 0


def test_unfinished_period_and_bad_input_are_refused(db: str) -> None:
    leader = factories.actor("shift_leader")
    with clock.frozen(dt.datetime(2026, 11, 20)):
        with pytest.raises(ValidationError, match="尚未结束"):
            runs.score_period(leader, "unit", "2026-11")
        for bad in ("2026-13", "abc", "2026-11\x00"):
            with pytest.raises(ValidationError):
                runs.score_period(leader, "unit", bad)
        with pytest.raises(ValidationError):
            runs.score_period(leader, "nobody", "2026-10")
        with pytest.raises(PermissionDenied):
            runs.score_period(factories.actor("agent"), "unit", "2026-10")


def test_scheme_versions_and_validation(db: str) -> None:
    admin = factories.actor("admin")
    from node.appraisal import periods

    with pytest.raises(PermissionDenied):
        schemes.save(
            factories.actor("shift_leader"), "unit", name="x", effective_from="2026-11-01", items=UNIT_ITEMS
        )
    with pytest.raises(ValidationError, match="第一天"):
        schemes.save(admin, "unit", name="x", effective_from="2026-11-15", items=UNIT_ITEMS)
    with pytest.raises(ValidationError):
        schemes.save(
            admin,
            "unit",
            name="x",
            effective_from="2026-11-01",
            items=[{"indicator": "calls_handled", "weight": 1, "rule": "linear", "floor": 0, "target": 1}],
        )
    with pytest.raises(ValidationError):
        schemes.save(admin, "unit", name="x", effective_from="2026-13-01", items=UNIT_ITEMS)
    schemes.save(
        admin, "unit", name="季度方案", period_kind="quarter", effective_from="2027-01-01", items=UNIT_ITEMS
    )
    v3 = schemes.save(admin, "unit", name="12月起", effective_from="2026-12-01", items=UNIT_ITEMS[:2])
    assert schemes.in_force("unit", periods.parse("2026-11")).version == 1
    assert schemes.in_force("unit", periods.parse("2027-02")).id == v3.id  # monthly: quarter scheme not used
    assert schemes.in_force("unit", periods.parse("2027-Q1")).name == "季度方案"
    assert [s.version for s in schemes.versions("unit")] == [3, 2, 1]
    assert AuditEntry.select().where(AuditEntry.event == "appraisal.scheme").count() == 2


def test_worker_scores_the_ended_month_once(db: str) -> None:
    from node.appraisal import jobs

    u = factories.make_unit()
    helpers.unit_order(u, NOV)
    with clock.frozen(dt.datetime(2026, 12, 1, 2, 30)):
        assert sorted(jobs.score_ended_periods(clock.now(), "city")) == ["agent:2026-11", "unit:2026-11"]
        assert jobs.score_ended_periods(clock.now(), "city") == []
    run = runs.get_run("unit", "2026-11")
    assert run is not None and run.created_by == "系统" and run.status == "draft"
    assert Result.select().where(Result.run == run, Result.subject_id == str(u.id)).count() == 1


def test_subjects_without_any_figure_are_not_ranked(db: str) -> None:
    leader = factories.actor("shift_leader")
    busy, idle = factories.make_unit(), factories.make_unit()
    helpers.unit_order(busy, NOV)
    with clock.frozen(AFTER):
        run = runs.score_period(leader, "unit", "2026-11")
    ranked = {r.subject_id for r in Result.select().where(Result.run == run)}
    assert str(busy.id) in ranked and str(idle.id) not in ranked
    assert run.skipped >= 1
