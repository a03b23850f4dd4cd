"""Known-answer rows for appraisal tests: agents with calls, recordings and ratings; units with
assignments, urges and returns — inserted with chosen times, read back by the engine and the runs."""

from __future__ import annotations

import datetime as dt
import itertools
import os

from node.auth.models import User
from node.catalog.models import Unit
from node.telephony.models import Agent, Call, CallLeg, PhoneRating, Recording
from node.workflow.models import Assignment, ReturnRequest, Urge, WorkOrder
from tests import factories

_n = itertools.count(1)


def seat(user: User) -> Agent:
    return Agent.create(
        user=user, extension=f"8{next(_n):03d}{os.getpid() % 1000}", state_since=dt.datetime(2026, 1, 1)
    )


def call(
    agent: Agent,
    at: dt.datetime,
    *,
    wait_s: float = 5,
    talk_s: float = 200,
    rating: int | None = None,
    recorded: bool = True,
    order: WorkOrder | None = None,
) -> Call:
    """An answered, recorded inbound call taken by `agent`, with its leg and an optional rating."""
    n = next(_n)
    c = Call.create(
        uuid=f"qa{os.getpid()}x{n:08d}",
        engine="test",
        started_at=at,
        answered_at=at + dt.timedelta(seconds=wait_s),
        ended_at=at + dt.timedelta(seconds=wait_s + talk_s),
        agent=agent,
        state="ended",
        order_number=order.number if order else "",
    )
    CallLeg.create(
        call=c,
        seq=1,
        day=at.date(),
        origin="ivr",
        entered_at=at,
        answered_at=at + dt.timedelta(seconds=wait_s),
        ended_at=at + dt.timedelta(seconds=wait_s + talk_s),
        wait_s=wait_s,
        talk_s=talk_s,
        wrapup_s=0,
        outcome="answered",
        agent=agent,
        user=agent.user_id,
    )
    if recorded:
        Recording.create(
            call=c,
            path=f"2026/11/01/{c.uuid}.wav",
            status="finalized",
            started_at=at,
            ended_at=at + dt.timedelta(seconds=talk_s),
            duration_s=talk_s,
            order_number=c.order_number,
        )
    if rating is not None:
        PhoneRating.create(
            call=c, agent=agent, score=rating, at=at + dt.timedelta(seconds=wait_s + talk_s + 5)
        )
    return c


def unit_order(
    unit: Unit,
    dispatched: dt.datetime,
    *,
    signed_after_h: float | None = 1,
    closed_after_d: float | None = 3,
    due_after_d: float = 5,
    satisfaction: str = "",
) -> WorkOrder:
    """An order dispatched to `unit` (lead) at `dispatched`, signed and closed after the given delays."""
    closed = dispatched + dt.timedelta(days=closed_after_d) if closed_after_d is not None else None
    order = factories.stat_order(
        dispatched - dt.timedelta(hours=1),
        state="closed" if closed else "handling",
        dispatched_at=dispatched,
        due_at=dispatched + dt.timedelta(days=due_after_d),
        closed_at=closed,
        callback_at=closed + dt.timedelta(hours=2) if closed and satisfaction else None,
        callback_result_satisfaction=satisfaction,
    )
    Assignment.create(
        order=order,
        unit=unit,
        role="lead",
        status="replied" if closed else "signed",
        dispatched_at=dispatched,
        sign_due_at=dispatched + dt.timedelta(hours=2),
        signed_at=dispatched + dt.timedelta(hours=signed_after_h) if signed_after_h is not None else None,
        due_at=dispatched + dt.timedelta(days=due_after_d),
    )
    return order


def urge(order: WorkOrder, unit: Unit, at: dt.datetime, automatic: bool = False) -> Urge:
    return Urge.create(order=order, unit=unit, at=at, note="请加快办理", automatic=automatic)


def returned(order: WorkOrder, unit: Unit, at: dt.datetime) -> ReturnRequest:
    return ReturnRequest.create(
        order=order,
        unit=unit,
        reason_code="01",
        reason="非本单位职责",
        previous_state="dispatched",
        requested_at=at,
    )
