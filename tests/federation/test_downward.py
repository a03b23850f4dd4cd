"""What flows down, on one database (SQLite and PostgreSQL): spot-check orders sent by an upper node,
created and handled at the target in its normal flow with every step scored back at the issuer, and
knowledge bulletins stored and passed on by each parent; the receiver's checks on both. The nodes
share the database here (the multi-node test runs them apart), so a test deletes what the "other
node" already holds where it matters."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from federation import codec, downward, flows, trust
from federation import envelope as E
from federation.models import InboxMessage, KnowledgeBulletin, OutboxMessage, SpotCheck, TransferLink
from federation.server import Receiver, ServerParams
from federation.v1 import federation_pb2 as pb
from node import clock
from node import settings as node_settings
from node.errors import NotFound, ValidationError
from node.workflow import service
from node.workflow.models import OrderEvent, WorkOrder
from tests import factories
from tests.federation.helpers import (
    act_as,
    deliver,
    outbox,
    payload,
    record,
    refused,
    sealed_for,
    signing_key,
)

MINISTRY, PROV, ZJ, CITY, CITY2 = "000000", "320000", "330000", "320100", "320200"
TESTER_PHONE = "13900002222"
FIELDS = {
    "business_type": "1",
    "domain": "04",
    "sub_business": "0403",
    "channel": "01",
    "region_code": "320102",
    "content": "（抽检）新街口出租车拒载，请核实处理。",
    "caller_name": "抽检员",
    "contact_phone": TESTER_PHONE,
    "respondent_plate": "苏A88888",
}


def children(me: str, *regions: str) -> None:
    for region in regions:
        trust.add_peer(region, me, address="127.0.0.1:1")


# ---- spot checks ----------------------------------------------------------------------------------


def send(flow: node_settings.Settings, **kw: Any) -> tuple[SpotCheck, pb.SpotCheckOrder]:
    act_as(flow, MINISTRY)
    check = downward.send_spot_check(MINISTRY, CITY, dict(FIELDS), issued_by="部抽检组", **kw)
    (row,) = outbox(pb.SpotCheckOrder)
    assert (row.destination, row.next_hop, row.message_id) == (CITY, PROV, check.check_id)
    return check, payload(row, pb.SpotCheckOrder)


def test_spot_check_is_handled_at_the_target_and_scored_at_the_issuer(flow: node_settings.Settings) -> None:
    check, message = send(flow, instructions="按正常流程办理，勿告知被抽检单位")
    assert (check.status, check.order_number, check.due_at) == ("sent", "", None)
    assert message.order.record.spot_check and message.order.contact_phone == TESTER_PHONE

    act_as(flow, CITY)
    downward.apply_spot_check(CITY, MINISTRY, message)
    downward.apply_spot_check(CITY, MINISTRY, message)  # a second delivery changes nothing
    (order,) = WorkOrder.select().where(WorkOrder.is_spot_check == True)  # noqa: E712
    assert order.number.startswith(CITY) and order.origin_node == CITY  # numbered here
    assert order.state == "pending_review" and order.due_at is not None  # normal flow, own limit
    assert order.contact_phone_masked.endswith("2222") and order.caller_name == "抽检员"
    first = OrderEvent.select().where(OrderEvent.order == order).order_by(OrderEvent.id).first()
    assert (first.action, first.reason, first.data["from"]) == (
        "receive_spot_check",
        "按正常流程办理，勿告知被抽检单位",
        MINISTRY,
    )
    link = TransferLink.get(TransferLink.direction == "in")
    assert (link.transfer_id, link.number, link.peer) == (check.check_id, order.number, MINISTRY)

    unit = factories.make_unit(region_code="320102")
    staff = factories.actor("unit_staff", unit)
    for who, action, body in [
        (factories.actor("reviewer"), "review", {}),
        (factories.actor("dispatcher"), "dispatch", {"lead_unit": unit.code}),
        (staff, "sign", {}),
        (staff, "reply", {"basic": "属实", "process": "已约谈驾驶员", "basis": "出租汽车服务规范"}),
        (factories.actor("reviewer"), "accept_reply", {}),
        (factories.actor("reviewer"), "close", {}),
    ]:
        service.perform(who, order.number, action, body)
    updates = [payload(r, pb.OrderUpdate) for r in outbox(pb.OrderUpdate)]
    assert [codec.UPDATE_KIND_NAMES[u.kind] for u in updates] == [
        "accepted",
        "progress",
        "progress",
        "signed",
        "replied",
        "progress",
        "closed",
    ]
    assert [u.sequence for u in updates] == list(range(1, 8))
    assert {(u.transfer_id, u.to_node, u.order_number) for u in updates} == {
        (check.check_id, MINISTRY, order.number)
    }
    assert {r.destination for r in outbox(pb.OrderUpdate)} == {MINISTRY}

    act_as(flow, MINISTRY)
    for update in updates:
        flows.apply_update(MINISTRY, CITY, update)
    flows.apply_update(MINISTRY, CITY, updates[3])  # a repeat is ignored
    check = SpotCheck.get_by_id(check.id)
    assert (check.status, check.order_number, check.last_sequence, check.remote_state) == (
        "closed",
        order.number,
        7,
        "closed",
    )
    assert check.due_at == order.due_at  # the target's own limit, as its acceptance reported it
    assert None not in (check.accepted_at, check.signed_at, check.replied_at, check.closed_at)
    (item,) = downward.list_spot_checks(MINISTRY)
    assert (item["on_time"], item["overdue"], item["status"]) == (True, False, "closed")
    assert item["sign_minutes"] is not None and item["close_hours"] is not None
    assert downward.spot_check_summary([item]) == {
        "total": 1,
        "closed": 1,
        "on_time": 1,
        "late": 0,
        "overdue": 0,
        "refused": 0,
    }
    assert downward.list_spot_checks(MINISTRY, target=CITY2) == []


def test_late_and_overdue_spot_checks(flow: node_settings.Settings) -> None:
    due = clock.now() + dt.timedelta(hours=4)
    check, message = send(flow, due_at=due)
    act_as(flow, CITY)
    downward.apply_spot_check(CITY, MINISTRY, message)
    order = WorkOrder.get(WorkOrder.is_spot_check == True)  # noqa: E712
    assert abs((order.due_at - due).total_seconds()) < 1  # the issuer's deadline applies
    (accepted,) = [payload(r, pb.OrderUpdate) for r in outbox(pb.OrderUpdate)]
    act_as(flow, MINISTRY)
    flows.apply_update(MINISTRY, CITY, accepted)
    assert downward.list_spot_checks(MINISTRY)[0]["overdue"] is False
    SpotCheck.update(due_at=clock.now() - dt.timedelta(minutes=1)).execute()  # time has passed
    assert downward.list_spot_checks(MINISTRY)[0]["overdue"] is True
    closed = pb.OrderUpdate(
        order_number=order.number,
        transfer_id=check.check_id,
        from_node=CITY,
        to_node=MINISTRY,
        kind=pb.OrderUpdate.CLOSED,
        sequence=2,
        at_ms=codec.ms(clock.now()),
        state="closed",
    )
    flows.apply_update(MINISTRY, CITY, closed)
    (item,) = downward.list_spot_checks(MINISTRY)
    assert (item["status"], item["on_time"], item["overdue"]) == ("closed", False, False)
    assert downward.spot_check_summary([item])["late"] == 1


def test_spot_check_outside_the_targets_area_is_refused(flow: node_settings.Settings) -> None:
    check, message = send(flow)
    act_as(flow, CITY2)  # delivered to the wrong city: the matter is not its region
    downward.apply_spot_check(CITY2, MINISTRY, message)
    assert not WorkOrder.select().where(WorkOrder.is_spot_check == True).exists()  # noqa: E712
    (row,) = outbox(pb.OrderUpdate)
    refusal = payload(row, pb.OrderUpdate)
    assert refusal.kind == pb.OrderUpdate.TRANSFER_REFUSED and "不属于本节点" in refusal.note
    assert row.message_id == f"{check.check_id}:1"
    act_as(flow, MINISTRY)
    with pytest.raises(LookupError):  # the check went to 320100, not 320200
        flows.apply_update(MINISTRY, CITY2, refusal)
    refusal.from_node = CITY
    flows.apply_update(MINISTRY, CITY, refusal)
    check = SpotCheck.get_by_id(check.id)
    assert check.status == "refused" and "不属于本节点" in check.note
    assert downward.spot_check_summary(downward.list_spot_checks(MINISTRY))["refused"] == 1


def test_spot_check_with_unknown_codes_is_refused(flow: node_settings.Settings) -> None:
    _, message = send(flow)
    message.order.record.channel_code = "99"
    act_as(flow, CITY)
    downward.apply_spot_check(CITY, MINISTRY, message)
    assert not WorkOrder.select().where(WorkOrder.is_spot_check == True).exists()  # noqa: E712
    (row,) = outbox(pb.OrderUpdate)
    assert "受理渠道" in payload(row, pb.OrderUpdate).note


@pytest.mark.parametrize(
    ("me", "target", "changes", "message"),
    [
        (PROV, "330100", {}, "不是本节点"),  # another province's city
        (CITY, CITY2, {}, "不是本节点"),  # a city has no nodes below
        (MINISTRY, MINISTRY, {}, "不是本节点"),
        (MINISTRY, CITY, {"region_code": "320205"}, "不在抽检对象"),
        (MINISTRY, CITY, {"content": " "}, "content"),
        (MINISTRY, CITY, {"business_type": "7"}, "业务类型"),
        (MINISTRY, "3201", {}, "不是本节点"),
    ],
)
def test_send_spot_check_validates(
    flow: node_settings.Settings, me: str, target: str, changes: dict[str, str], message: str
) -> None:
    act_as(flow, me)
    with pytest.raises(ValidationError) as err:
        downward.send_spot_check(me, target, {**FIELDS, **changes})
    assert message in str(err.value) + str(getattr(err.value, "details", ""))
    assert not outbox(pb.SpotCheckOrder) and SpotCheck.select().count() == 0


def test_spot_check_due_time_must_be_ahead(flow: node_settings.Settings) -> None:
    act_as(flow, MINISTRY)
    with pytest.raises(ValidationError, match="期限"):
        downward.send_spot_check(MINISTRY, CITY, dict(FIELDS), due_at=clock.now() - dt.timedelta(hours=1))


# ---- knowledge bulletins ----------------------------------------------------------------------------


def publish(flow: node_settings.Settings, scope: str, **kw: Any) -> KnowledgeBulletin:
    act_as(flow, MINISTRY)
    return downward.publish_bulletin(
        MINISTRY,
        scope,
        title="网约车投诉处理口径（2025年版）",
        body="一、平台责任……\n二、处理时限……",
        category="业务流程",
        tags=["网约车", "投诉"],
        effective_date=dt.date(2025, 4, 1),
        **kw,
    )


def test_bulletin_for_the_nation_reaches_cities_through_their_province(
    flow: node_settings.Settings,
) -> None:
    children(MINISTRY, PROV, ZJ)
    row = publish(flow, MINISTRY)
    assert (row.issuer, row.origin, row.scope, row.revision) == (MINISTRY, MINISTRY, MINISTRY, 1)
    sent = outbox(pb.KnowledgeBulletin)
    assert [(r.destination, r.message_id) for r in sent] == [
        (PROV, f"{row.bulletin_id}:1:{PROV}"),
        (ZJ, f"{row.bulletin_id}:1:{ZJ}"),
    ]
    message = payload(sent[0], pb.KnowledgeBulletin)
    assert (message.effective_date, list(message.tags), message.scope) == (
        "2025-04-01",
        ["网约车", "投诉"],
        MINISTRY,
    )

    # the province stores it and re-issues it to each of its cities
    KnowledgeBulletin.delete().execute()  # (the ministry's copy: another node's database)
    OutboxMessage.delete().execute()
    act_as(flow, PROV)
    children(PROV, CITY, CITY2)
    downward.apply_bulletin(PROV, MINISTRY, message)
    downward.apply_bulletin(PROV, MINISTRY, message)  # again: nothing new is stored or sent
    here = KnowledgeBulletin.get()
    assert (here.issuer, here.origin, here.effective_date, here.tags) == (
        MINISTRY,
        MINISTRY,
        dt.date(2025, 4, 1),
        "网约车,投诉",
    )
    onward = outbox(pb.KnowledgeBulletin)
    assert [(r.origin, r.destination) for r in onward] == [(PROV, CITY), (PROV, CITY2)]
    passed = payload(onward[0], pb.KnowledgeBulletin)
    assert passed.issuer_node == MINISTRY and passed.SerializeToString() == message.SerializeToString()

    # a city stores it, knowing who wrote it and who handed it over
    KnowledgeBulletin.delete().execute()
    OutboxMessage.delete().execute()
    act_as(flow, CITY)
    downward.apply_bulletin(CITY, PROV, passed)
    (item,) = downward.list_bulletins()
    assert (item["issuer"], item["origin"], item["title"], item["effective_date"]) == (
        MINISTRY,
        PROV,
        "网约车投诉处理口径（2025年版）",
        "2025-04-01",
    )
    assert item["tags"] == ["网约车", "投诉"] and not outbox(pb.KnowledgeBulletin)
    assert downward.list_bulletins(category="常见问题") == []

    # a later revision (withdrawn) replaces it; an older one is ignored
    withdrawn = pb.KnowledgeBulletin()
    withdrawn.CopyFrom(passed)
    withdrawn.revision, withdrawn.withdrawn = 2, True
    downward.apply_bulletin(CITY, PROV, withdrawn)
    downward.apply_bulletin(CITY, PROV, passed)
    assert downward.list_bulletins() == []
    (item,) = downward.list_bulletins(include_withdrawn=True)
    assert (item["revision"], item["withdrawn"]) == (2, True)


def test_bulletin_for_one_province_or_city_goes_to_that_node(flow: node_settings.Settings) -> None:
    children(MINISTRY, PROV, ZJ)
    publish(flow, PROV)
    publish(flow, CITY)
    assert [(r.destination, r.next_hop) for r in outbox(pb.KnowledgeBulletin)] == [(PROV, PROV), (CITY, PROV)]
    # the city-scoped one is not passed on by the city (no children) nor kept by a relay
    city_scoped = payload(outbox(pb.KnowledgeBulletin)[1], pb.KnowledgeBulletin)
    KnowledgeBulletin.delete().execute()
    OutboxMessage.delete().execute()
    act_as(flow, CITY)
    downward.apply_bulletin(CITY, MINISTRY, city_scoped)
    assert KnowledgeBulletin.select().count() == 1 and not outbox(pb.KnowledgeBulletin)


def test_withdraw_goes_the_same_way(flow: node_settings.Settings) -> None:
    children(MINISTRY, PROV, ZJ)
    row = publish(flow, MINISTRY)
    OutboxMessage.delete().execute()
    again = downward.withdraw_bulletin(MINISTRY, row.bulletin_id)
    assert (again.revision, again.withdrawn) == (2, True)
    sent = outbox(pb.KnowledgeBulletin)
    assert [r.message_id for r in sent] == [f"{row.bulletin_id}:2:{PROV}", f"{row.bulletin_id}:2:{ZJ}"]
    assert payload(sent[0], pb.KnowledgeBulletin).withdrawn
    with pytest.raises(ValidationError, match="已撤回"):
        downward.withdraw_bulletin(MINISTRY, row.bulletin_id)
    with pytest.raises(NotFound):
        downward.withdraw_bulletin(MINISTRY, "no-such-bulletin")
    act_as(flow, PROV)  # only the issuer withdraws
    with pytest.raises(NotFound):
        downward.withdraw_bulletin(PROV, row.bulletin_id)


@pytest.mark.parametrize(
    ("me", "scope", "changes", "message"),
    [
        (CITY, CITY, {}, "市级节点"),
        (PROV, ZJ, {}, "不在本节点"),
        (PROV, "330100", {}, "不在本节点"),
        (MINISTRY, "32010", {}, "6位数字"),
        (MINISTRY, MINISTRY, {"title": "  "}, "标题"),
        (MINISTRY, MINISTRY, {"title": "长" * 201}, "标题"),
        (MINISTRY, MINISTRY, {"body": ""}, "正文"),
        (MINISTRY, MINISTRY, {"category": "类" * 41}, "类别"),
    ],
)
def test_publish_bulletin_validates(
    flow: node_settings.Settings, me: str, scope: str, changes: dict[str, str], message: str
) -> None:
    act_as(flow, me)
    values = {"title": "通报", "body": "正文", "category": "", **changes}
    with pytest.raises(ValidationError, match=message):
        downward.publish_bulletin(me, scope, **values)
    assert KnowledgeBulletin.select().count() == 0 and not outbox(pb.KnowledgeBulletin)


# ---- receiver checks ------------------------------------------------------------------------------


@pytest.fixture
def province(flow: node_settings.Settings) -> Receiver:
    act_as(flow, PROV)
    children(PROV, CITY, CITY2, MINISTRY)
    return Receiver(ServerParams(me=PROV, tls=None))


def bulletin(**kw: Any) -> pb.KnowledgeBulletin:
    values = {
        "bulletin_id": "b-1",
        "issuer_node": MINISTRY,
        "title": "通报",
        "body": "正文",
        "revision": 1,
        "scope": MINISTRY,
        **kw,
    }
    return pb.KnowledgeBulletin(**values)


def test_bulletins_only_come_down_from_an_ancestor_inside_their_scope(province: Receiver) -> None:
    ministry, city = signing_key(MINISTRY), signing_key(CITY)
    record(ministry)
    record(city)
    assert "上级" in refused(province, bulletin(issuer_node=CITY, scope=CITY), city, PROV, "NOT_AUTHORISED")
    refused(province, bulletin(issuer_node=ZJ), ministry, PROV, "NOT_AUTHORISED")  # not the sender's
    refused(province, bulletin(scope=ZJ), ministry, PROV, "NOT_AUTHORISED")  # we are outside the scope
    refused(province, bulletin(bulletin_id="x" * 41), ministry, PROV, "PAYLOAD_MALFORMED")
    refused(province, bulletin(revision=0), ministry, PROV, "PAYLOAD_MALFORMED")
    refused(province, bulletin(body=""), ministry, PROV, "PAYLOAD_MALFORMED")
    refused(province, bulletin(effective_date="2025-02-30"), ministry, PROV, "PAYLOAD_MALFORMED")
    refused(province, bulletin(scope="12"), ministry, PROV, "PAYLOAD_MALFORMED")
    assert deliver(province, bulletin(), ministry, PROV).status == pb.Ack.ACCEPTED
    assert InboxMessage.get().status == "received"


def test_spot_checks_only_come_down_addressed_as_they_say(province: Receiver) -> None:
    ministry, city = signing_key(MINISTRY), signing_key(CITY)
    record(ministry)
    record(city)

    def order(**kw: Any) -> pb.SpotCheckOrder:
        return pb.SpotCheckOrder(**{"check_id": "c-1", "issuer_node": MINISTRY, "target_node": PROV, **kw})

    refused(province, order(issuer_node=CITY), city, PROV, "NOT_AUTHORISED")  # from below
    refused(province, order(target_node=CITY2), ministry, PROV, "NOT_AUTHORISED")  # not as addressed
    refused(province, order(check_id=""), ministry, PROV, "PAYLOAD_MALFORMED")
    # one passing through the province on its way to a city is relayed, not applied here
    inner = E.seal(
        sealed_for(order(target_node=CITY), CITY), key=ministry, destination=CITY, message_id="c-1"
    )
    outer = E.wrap_for_relay(inner.SerializeToString(), key=ministry, next_hop=PROV, message_id="c-1")
    assert province.receive(outer.SerializeToString(), MINISTRY).status == pb.Ack.ACCEPTED
    assert InboxMessage.get().status == "forwarded" and OutboxMessage.get().next_hop == CITY


# ---- REST -------------------------------------------------------------------------------------------


def test_bulletin_and_spot_check_endpoints(flow: node_settings.Settings, client: Any, token_for: Any) -> None:
    children(MINISTRY, PROV)
    publish(flow, MINISTRY)
    downward.send_spot_check(MINISTRY, CITY, dict(FIELDS))
    client.application.config["NODE"] = dataclasses.replace(flow, region=MINISTRY, level="ministry")
    resp = client.get("/api/v1/federation/bulletins", headers=token_for("agent"))
    assert resp.status_code == 200, resp.get_json()
    assert [b["category"] for b in resp.get_json()["items"]] == ["业务流程"]
    assert client.get("/api/v1/federation/bulletins?limit=0", headers=token_for("agent")).status_code == 422
    assert client.get("/api/v1/federation/bulletins").status_code == 401
    checks = client.get("/api/v1/federation/spot-checks", headers=token_for("supervisor"))
    assert checks.status_code == 200
    assert checks.get_json()["summary"]["total"] == 1 and checks.get_json()["items"][0]["target"] == CITY
    assert client.get("/api/v1/federation/spot-checks", headers=token_for("agent")).status_code == 403
    bad = client.get("/api/v1/federation/spot-checks?target=abc", headers=token_for("supervisor"))
    assert bad.status_code == 422


def test_receive_spot_check_checks_permission_and_content(flow: node_settings.Settings) -> None:
    from node.errors import PermissionDenied

    act_as(flow, CITY)
    with pytest.raises(PermissionDenied):
        service.receive_spot_check(
            factories.actor("unit_staff"), dict(FIELDS), from_node=MINISTRY, check_id="c"
        )
    with pytest.raises(ValidationError, match="诉求内容"):
        service.receive_spot_check(
            factories.actor("agent"), {**FIELDS, "content": " "}, from_node=MINISTRY, check_id="c"
        )
    with pytest.raises(ValidationError, match="行政区划"):
        service.receive_spot_check(
            factories.actor("agent"), {**FIELDS, "region_code": "329999"}, from_node=MINISTRY, check_id="c"
        )
    assert not WorkOrder.select().where(WorkOrder.is_spot_check == True).exists()  # noqa: E712
