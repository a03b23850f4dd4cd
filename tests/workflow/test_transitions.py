"""Every transition of the work-order engine, allowed and refused, by state and by role."""

from __future__ import annotations

import pytest

from node.auth.roles import PERMISSIONS
from node.auth.service import SYSTEM
from node.catalog import service as catalog
from node.demo import PATH_STATES
from node.errors import InvalidTransition, NotFound, PermissionDenied, ValidationError
from node.workflow import service, states
from node.workflow.models import Assignment, OrderEvent, WorkOrder
from tests.factories import actor, make_order, make_unit

REPLY = {"basic": "经查属实", "process": "已责令整改", "basis": "《道路运输条例》"}


def order_in(state: str) -> WorkOrder:
    """An order in any state, reached through the engine."""
    if state in PATH_STATES:
        return make_order(state)
    if state == "answered":
        return make_order("accepted", business_type="2", immediate_answer="已解答", submit=False)
    if state == "pending_approval":
        o = make_order("pending_review", priority="urgent")
        return service.perform(actor("reviewer"), o.number, "review")
    if state == "return_requested":
        unit = make_unit()
        o = make_order("dispatched", unit=unit)
        return service.perform(
            actor("unit_staff", unit), o.number, "return", {"reason_code": "01", "reason": "不属本地"}
        )
    if state == "rejected":
        o = make_order("pending_review")
        return service.perform(
            actor("reviewer"), o.number, "reject", {"reason_code": "01", "reason": "不属于本行业"}
        )
    if state == "merged":
        master = make_order("pending_dispatch")
        o = make_order("pending_review")
        return service.perform(actor("reviewer"), o.number, "merge", {"master": master.number})
    if state == "split":
        o = make_order("pending_dispatch")
        parts = [
            {"business_type": "1", "domain": "04", "content": "第一件事"},
            {"business_type": "3", "domain": "04", "content": "第二件事"},
        ]
        return service.perform(actor("dispatcher"), o.number, "split", {"parts": parts})
    if state == "transferred":
        o = make_order("pending_dispatch")
        return service.perform(
            actor("dispatcher"), o.number, "transfer", {"region_code": "320200", "reason": "属无锡"}
        )
    raise AssertionError(state)


def test_every_state_is_reachable_and_refuses_actions_from_elsewhere(db):
    """For each state, every action whose sources exclude it is refused with InvalidTransition
    and leaves the order untouched."""
    for state in states.STATES:
        order = order_in(state)
        assert order.state == state
        before = (order.version, OrderEvent.select().where(OrderEvent.order == order).count())
        for action, t in states.TRANSITIONS.items():
            if state in t.sources:
                continue
            with pytest.raises(InvalidTransition):
                service.perform(SYSTEM, order.number, action, _minimal_body(action))
        fresh = WorkOrder.get_by_id(order.id)
        assert (fresh.version, OrderEvent.select().where(OrderEvent.order == order).count()) == before
        assert fresh.state == state


def _minimal_body(action: str) -> dict:
    return {
        "answer": {"answer": "答复"},
        "review_back": {"reason": "x"},
        "disapprove": {"reason": "x"},
        "dispatch": {"lead_unit": "NOPE"},
        "withdraw": {"reason": "x"},
        "return": {"reason_code": "01", "reason": "x"},
        "reject_return": {"reason": "x"},
        "request_extension": {"days": 1, "reason": "x"},
        "decide_extension": {"extension_id": 1, "approve": True},
        "assist_reply": {"content": "x"},
        "reply": REPLY,
        "reject_reply": {"reason": "x"},
        "callback": {"result_satisfaction": "1", "service_satisfaction": "1"},
        "reopen": {"reason": "x"},
        "reject": {"reason_code": "01", "reason": "x"},
        "merge": {"master": "3" * 21},
        "transfer": {"region_code": "320200", "reason": "x"},
        "split": {"parts": [{"business_type": "1", "content": "a"}, {"business_type": "1", "content": "b"}]},
        "urge": {"note": "x"},
        "note": {"text": "x"},
        "edit": {"title": "x"},
    }.get(action, {})


@pytest.mark.parametrize("action", sorted(states.TRANSITIONS))
def test_roles_without_the_permission_are_refused(db, action):
    t = states.TRANSITIONS[action]
    lacking = [r for r, perms in PERMISSIONS.items() if t.permission not in perms and r != "unit_staff"]
    order = make_order("accepted")
    for role in lacking[:3]:
        with pytest.raises((PermissionDenied, NotFound)):
            service.perform(actor(role), order.number, action, _minimal_body(action))


