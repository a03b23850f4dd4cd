"""质检: reproducible sampling, scoring against the scoresheet, marks, appeals, who sees what."""

from __future__ import annotations

import datetime as dt

import pytest

from node import clock
from node.appraisal import qa
from node.appraisal.models import Inspection
from node.errors import NotFound, PermissionDenied, ValidationError
from tests import factories
from tests.appraisal import helpers

NOV = dt.datetime(2026, 11, 2, 9)
FULL = {"greeting": 15, "accuracy": 30, "attitude": 25, "script": 15, "order": 15}


def _floor() -> tuple[object, object, list[object]]:
    a, b = factories.make_user("agent"), factories.make_user("agent")
    sa, sb = helpers.seat(a), helpers.seat(b)
    calls = [helpers.call(sa, NOV + dt.timedelta(hours=h)) for h in range(8)]
    unhappy_order = factories.stat_order(NOV, state="visited", callback_service_satisfaction="3")
    helpers.call(sa, NOV + dt.timedelta(days=1), rating=3)
    helpers.call(sa, NOV + dt.timedelta(days=2), order=unhappy_order)
    helpers.call(sa, NOV + dt.timedelta(days=3), recorded=False, rating=3)  # no recording: not sampled
    helpers.call(sb, NOV)
    helpers.call(sb, dt.datetime(2026, 10, 30, 9))  # October
    return a, b, calls


def test_sampling_is_reproducible_and_takes_every_unsatisfied_call(db: str) -> None:
    leader = factories.actor("shift_leader")
    a, b, _ = _floor()
    with clock.frozen(dt.datetime(2026, 12, 1, 8)):
        report = qa.sample(leader, "2026-11", per_agent=3, seed="s1")
        assert (report.random, report.unsatisfied, report.agents) == (3 + 1, 2, 2)
        first = sorted((i.agent_user_id, i.call_id, i.reason) for i in Inspection.select())
        assert sum(1 for r in first if r[0] == a.id and r[2] == "unsatisfied") == 2
        assert sum(1 for r in first if r[0] == b.id) == 1
        again = qa.sample(leader, "2026-11", per_agent=3, seed="s1")
        assert (again.random, again.unsatisfied) == (0, 0)  # nothing sampled twice
        Inspection.delete().execute()
        qa.sample(leader, "2026-11", per_agent=3, seed="s1")
        assert sorted((i.agent_user_id, i.call_id, i.reason) for i in Inspection.select()) == first
        Inspection.delete().execute()
        draws = set()
        for seed in ("s2", "s3", "s4", "s5"):
            qa.sample(leader, "2026-11", per_agent=3, seed=seed)
            draws.add(
                tuple(sorted(i.call_id for i in Inspection.select().where(Inspection.reason == "random")))
            )
            Inspection.delete().execute()
        assert len(draws) > 1  # another seed draws other calls (8 choose 3 = 56 possible draws)
    for bad in (-1, 51, True, "3"):
        with pytest.raises(ValidationError):
            qa.sample(leader, "2026-11", per_agent=bad)  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied):
        qa.sample(factories.actor("agent"), "2026-11")


def test_scoring_marks_appeal_and_permissions(db: str) -> None:
    leader = factories.actor("shift_leader")
    a, b, _ = _floor()
    qa.sample(leader, "2026-11", per_agent=1, seed="x")
    row = next(i for i in qa.listing(leader, "2026-11") if i.agent_user_id == a.id)
    with pytest.raises(ValidationError) as err:
        qa.score(leader, row.id, {**FULL, "accuracy": 31, "greeting": "x"})
    assert set(err.value.details) == {"业务准确", "规范用语（开头语、结束语）"}
    with pytest.raises(ValidationError):
        qa.score(leader, row.id, FULL, marks=[{"t": -1, "note": "x"}])
    with pytest.raises(ValidationError):
        qa.score(leader, row.id, FULL, comment="a\x00b")
    with pytest.raises(PermissionDenied):
        qa.score(factories.actor("agent"), row.id, FULL)
    scored = qa.score(
        leader,
        row.id,
        {**FULL, "attitude": 15},
        comment="态度生硬",
        marks=[{"t": 42.26, "note": "打断来电人"}, {"t": 3, "note": "开头语规范"}],
    )
    assert scored.total == 90 and [m["t"] for m in scored.marks] == [3, 42.3]

    from node.auth import service as auth

    agent_a = auth.actor_for(a)
    agent_b = auth.actor_for(b)
    assert {i.agent_user_id for i in qa.listing(agent_a)} == {a.id}
    assert qa.get(agent_a, row.id).id == row.id
    with pytest.raises(PermissionDenied):
        qa.get(agent_b, row.id)
    with pytest.raises(PermissionDenied):
        qa.appeal(agent_b, row.id, "不是我")
    with pytest.raises(ValidationError):
        qa.appeal(agent_a, row.id, "")
    qa.appeal(agent_a, row.id, "来电人先辱骂，已按规范处理")
    with pytest.raises(ValidationError, match="申诉过"):
        qa.appeal(agent_a, row.id, "再次申诉")
    with pytest.raises(ValidationError, match="申诉中"):
        qa.score(leader, row.id, FULL)
    with pytest.raises(PermissionDenied):
        qa.decide_appeal(factories.actor("supervisor"), row.id, True, "同意", 95)
    with pytest.raises(ValidationError):
        qa.decide_appeal(leader, row.id, True, "同意", 101)
    decided = qa.decide_appeal(leader, row.id, True, "录音核实，态度项改判", 96)
    assert (decided.appeal_status, decided.total) == ("upheld", 96)
    with pytest.raises(NotFound):
        qa.get(leader, 10**9)
    pending = next(i for i in qa.listing(leader, "2026-11") if i.status == "pending")
    with pytest.raises(ValidationError, match="尚未评分"):
        qa.appeal(auth.actor_for(pending.agent_user), pending.id, "x")


def test_scoresheet_weights_are_editable(db: str) -> None:
    admin = factories.actor("admin")
    leader = factories.actor("shift_leader")
    assert qa.current_sheet().version == 1
    with pytest.raises(PermissionDenied):
        qa.save_sheet(leader, [{"key": "a", "label": "礼貌", "weight": 50}])
    with pytest.raises(ValidationError):
        qa.save_sheet(admin, [{"key": "a", "label": "", "weight": 0}])
    sheet = qa.save_sheet(
        admin,
        [{"key": "polite", "label": "礼貌", "weight": 40}, {"key": "right", "label": "准确", "weight": 40}],
    )
    assert sheet.version == 2
    a, _, _ = _floor()
    qa.sample(leader, "2026-11", per_agent=1)
    row = next(i for i in qa.listing(leader, "2026-11") if i.agent_user_id == a.id)
    assert qa.score(leader, row.id, {"polite": 40, "right": 20}).total == 75  # 60 of 80 → 75 of 100
