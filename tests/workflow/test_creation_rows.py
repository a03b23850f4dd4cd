"""#17 item 13: an order's creation is written with plain SQL (node.db.insert_rows); what is read
back must be exactly what the engine built — every field, and the history rows in their order."""

from __future__ import annotations

from node.workflow import service
from node.workflow.models import OrderEvent, WorkOrder
from tests.factories import ORDER_DEFAULTS, actor


def test_a_created_order_reads_back_as_built_with_its_history_in_order(db: str) -> None:
    agent = actor("agent")
    built = service.create_order(agent, {**ORDER_DEFAULTS, "address": "南京南站北广场", "latitude": 31.97})
    stored = WorkOrder.get_by_id(built.id)
    for field in WorkOrder._meta.sorted_fields:
        assert getattr(stored, field.name) == getattr(built, field.name), field.name
    assert stored.search_text and stored.state == "pending_review" and stored.due_at > stored.accepted_at
    events = list(OrderEvent.select().where(OrderEvent.order == built).order_by(OrderEvent.id))
    assert [(e.action, e.from_state, e.to_state) for e in events] == [
        ("create", "", "accepted"),
        ("submit", "accepted", "pending_review"),
    ]
    assert events[0].data == {"channel": "01"} and events[1].data is None
    assert {e.actor_id for e in events} == {agent.user_id}
    # the next order's rows come after these (ids handed out in the order of the VALUES)
    second = service.create_order(agent, {**ORDER_DEFAULTS, "submit": False})
    (only,) = OrderEvent.select().where(OrderEvent.order == second)
    assert second.id > built.id and only.id > events[-1].id and only.action == "create"
