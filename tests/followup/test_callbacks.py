"""Callback plans and seeded sampling at closure, due times on the working-day calendar, attempts,
retries and unreachable, ratings per source, and the dissatisfaction loop blocking archive.
Both databases; the engine is the real one (node.workflow.service.perform)."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from node import clock
from node.auth import service as auth
from node.errors import Conflict, InvalidTransition, PermissionDenied, ValidationError
from node.followup import service as followup
from node.followup.models import CallbackPlan, Dissatisfaction, Rating, VisitAttempt, VisitTask
from node.notices.models import Notice
from node.workflow import service as workflow
from node.workflow.models import OrderEvent, WorkOrder
from tests import factories

T0 = dt.datetime(2026, 11, 25, 10, 0)  # a Wednesday


def _plan(share: float, seed: str = "s1", **kw: object) -> CallbackPlan:
    now = clock.now()
    return CallbackPlan.create(
        name=f"抽查{share}%", share_percent=share, seed=seed, created_at=now, updated_at=now, **kw
    )


def _bulk_orders(n: int, business_type: str = "2") -> list[WorkOrder]:
    now = clock.now()
    tag = f"{time.monotonic_ns() % 10**6:06d}"
    rows = [
        {
            "number": f"320100{now:%Y%m%d}{business_type}9{tag[-2:]}{i:03d}"[:17] + f"{i:04d}",
            "origin_node": "320100",
            "channel": "01",
            "business_type": business_type,
            "domain": "04",
            "region_code": "320102",
            "title": "t",
            "content": "c",
            "query_code": "123456",
            "state": "closed",
            "accepted_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(n)
    ]
    for i in range(0, n, 500):
        WorkOrder.insert_many(rows[i : i + 500]).execute()
    return list(WorkOrder.select().where(WorkOrder.number.in_([r["number"] for r in rows])))


def test_sampling_share_over_10000_closures_and_reproducible(db: str) -> None:
    """The decision each closure gets (plan chosen from the database, seeded draw) over 10,000
    closures; then 300 real closures through sample_closure() get exactly those decisions."""
    _plan(30.0, seed="seed-A", business_type="2")
    plans = followup.active_plans()
    numbers = [f"32010020261125{2}{i:06d}" for i in range(10_000)]
    picked = {n for n in numbers if followup.decide(n, 0, "2", "04", None, plans)[2]}
    assert abs(len(picked) / 100 - 30.0) <= 2.0, len(picked)
    reloaded = followup.active_plans()
    again = {n for n in numbers if followup.decide(n, 0, "2", "04", None, reloaded)[2]}
    assert again == picked  # reproducible with the seed
    other = {n for n in numbers if followup.draw("seed-B", n, 0) < 30.0}
    assert other != picked and abs(len(other) / 100 - 30.0) <= 2.0  # another seed, another sample
    orders = _bulk_orders(300)
    with clock.frozen(T0):
        tasks = [followup.sample_closure(o) for o in orders]
    assert {t.order.number for t in tasks if t.sampled} == {
        o.number for o in orders if followup.decide(o.number, 0, "2", "04", None, plans)[2]
    }
    assert all((t.state == "pending") == t.sampled and t.share_percent == 30.0 for t in tasks)
    assert all((t.due_at is not None) == t.sampled for t in tasks)
    assert followup.sample_closure(orders[0]).id == tasks[0].id  # idempotent per closure


@pytest.mark.parametrize("share", [100.0, 10.0, 5.0, 0.0])
def test_draw_shares(share: float) -> None:
    numbers = [f"32010020261125{2}{i:06d}" for i in range(10_000)]
    got = sum(followup.draw("12328", n, 0) < share for n in numbers) / 100
    assert abs(got - share) <= 2.0


def test_most_specific_plan_wins(db: str) -> None:
    unit = factories.make_unit()
    assert followup.plan_for("1", "04", None).share == 100.0  # built-in: every complaint
    assert followup.plan_for("2", "04", None).share == 10.0
    _plan(40.0, business_type="2")
    _plan(60.0, business_type="2", domain="04")
    _plan(80.0, unit=unit)
    assert followup.plan_for("2", "04", None).share == 60.0
    assert followup.plan_for("2", "05", None).share == 40.0
    assert followup.plan_for("2", "04", unit.id).share == 80.0


def test_due_time_skips_holidays_and_make_up_days(db: str) -> None:
    # 2026 National Day: 10月1日—7日 off, 10月10日 (Saturday) a make-up working day; 3 working days
    with clock.frozen(dt.datetime(2026, 9, 30, 16, 0)):
        order = factories.make_order("closed")
    task = VisitTask.get(VisitTask.order == order)
    assert task.sampled and task.due_at == dt.datetime(2026, 10, 10, 23, 59, 59)
    ev = OrderEvent.get(OrderEvent.order == order, OrderEvent.action == "callback_sampled")
    assert ev.data["share"] == 100.0


def test_attempts_retry_at_other_hours_then_unreachable(db: str) -> None:
    agent = factories.actor("agent")
    with clock.frozen(T0):
        order = factories.make_order("closed")
    not_reached = {"reached": False, "note": "无人接听"}
    with clock.frozen(T0 + dt.timedelta(minutes=5)):
        workflow.perform(agent, order.number, "callback", not_reached)
    task = VisitTask.get(VisitTask.order == order)
    assert task.attempts == 1 and task.state == "pending"
    first_retry = task.next_try_at
    assert first_retry == dt.datetime(2026, 11, 25, 14, 0)  # ≥ 2 h later, an hour not tried (10 h)
    with clock.frozen(T0 + dt.timedelta(hours=1)):  # not yet due again: out of the 待回访 queue
        assert order.id not in [
            o.id for o in workflow.list_orders(agent, workflow.OrderFilter(queue="to_callback"))[0]
        ]
    with clock.frozen(first_retry):
        assert order.id in [
            o.id for o in workflow.list_orders(agent, workflow.OrderFilter(queue="to_callback"))[0]
        ]
        workflow.perform(agent, order.number, "callback", not_reached)
    task = VisitTask.get_by_id(task.id)
    assert task.next_try_at.hour not in (10, 14) and task.next_try_at > first_retry
    with clock.frozen(task.next_try_at):
        workflow.perform(agent, order.number, "callback", not_reached)
    task = VisitTask.get_by_id(task.id)
    assert task.state == "unreachable" and task.attempts == 3 and task.next_try_at is None
    assert VisitAttempt.select().where(VisitAttempt.task == task).count() == 3
    assert (
        OrderEvent.select()
        .where(OrderEvent.order == order, OrderEvent.action == "callback_unreachable")
        .exists()
    )
    leader = factories.actor("shift_leader")
    assert (
        workflow.perform(leader, order.number, "archive", {}).state == "archived"
    )  # unreachable may archive


def test_archive_waits_for_a_sampled_callback(db: str) -> None:
    order = factories.make_order("closed")
    leader = factories.actor("shift_leader")
    with pytest.raises(InvalidTransition, match="已抽中回访"):
        workflow.perform(leader, order.number, "archive", {})
    assert WorkOrder.get_by_id(order.id).state == "closed"


def test_dissatisfied_callback_loop_reopen_then_satisfied_archive(db: str) -> None:
    unit = factories.make_unit()
    staff = factories.make_user("unit_staff", unit)
    leader_user = factories.make_user("shift_leader")
    leader = auth.actor_for(leader_user)
    agent = factories.actor("agent")
    order = factories.make_order("closed", unit=unit)
    workflow.perform(
        agent,
        order.number,
        "callback",
        {"result_satisfaction": "3", "service_satisfaction": "2", "solved": False, "note": "问题没解决"},
    )
    case = Dissatisfaction.get(Dissatisfaction.order == order)
    assert case.state == "open" and case.source == "callback" and case.dimensions == "result"
    assert case.unit_id == unit.id
    assert Notice.select().where(Notice.user == leader_user.id, Notice.kind == "dissatisfied").exists()
    task = VisitTask.get(VisitTask.order == order)
    assert task.state == "done" and task.solved is False
    with pytest.raises(InvalidTransition, match="不满意"):
        workflow.perform(leader, order.number, "archive", {})
    with pytest.raises(PermissionDenied):
        followup.reopen_case(agent, case.id, "重新核查")
    with pytest.raises(ValidationError):
        followup.reopen_case(leader, case.id, "  ")
    followup.reopen_case(leader, case.id, "市民反映未解决，请重新核查")
    order = WorkOrder.get_by_id(order.id)
    case = Dissatisfaction.get_by_id(case.id)
    assert order.state == "dispatched" and order.reopen_count == 1
    assert (
        case.state == "reopened" and case.reopened_to_id == unit.id and case.decided_by_id == leader_user.id
    )
    with pytest.raises(Conflict):
        followup.explain_case(leader, case.id, "已处理")
    # the unit handles it again; the new closure is a new round, sampled again
    from node.demo import walk

    unit_actor = auth.actor_for(staff)
    walk(
        order,
        "closed",
        lambda role: unit_actor if role == "unit" else factories.actor(role),
        unit.code,
        factories.PATH_BODIES,
    )
    assert VisitTask.select().where(VisitTask.order == order).count() == 2
    workflow.perform(
        agent, order.number, "callback", {"result_satisfaction": "2", "service_satisfaction": "1"}
    )
    assert workflow.perform(leader, order.number, "archive", {}).state == "archived"
    rounds = sorted((r.round, r.dimension, r.value) for r in Rating.select().where(Rating.order == order))
    assert rounds == [(0, "result", "3"), (0, "service", "2"), (1, "result", "2"), (1, "service", "1")]


def test_explain_instead_of_reopen(db: str) -> None:
    leader = factories.actor("shift_leader")
    order = factories.make_order("closed")
    workflow.perform(
        factories.actor("agent"),
        order.number,
        "callback",
        {"result_satisfaction": "1", "service_satisfaction": "3"},
    )
    case = Dissatisfaction.get(Dissatisfaction.order == order)
    followup.explain_case(leader, case.id, "诉求超出法定职责，已向市民解释")
    assert Dissatisfaction.get_by_id(case.id).state == "explained"
    assert workflow.perform(leader, order.number, "archive", {}).state == "archived"
    assert (
        OrderEvent.select().where(OrderEvent.order == order, OrderEvent.action == "dissat_explained").exists()
    )


def test_ratings_keep_their_source_one_per_source_and_dimension(db: str) -> None:
    order = factories.make_order("closed", business_type="2")
    workflow.record_public_rating(auth.SYSTEM, order.number, result="2", service="3", channel="02")
    followup.record_rating(order, "sms", {"result": "1"})
    followup.record_rating(order, "wechat", {"result": "2", "service": "2"})
    with pytest.raises(Conflict, match="短信"):
        followup.record_rating(order, "sms", {"result": "2"})
    followup.record_rating(order, "sms", {"service": "1"})  # the other dimension is still open
    with pytest.raises(ValidationError):
        followup.record_rating(order, "fax", {"result": "1"})
    with pytest.raises(ValidationError):
        followup.record_rating(order, "sms", {"result": "9"})
    got = sorted((r.source, r.dimension, r.value) for r in Rating.select().where(Rating.order == order))
    assert got == [
        ("portal", "result", "2"),
        ("portal", "service", "3"),
        ("sms", "result", "1"),
        ("sms", "service", "1"),
        ("wechat", "result", "2"),
        ("wechat", "service", "2"),
    ]
    case = Dissatisfaction.get(Dissatisfaction.order == order)
    assert case.source == "portal" and case.dimensions == "service"
