"""Business flows on one database (SQLite and PostgreSQL): the change hook's record queue and its
batches, a cross-region transfer from both ends (the two ends share the database here, so the
destination's copy gets another number; the multi-node test runs them apart), refusals, update
ordering, and the receiver's content checks."""

from __future__ import annotations

import pytest

from federation import codec, flows, trust
from federation import envelope as E
from federation.models import InboxMessage, OutboxMessage, RecordQueue, RemoteOrder, TransferLink
from federation.server import Receiver, ServerParams
from federation.v1 import federation_pb2 as pb
from node import settings as node_settings
from node.errors import ValidationError
from node.workflow import service
from node.workflow.models import OrderEvent, WorkOrder
from tests import factories
from tests.federation.helpers import act_as, outbox, payload, record, refused, signing_key

CITY, CITY2, OTHER_CITY, PROV, MINISTRY = "320100", "320200", "320500", "320000", "000000"
PHONE = "13812345678"


# ---- upward records ------------------------------------------------------------------------------


def test_changes_coalesce_into_one_record_without_caller_data(flow: node_settings.Settings) -> None:
    order = factories.make_order("handling", caller_name="王先生", address="南京市玄武区中山路1号")
    assert RecordQueue.select().count() == 1  # five changes, one queued row
    assert flows.flush_records(CITY) == 1
    assert RecordQueue.select().count() == 0
    (row,) = outbox(pb.OrderRecordBatch)
    assert (row.destination, row.next_hop) == (MINISTRY, PROV)  # up through the province
    (rec,) = payload(row, pb.OrderRecordBatch).records
    order = WorkOrder.get_by_id(order.id)
    assert (rec.order_number, rec.state, rec.revision) == (order.number, "handling", order.version)
    assert rec.signed_at_ms and rec.transferred and rec.handling_node == CITY
    raw = bytes(row.payload)
    for secret in (PHONE.encode(), "王先生".encode(), "中山路".encode(), order.caller_phone_digest.encode()):
        assert secret not in raw
    assert flows.flush_records(CITY) == 0  # nothing new


