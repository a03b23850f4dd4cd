"""The inbox applies messages in grouped transactions with a savepoint per message, and the bulk
insert behind received records and report counts (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest

from federation import bulk, codec, flows, inbox
from federation import envelope as E
from federation.models import InboxMessage, NodeReport, RemoteOrder, ReportCount
from federation.v1 import federation_pb2 as pb
from node import clock
from node import settings as node_settings
from tests.federation.helpers import signing_key

PROV, CITY = "320000", "320100"


def stored(message: pb.DailyReport | pb.OrderRecordBatch, message_id: str) -> InboxMessage:
    env = E.seal(message, key=signing_key(CITY), destination=PROV, message_id=message_id)
    return InboxMessage.create(
        origin=CITY,
        message_id=message_id,
        destination=PROV,
        payload_type=message.DESCRIPTOR.full_name,
        via=CITY,
        envelope=env.SerializeToString(),
        received_at=clock.now(),
    )


def report(value: int, revision: int = 1) -> pb.DailyReport:
    return codec.daily_report(CITY, dt.date(2025, 3, 3), [("accepted", "1", "04", "01", value)], revision)


def test_a_failing_message_leaves_nothing_and_the_group_goes_on(
    flow: node_settings.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = stored(report(3), "m1")

    def half_then_fail(me: str, origin: str, batch: pb.OrderRecordBatch) -> None:
        flows.apply_records(me, origin, batch)  # writes, then fails: the savepoint undoes it
        raise RuntimeError("处理失败")

    monkeypatch.setitem(inbox.HANDLERS, pb.OrderRecordBatch.DESCRIPTOR.full_name, half_then_fail)
    record = pb.OrderRecord(
        order_number="320100202503031000001",
        origin_node=CITY,
        handling_node=CITY,
        region_code="320102",
        state="handling",
        accepted_at_ms=codec.ms(dt.datetime(2025, 3, 3, 9)),
        revision=1,
    )
    bad = stored(pb.OrderRecordBatch(records=[record]), "m2")
    last = stored(report(5, revision=2), "m3")
    assert inbox.process(PROV, group_seconds=60) == {"processed": 2, "failed": 1}
    rows = {r.id: r for r in InboxMessage.select()}
    assert (rows[first.id].status, rows[last.id].status) == ("processed", "processed")
    assert rows[bad.id].status == "failed" and "处理失败" in rows[bad.id].error
    assert RemoteOrder.select().count() == 0  # the failed message's writes were rolled back
    assert [c.value for c in ReportCount.select()] == [5]  # the later revision, applied after it
    assert inbox.process(PROV) == {"processed": 0, "failed": 0}


def test_small_groups_apply_everything_in_order(flow: node_settings.Settings) -> None:
    for i in range(5):
        stored(report(i + 1, revision=i + 1), f"r{i}")
    assert inbox.process(PROV, group_seconds=0) == {"processed": 5, "failed": 0}
    assert (NodeReport.get().revision, ReportCount.get().value) == (5, 5)


def test_bulk_upsert_in_chunks_keeps_the_higher_revision(
    flow: node_settings.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "MAX_PARAMS", 30)  # 2 rows of 15 columns per statement

    def rec(i: int, revision: int, state: str) -> pb.OrderRecord:
        return pb.OrderRecord(
            order_number=f"320100202503031{i:06d}",
            origin_node=CITY,
            handling_node=CITY,
            region_code="320102",
            business_type=pb.COMPLAINT,
            state=state,
            accepted_at_ms=codec.ms(dt.datetime(2025, 3, 3, 9)),
            closed_at_ms=codec.ms(dt.datetime(2025, 3, 3, 10)) if state == "closed" else 0,
            revision=revision,
        )

    flows.apply_records(PROV, CITY, pb.OrderRecordBatch(records=[rec(i, 2, "handling") for i in range(5)]))
    newer = [rec(i, 3, "closed") for i in range(3)] + [rec(i, 1, "accepted") for i in range(3, 5)]
    flows.apply_records(PROV, CITY, pb.OrderRecordBatch(records=newer))
    rows = {r.number[-1]: r for r in RemoteOrder.select()}
    assert {k: (r.state, r.revision) for k, r in rows.items()} == {
        "0": ("closed", 3),
        "1": ("closed", 3),
        "2": ("closed", 3),
        "3": ("handling", 2),
        "4": ("handling", 2),
    }
    assert rows["0"].closed_at == dt.datetime(2025, 3, 3, 10) and rows["3"].closed_at is None
    assert pb.OrderRecord.FromString(bytes(rows["0"].record)).state == "closed"
    assert bulk.insert_rows(RemoteOrder, ["number"], []) == 0