def test_full_flow_with_lead_and_assist_units(db):
    lead, assist = make_unit(name="出租汽车管理所"), make_unit(name="公交集团")
    order = make_order("pending_dispatch")
    dispatcher = actor("dispatcher")
    order = service.perform(
        dispatcher, order.number, "dispatch", {"lead_unit": lead.code, "assist_units": [assist.code]}
    )
    assert order.state == "dispatched"
    rows = {a.unit_id: a for a in Assignment.select().where(Assignment.order == order)}
    assert rows[lead.id].role == "lead" and rows[assist.id].role == "assist"
    assert rows[lead.id].sign_due_at > rows[lead.id].dispatched_at

    lead_staff, assist_staff = actor("unit_staff", lead), actor("unit_staff", assist)
    order = service.perform(assist_staff, order.number, "sign")
    assert order.state == "dispatched", "an assist unit signing does not move the order"
    with pytest.raises(PermissionDenied):
        service.perform(assist_staff, order.number, "return", {"reason_code": "01", "reason": "x"})
    order = service.perform(lead_staff, order.number, "sign")
    assert order.state == "handling"
    with pytest.raises(InvalidTransition):
        service.perform(lead_staff, order.number, "sign")
    with pytest.raises(PermissionDenied):
        service.perform(assist_staff, order.number, "reply", REPLY)
    service.perform(assist_staff, order.number, "assist_reply", {"content": "公交集团已配合调查"})
    order = service.perform(lead_staff, order.number, "reply", REPLY)
    assert order.state == "replied" and order.result_basis == REPLY["basis"]
    reviewer = actor("reviewer")
    order = service.perform(reviewer, order.number, "reject_reply", {"reason": "办理依据不充分"})
    assert order.state == "handling"
    order = service.perform(lead_staff, order.number, "reply", REPLY)
    order = service.perform(reviewer, order.number, "accept_reply")
    order = service.perform(reviewer, order.number, "close")
    assert order.state == "closed" and order.closed_at is not None
    order = service.perform(
        actor("agent"),
        order.number,
        "callback",
        {"result_satisfaction": "3", "service_satisfaction": "2", "note": "问题未解决"},
    )
    assert order.state == "visited" and order.callback_result_satisfaction == "3"
    order = service.perform(actor("shift_leader"), order.number, "reopen", {"reason": "回访不满意，重办"})
    assert order.state == "pending_dispatch" and order.reopen_count == 1 and order.closed_at is None
    assert not Assignment.select().where(Assignment.order == order, Assignment.active == True).exists()  # noqa: E712

    events = list(OrderEvent.select().where(OrderEvent.order == order).order_by(OrderEvent.id))
    assert [e.action for e in events][:4] == ["create", "submit", "review", "dispatch"]
    for e in events:
        assert e.node == "320100" and e.actor_name and e.at
    assert events[-1].from_state == "visited" and events[-1].to_state == "pending_dispatch"
    assert events[-1].reason == "回访不满意，重办"


def test_withdraw_only_before_the_lead_signs(db):
    unit = make_unit()
    order = make_order("dispatched", unit=unit)
    order = service.perform(actor("dispatcher"), order.number, "withdraw", {"reason": "派错单位"})
    assert order.state == "pending_dispatch"
    assert Assignment.get(Assignment.order == order).status == "withdrawn"
    # a withdrawn unit no longer sees the order as its own work
    with pytest.raises(NotFound):
        service.perform(actor("unit_staff", unit), order.number, "sign")
    order = make_order("handling", unit=unit)
    with pytest.raises(InvalidTransition):
        service.perform(actor("dispatcher"), order.number, "withdraw", {"reason": "x"})


def test_return_accept_reject_and_cap(db):
    unit = make_unit()
    staff, dispatcher = actor("unit_staff", unit), actor("dispatcher")
    order = make_order("handling", unit=unit)
    order = service.perform(staff, order.number, "return", {"reason_code": "02", "reason": "权属不清"})
    assert order.state == "return_requested" and order.return_count == 1
    order = service.perform(dispatcher, order.number, "reject_return", {"reason": "属于贵单位职责"})
    assert order.state == "handling", "rejecting a return goes back to where the order was"
    order = service.perform(staff, order.number, "return", {"reason_code": "01", "reason": "属地不符"})
    order = service.perform(dispatcher, order.number, "accept_return")
    assert order.state == "pending_dispatch"
    assert not Assignment.select().where(Assignment.order == order, Assignment.active == True).exists()  # noqa: E712
    order = service.perform(dispatcher, order.number, "dispatch", {"lead_unit": unit.code})
    order = service.perform(staff, order.number, "return", {"reason_code": "03", "reason": "职能交叉"})
    order = service.perform(dispatcher, order.number, "reject_return", {"reason": "请继续办理"})
    assert order.state == "dispatched" and order.return_count == 3
    with pytest.raises(InvalidTransition, match="上限"):
        service.perform(staff, order.number, "return", {"reason_code": "01", "reason": "再退"})
    with pytest.raises(ValidationError):
        service.perform(staff, order.number, "return", {"reason_code": "77", "reason": "未知原因"})