def test_change_during_flush_stays_queued(
    flow: node_settings.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = factories.make_order("accepted")
    real = flows.build_records

    def with_concurrent_change(orders: list[WorkOrder], me: str) -> list[pb.OrderRecord]:
        records = real(orders, me)
        # what the change hook of a concurrent transaction does after the queue was read
        RecordQueue.update(version=RecordQueue.version + 1).where(RecordQueue.order_id == order.id).execute()
        return records

    monkeypatch.setattr(flows, "build_records", with_concurrent_change)
    assert flows.flush_records(CITY) == 1
    assert RecordQueue.select().count() == 1  # the newer change is sent in the next batch
    monkeypatch.setattr(flows, "build_records", real)
    assert flows.flush_records(CITY) == 1 and RecordQueue.select().count() == 0


def test_ministry_queues_no_records(flow: node_settings.Settings) -> None:
    act_as(flow, MINISTRY)
    factories.make_order("accepted")
    assert RecordQueue.select().count() == 0
    assert flows.flush_records(MINISTRY) == 0


def test_records_keep_highest_revision(flow: node_settings.Settings) -> None:
    def rec(rev: int, state: str) -> pb.OrderRecord:
        return pb.OrderRecord(
            order_number="320100202503011000001",
            origin_node=CITY,
            handling_node=CITY,
            region_code="320102",
            business_type=pb.COMPLAINT,
            channel_code="01",
            state=state,
            accepted_at_ms=1_740_800_000_000,
            revision=rev,
        )

    flows.apply_records(PROV, CITY, pb.OrderRecordBatch(records=[rec(2, "dispatched"), rec(3, "handling")]))
    flows.apply_records(PROV, CITY, pb.OrderRecordBatch(records=[rec(1, "accepted")]))  # late, older
    row = RemoteOrder.get()
    assert (row.state, row.revision, row.business_type) == ("handling", 3, "1")
    flows.apply_records(PROV, CITY, pb.OrderRecordBatch(records=[rec(5, "replied")]))
    assert RemoteOrder.get().state == "replied" and RemoteOrder.select().count() == 1


# ---- transfers -----------------------------------------------------------------------------------


def transfer_out(flow: node_settings.Settings, **overrides: object) -> tuple[WorkOrder, pb.OrderTransfer]:
    order = factories.make_order("pending_dispatch", **overrides)
    dispatcher = factories.actor("dispatcher")
    service.perform(dispatcher, order.number, "transfer", {"region_code": "320505", "reason": "属苏州市管辖"})
    (row,) = outbox(pb.OrderTransfer)
    transfer = payload(row, pb.OrderTransfer)
    assert (row.destination, row.next_hop, row.message_id) == (OTHER_CITY, PROV, transfer.transfer_id)
    return WorkOrder.get_by_id(order.id), transfer


def renumbered(transfer: pb.OrderTransfer, number: str) -> pb.OrderTransfer:
    """The transfer of another order of the same origin (both ends share one database here)."""
    copy = pb.OrderTransfer()
    copy.CopyFrom(transfer)
    copy.order.record.order_number = copy.order_number = number
    return copy


def other_number(number: str) -> str:
    return number[:-4] + "9999"


def test_transfer_carries_order_history_and_only_needed_contact(flow: node_settings.Settings) -> None:
    order, transfer = transfer_out(flow, caller_name="李女士", contact_phone="13900001111")
    assert order.state == "transferred"
    link = TransferLink.get()
    assert (link.direction, link.peer, link.number, link.transfer_id) == (
        "out",
        OTHER_CITY,
        order.number,
        transfer.transfer_id,
    )
    assert (transfer.from_node, transfer.to_node) == (CITY, OTHER_CITY)
    assert transfer.order.record.order_number == order.number
    assert transfer.order.contact_phone == "13900001111"  # the callback number, not the ANI
    assert transfer.order.contact_name == "李女士"
    assert transfer.order.content == order.content  # contact shared: the handling unit reads it all
    assert [h.action for h in transfer.history] == ["create", "submit", "review", "transfer"]
    assert order.caller_phone_digest.encode() not in transfer.SerializeToString()


def test_confidential_transfer_carries_no_contact(flow: node_settings.Settings) -> None:
    _, transfer = transfer_out(flow, caller_name="李女士", confidential=True)
    assert transfer.order.confidential
    assert (transfer.order.contact_phone, transfer.order.contact_name) == ("", "")
    assert PHONE.encode() not in transfer.SerializeToString()


def test_personal_numbers_in_text_are_masked_when_they_leave(flow: node_settings.Settings) -> None:
    text = "请回电13812345678，身份证320102199001011234"
    order, transfer = transfer_out(flow, title=text, content=text, confidential=True)
    record = codec.order_record(order, handling_node=CITY)
    assert record.title.startswith("请回电*******5678，身份证320102********1234")
    assert "13812345678" not in transfer.order.content and "*******5678" in transfer.order.content
    assert b"13812345678" not in transfer.SerializeToString()


def test_transfer_handled_at_destination_and_updates_flow_back(flow: node_settings.Settings) -> None:
    order, transfer = transfer_out(flow)
    copy_number = other_number(order.number)
    act_as(flow, OTHER_CITY)
    incoming = renumbered(transfer, copy_number)
    flows.apply_transfer(OTHER_CITY, CITY, incoming)
    flows.apply_transfer(OTHER_CITY, CITY, incoming)  # a second delivery changes nothing
    there = WorkOrder.get(WorkOrder.number == copy_number)
    assert (there.state, there.origin_node, there.region_code) == ("pending_dispatch", CITY, "320505")
    assert there.caller_phone_digest == "" and there.contact_phone_masked.endswith("5678")
    actions = [e.action for e in OrderEvent.select().where(OrderEvent.order == there).order_by(OrderEvent.id)]
    assert actions == ["create", "submit", "review", "transfer", "receive_transfer"]
    # handled in the normal flow there
    unit = factories.make_unit(region_code="320505")
    staff = factories.actor("unit_staff", unit)
    steps = [
        (factories.actor("dispatcher"), "dispatch", {"lead_unit": unit.code}),
        (staff, "sign", {}),
        (staff, "reply", {"basic": "属实", "process": "已处理", "basis": "条例"}),
        (factories.actor("reviewer"), "accept_reply", {}),
        (factories.actor("reviewer"), "close", {}),
    ]
    for who, action, body in steps:
        service.perform(who, copy_number, action, body)
    updates = [payload(r, pb.OrderUpdate) for r in outbox(pb.OrderUpdate)]
    kinds = [codec.UPDATE_KIND_NAMES[u.kind] for u in updates]
    assert kinds == ["accepted", "progress", "signed", "replied", "progress", "closed"]
    assert [u.sequence for u in updates] == [1, 2, 3, 4, 5, 6]
    assert all(r.destination == CITY for r in outbox(pb.OrderUpdate))
    # back at the origin: applied in order, once
    act_as(flow, CITY)
    for update in updates:
        update.order_number = order.number
        flows.apply_update(CITY, OTHER_CITY, update)
    flows.apply_update(CITY, OTHER_CITY, updates[3])  # a repeat is ignored
    origin = WorkOrder.get_by_id(order.id)
    assert origin.state == "closed" and origin.closed_at is not None
    assert origin.result_basic == "属实"
    remote = [
        (e.action, e.node)
        for e in OrderEvent.select().where(
            OrderEvent.order == origin, OrderEvent.action.startswith("remote_")
        )
    ]
    assert [a for a, _ in remote] == [
        "remote_accepted",
        "remote_progress",
        "remote_signed",
        "remote_replied",
        "remote_progress",
        "remote_closed",
    ]
    assert {n for _, n in remote} == {OTHER_CITY}
    link = TransferLink.get(TransferLink.direction == "out")
    assert (link.status, link.last_sequence) == ("closed", 6)
    # the origin can now call the citizen back
    service.perform(
        factories.actor("agent"),
        order.number,
        "callback",
        {"result_satisfaction": "1", "service_satisfaction": "1"},
    )
    assert WorkOrder.get_by_id(order.id).state == "visited"


def test_transfer_outside_destination_region_is_refused(flow: node_settings.Settings) -> None:
    order, transfer = transfer_out(flow)
    act_as(flow, "320200")  # the wrong city receives it
    flows.apply_transfer("320200", CITY, renumbered(transfer, other_number(order.number)))
    assert not WorkOrder.select().where(WorkOrder.number == other_number(order.number)).exists()
    (refusal_row,) = outbox(pb.OrderUpdate)
    refusal = payload(refusal_row, pb.OrderUpdate)
    assert refusal.kind == pb.OrderUpdate.TRANSFER_REFUSED and "不属于本节点" in refusal.note
    act_as(flow, CITY)
    refusal.order_number = order.number
    # the update comes from 320200, but the order was sent to 320500: not applied
    with pytest.raises(LookupError):
        flows.apply_update(CITY, "320200", refusal)
    refusal.from_node = OTHER_CITY
    flows.apply_update(CITY, OTHER_CITY, refusal)
    assert WorkOrder.get_by_id(order.id).state == "pending_dispatch"  # back to the origin's flow


def test_transfer_within_own_responsibility_is_refused_at_once(flow: node_settings.Settings) -> None:
    act_as(flow, PROV)
    order = factories.make_order("pending_dispatch")
    with pytest.raises(ValidationError):
        service.perform(
            factories.actor("dispatcher"), order.number, "transfer", {"region_code": "320000", "reason": "x"}
        )
    assert WorkOrder.get_by_id(order.id).state == "pending_dispatch" and not outbox(pb.OrderTransfer)


# ---- receiver content checks ---------------------------------------------------------------------


@pytest.fixture
def province(flow: node_settings.Settings) -> Receiver:
    for peer in (CITY, CITY2, MINISTRY):
        trust.add_peer(peer, PROV, address="127.0.0.1:1")
    return Receiver(ServerParams(me=PROV, tls=None))


def test_report_in_another_nodes_name_is_not_authorised(province: Receiver) -> None:
    key = signing_key(CITY)
    record(key)
    report = pb.DailyReport(
        node=CITY2, report_date="2025-03-01", counts=[pb.Count(metric="accepted", value=9)]
    )
    detail = refused(province, report, key, PROV, "NOT_AUTHORISED")
    assert "320200" in detail and "名义" in detail
    # ... also while only passing through towards the ministry
    inner = E.seal(report, key=key, destination=MINISTRY, message_id="r1").SerializeToString()
    outer = E.wrap_for_relay(inner, key=key, next_hop=PROV, message_id="r1").SerializeToString()
    assert pb.Ack.Reason.Name(province.receive(outer, CITY).reason) == "NOT_AUTHORISED"
    bad_date = pb.DailyReport(node=CITY, report_date="2025-13-40")
    refused(province, bad_date, key, PROV, "PAYLOAD_MALFORMED")


def test_records_and_updates_for_others_are_not_authorised(province: Receiver) -> None:
    key = signing_key(CITY)
    record(key)
    other = pb.OrderRecord(order_number="320200202503011000001", origin_node=CITY2, handling_node=CITY2)
    refused(province, pb.OrderRecordBatch(records=[other]), key, PROV, "RECORD_NOT_IN_SUBTREE")
    update = pb.OrderUpdate(
        order_number="320200202503011000001",
        from_node=CITY2,
        to_node=PROV,
        kind=pb.OrderUpdate.SIGNED,
        sequence=1,
    )
    refused(province, update, key, PROV, "NOT_AUTHORISED")
    transfer = pb.OrderTransfer(transfer_id="t", from_node=CITY, to_node=CITY2)
    refused(province, transfer, key, PROV, "NOT_AUTHORISED")
    # a report sent downward (a province's figures are not a city's business)
    prov_key = signing_key(MINISTRY)
    record(prov_key)
    down = pb.DailyReport(node=MINISTRY, report_date="2025-03-01")
    refused(province, down, prov_key, PROV, "NOT_AUTHORISED")


def test_reports_and_records_passing_up_are_applied_by_the_province(province: Receiver) -> None:
    key = signing_key(CITY)
    record(key)
    report = pb.DailyReport(
        node=CITY, report_date="2025-03-01", revision=1, counts=[pb.Count(metric="accepted", value=4)]
    )
    inner = E.seal(report, key=key, destination=MINISTRY, message_id="up").SerializeToString()
    outer = E.wrap_for_relay(inner, key=key, next_hop=PROV, message_id="up").SerializeToString()
    assert province.receive(outer, CITY).status == pb.Ack.ACCEPTED
    row = InboxMessage.get()
    assert (row.status, row.destination) == ("received", MINISTRY)  # applied here and relayed
    assert OutboxMessage.get().next_hop == MINISTRY
    from federation import inbox, reports

    assert inbox.process(PROV) == {"processed": 1, "failed": 0}
    assert reports.rollup(PROV, "2025-03-01")["totals"] == {"accepted": 4}


def test_inbox_lag_and_record_queue_metrics(flow: node_settings.Settings) -> None:
    import datetime as dt

    from federation.metrics import OutboxCollector
    from node import clock

    factories.make_order("accepted")
    InboxMessage.create(
        origin=CITY2,
        message_id="m-lag",
        destination=CITY,
        payload_type="federation.v1.OrderUpdate",
        via=PROV,
        envelope=b"x",
        received_at=clock.now() - dt.timedelta(seconds=90),
    )
    metrics = {m.name: m for m in OutboxCollector(CITY).collect()}
    assert metrics["federation_inbox_lag_seconds"].samples[0].value >= 90
    assert [(s.labels["status"], s.value) for s in metrics["federation_inbox_depth"].samples] == [
        ("received", 1)
    ]
    assert metrics["federation_record_queue_depth"].samples[0].value == 1