def test_extension_request_and_decision(db):
    unit = make_unit()
    staff, dispatcher = actor("unit_staff", unit), actor("dispatcher")
    order = make_order("handling", unit=unit)
    old_due = order.due_at
    with pytest.raises(ValidationError):
        service.perform(staff, order.number, "request_extension", {"days": 16, "reason": "太长"})
    order = service.perform(staff, order.number, "request_extension", {"days": 5, "reason": "需现场调查"})
    with pytest.raises(Exception, match="待审批"):
        service.perform(staff, order.number, "request_extension", {"days": 2, "reason": "再次"})
    ext = order.extensions.get()
    order = service.perform(
        dispatcher, order.number, "decide_extension", {"extension_id": ext.id, "approve": True}
    )
    assert order.due_at == catalog.calendar().add_workdays(old_due, 5)
    assert order.extension_days == 5
    assert Assignment.get(Assignment.order == order, Assignment.role == "lead").due_at == order.due_at
    with pytest.raises(InvalidTransition, match="上限"):
        service.perform(staff, order.number, "request_extension", {"days": 1, "reason": "还要延"})


def test_merge_points_at_root_master_and_later_contacts_land_there(db):
    from node.intake import service as intake

    master = make_order("pending_dispatch")
    dup1 = make_order("pending_review")
    dup2 = make_order("accepted")
    reviewer = actor("reviewer")
    service.perform(reviewer, dup1.number, "merge", {"master": master.number})
    dup2 = service.perform(actor("agent"), dup2.number, "merge", {"master": dup1.number})
    assert dup2.master_id == master.id, "merging into a duplicate resolves to its master"
    with pytest.raises(ValidationError):
        service.perform(reviewer, master.number, "merge", {"master": master.number})
    agent = actor("agent")
    contact = intake.create_contact(agent, {"caller_phone": "13812345678", "summary": "再次来电催问"})
    contact = intake.finish_contact(agent, contact.id, {"outcome": "linked", "order_number": dup1.number})
    assert contact.order_number == master.number


def test_split_creates_linked_children(db):
    order = make_order("pending_dispatch")
    parts = [
        {"business_type": "1", "domain": "04", "sub_business": "0403", "content": "出租车拒载"},
        {"business_type": "3", "domain": "04", "sub_business": "0401", "content": "建议增开公交"},
    ]
    order = service.perform(actor("dispatcher"), order.number, "split", {"parts": parts})
    assert order.state == "split"
    children = list(WorkOrder.select().where(WorkOrder.parent == order).order_by(WorkOrder.id))
    assert [c.business_type for c in children] == ["1", "3"]
    assert all(c.state == "pending_dispatch" and c.number != order.number for c in children)
    assert children[1].number[14] == "3"
    with pytest.raises(ValidationError):
        service.perform(actor("dispatcher"), children[0].number, "split", {"parts": parts[:1]})


def test_approval_when_policy_asks(db):
    catalog.save_policy(
        {"business_type": "1", "domain_code": "04", "limit_value": 15, "requires_approval": True}
    )
    order = make_order("pending_review")
    order = service.perform(actor("reviewer"), order.number, "review")
    assert order.state == "pending_approval"
    with pytest.raises(PermissionDenied):
        service.perform(actor("dispatcher"), order.number, "approve")
    order = service.perform(actor("shift_leader"), order.number, "approve")
    assert order.state == "pending_dispatch"


def test_unit_staff_see_only_their_units_orders(db):
    mine, other = make_unit(), make_unit()
    o1 = make_order("dispatched", unit=mine)
    o2 = make_order("dispatched", unit=other)
    staff = actor("unit_staff", mine)
    assert service.get_order(staff, o1.number).id == o1.id
    with pytest.raises(NotFound):
        service.get_order(staff, o2.number)
    with pytest.raises(NotFound):
        service.perform(staff, o2.number, "sign")
    items, total = service.list_orders(staff, service.OrderFilter())
    assert {o.number for o in items} == {o1.number} and total == 1
    inbox, _ = service.list_orders(staff, service.OrderFilter(queue="unit_inbox"))
    assert [o.number for o in inbox] == [o1.number]


def test_reject_edit_and_answer(db):
    order = make_order("accepted")
    reviewer = actor("reviewer")
    order = service.perform(reviewer, order.number, "edit", {"sub_business": "0401", "title": "公交车问题"})
    assert order.sub_business == "0401"
    assert order.events.order_by(OrderEvent.id.desc()).first().data["changes"]["sub_business"] == [
        "0403",
        "0401",
    ]
    with pytest.raises(ValidationError):
        service.perform(
            reviewer, order.number, "edit", {"sub_business": "0101"}
        )  # belongs to 公路, not 城市客运
    assert WorkOrder.get_by_id(order.id).sub_business == "0401", "a refused edit writes nothing"
    order = service.perform(reviewer, order.number, "reject", {"reason_code": "04", "reason": "无实质内容"})
    assert (
        order.state == "rejected" and "恶意骚扰" in order.events.order_by(OrderEvent.id.desc()).first().reason
    )
    answered = make_order("accepted", business_type="2", immediate_answer="末班车22:30", submit=False)
    assert answered.state == "answered" and answered.closed_at is not None


def test_available_actions_match_role_and_state(db):
    unit = make_unit()
    order = make_order("dispatched", unit=unit)
    names = lambda who: {t.action for t in service.available_actions(who, order)}  # noqa: E731
    assert names(actor("unit_staff", unit)) == {"sign", "return", "request_extension", "note"}
    assert {"withdraw", "urge", "note"} <= names(actor("dispatcher"))
    assert "sign" not in names(actor("dispatcher"))
