"""Monthly report forms (月报) sent upward: generated with the month's form, queued to the ministry,
checked and kept by province and ministry (latest revision wins), shown on /stats/forms with the
subordinate's Excel, and summed into a rollup whose numbers equal the sum of the forms (SQLite and
PostgreSQL). The same over real processes: tests/federation/test_multinode.py."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook

from federation import codec, forms, trust
from federation import envelope as E
from federation.models import InboxMessage, NodeForm
from federation.server import Receiver, ServerParams
from federation.v1 import federation_pb2 as pb
from node import settings as node_settings
from node.analytics import forms as form_data
from node.analytics import jobs, parse_period
from node.errors import NotFound, PermissionDenied
from tests.factories import stat_order
from tests.federation.helpers import act_as, outbox, payload, record, refused, signing_key

CITY, CITY2, PROV, MINISTRY = "320100", "320200", "320000", "000000"
NOV = parse_period("2026-11")
T = dt.datetime(2026, 11, 10, 9, 0)


def city_orders(region: str, closed_on_time: int, late: int, channel: str) -> None:
    """Orders accepted at `region` in November (and one in October for 环比)."""
    due = T + dt.timedelta(days=5)
    for i in range(closed_on_time + late):
        stat_order(
            T,
            "closed",
            origin_node=region,
            channel=channel if i % 2 == 0 else "02",
            dispatched_at=T,
            due_at=due,
            closed_at=T + dt.timedelta(days=1 if i < closed_on_time else 7),
        )
    stat_order(dt.datetime(2026, 10, 5), origin_node=region, channel=channel)


def build(settings: node_settings.Settings, region: str) -> dict[str, Any]:
    act_as(settings, region)
    return form_data.build(NOV, region)


def cells(form: dict[str, Any], section: int) -> dict[str, list[Any]]:
    return {str(r["cells"][0]): r["cells"] for r in form["sections"][section]["rows"]}


def test_the_worker_job_sends_the_month_form_up(flow: node_settings.Settings, tmp_path: Any) -> None:
    act_as(flow, CITY)
    city_orders(CITY, 3, 1, "01")
    settings = node_settings.current()
    written = jobs.generate(settings, dt.date(2026, 12, 2))
    assert len(written) == 3  # month, quarter, year; only the month goes up
    rows = outbox(pb.MonthlyForm)
    assert len(rows) == 1 and rows[0].destination == MINISTRY
    sent = payload(rows[0], pb.MonthlyForm)
    assert (sent.node, sent.period) == (CITY, "2026-11")
    form = codec.form_data(sent)
    assert cells(form, 0)["受理量"][1] == 4 + 0  # November's 4 (October's is the 环比 base)
    assert NodeForm.get(NodeForm.node == CITY).form == form  # kept as this node's own
    assert jobs.generate(settings, dt.date(2026, 12, 3)) == []  # once per month
    assert len(outbox(pb.MonthlyForm)) == 1


@pytest.fixture
def province(flow: node_settings.Settings) -> Receiver:
    for peer in (CITY, CITY2, MINISTRY):
        trust.add_peer(peer, PROV, address="127.0.0.1:1")
    return Receiver(ServerParams(me=PROV, tls=None))


def up(province: Receiver, key: Any, message: pb.MonthlyForm, message_id: str) -> None:
    """A city's form on its way to the ministry, relayed (and kept) by the province."""
    inner = E.seal(message, key=key, destination=MINISTRY, message_id=message_id).SerializeToString()
    outer = E.wrap_for_relay(inner, key=key, next_hop=PROV, message_id=message_id).SerializeToString()
    ack = province.receive(outer, message.node)
    assert ack.status == pb.Ack.ACCEPTED, ack.detail


def test_the_province_keeps_the_latest_form_and_sums_them(
    province: Receiver, flow: node_settings.Settings, client: FlaskClient, login_as: Any
) -> None:
    from federation import inbox

    city_orders(CITY, 3, 1, "01")
    city_orders(CITY2, 1, 1, "03")
    nanjing, wuxi = build(flow, CITY), build(flow, CITY2)
    act_as(flow, PROV)
    keys = {CITY: signing_key(CITY), CITY2: signing_key(CITY2)}
    for key in keys.values():
        record(key)
    up(province, keys[CITY], codec.monthly_form(CITY, "2026-11", nanjing, 5), "f1")
    up(province, keys[CITY2], codec.monthly_form(CITY2, "2026-11", wuxi, 5), "f2")
    # an older revision arriving late changes nothing; a newer one replaces (same node + period)
    stale = json.loads(json.dumps(nanjing))
    stale["title"] = "旧版"
    up(province, keys[CITY], codec.monthly_form(CITY, "2026-11", stale, 4), "f3")
    assert inbox.process(PROV) == {"processed": 3, "failed": 0}
    assert NodeForm.get(NodeForm.node == CITY).form["title"] == nanjing["title"]
    newer = json.loads(json.dumps(nanjing))
    newer["title"] = "南京（更正）"
    up(province, keys[CITY], codec.monthly_form(CITY, "2026-11", newer, 6), "f4")
    inbox.process(PROV)
    assert NodeForm.select().where(NodeForm.node == CITY).count() == 1
    assert NodeForm.get(NodeForm.node == CITY).revision == 6
    assert forms.get_form(PROV, CITY, "2026-11")["title"] == "南京（更正）"

    total = forms.rollup(PROV, "2026-11")
    assert total["nodes"] == [CITY, CITY2] and total["missing"] == []
    summary = cells(total, 0)
    assert summary["受理量"][1] == 4 + 2
    # summed numerators over summed denominators (one test database: each "city" counts every
    # closure, so take the forms' own figures)
    n0, w0 = cells(nanjing, 0), cells(wuxi, 0)
    for name in ("限时办结率", "办结率", "受理量", "回访率"):
        num = None if n0[name][2] is None else n0[name][2] + w0[name][2]
        den = None if n0[name][3] is None else n0[name][3] + w0[name][3]
        assert summary[name][2:] == [num, den], name
    on_time = summary["限时办结率"]
    assert on_time[1] == round(on_time[2] / on_time[3], 6) and on_time[3] == n0["限时办结率"][3] * 2
    channels = cells(total, 1)
    n, w = cells(nanjing, 1), cells(wuxi, 1)
    for name in channels:
        assert channels[name][1] == (n.get(name, [0, 0])[1] or 0) + (w.get(name, [0, 0])[1] or 0)
    assert channels["合计"][1] == 6 and channels["合计"][2] == 1.0
    assert channels["合计"][4] == (6 - 2) / 2  # 环比: November 6 over October 2
    # the screen: the subordinate's form, its Excel, and the rollup with the same numbers
    act_as(flow, PROV)
    client.application.config["NODE"] = node_settings.current()
    login_as("supervisor")
    page = client.get("/stats/forms?period=2026-11").get_data(as_text=True)
    assert "下级报送的月报" in page and "已收到 2 / 2" in page, page[-3000:]  # the ministry: a parent
    page = client.get(f"/stats/forms?period=2026-11&region={CITY}").get_data(as_text=True)
    assert "南京（更正）" in page
    wb = load_workbook(io.BytesIO(client.get(f"/stats/forms?period=2026-11&region={CITY}&format=xlsx").data))
    assert wb.active.cell(1, 1).value == "南京（更正）"
    page = client.get("/stats/forms?period=2026-11&rollup=1").get_data(as_text=True)
    assert "汇总了 2 个节点报送的月报" in page
    wb = load_workbook(io.BytesIO(client.get("/stats/forms?period=2026-11&rollup=1&format=xlsx").data))
    rows = {r[0]: r for r in wb.active.iter_rows(values_only=True) if r and r[0]}
    assert rows["受理量"][1] == 6 and list(rows["限时办结率"][2:4]) == on_time[2:]
    assert client.get("/stats/forms?period=2026-Q4&rollup=1").status_code == 422
    assert client.get(f"/stats/forms?period=2026-10&region={CITY}").status_code == 404
    assert client.get("/stats/forms?period=2026-11&region=330100").status_code == 403
    with pytest.raises(PermissionDenied):
        forms.rollup(CITY, "2026-11", PROV)
    with pytest.raises(NotFound):
        forms.rollup(PROV, "2026-10")


def test_forms_in_another_name_downward_or_malformed_are_refused(province: Receiver) -> None:
    key = signing_key(CITY)
    record(key)
    good = {
        "title": "t",
        "period": "2026-11",
        "period_label": "2026年11月",
        "sections": [
            {"title": "s", "headers": ["a", "b"], "formats": ["text", "int"], "rows": [{"cells": ["x", 1]}]}
        ],
    }
    other = codec.monthly_form(CITY2, "2026-11", good, 1)
    assert "名义" in refused(province, other, key, PROV, "NOT_AUTHORISED")
    refused(
        province,
        codec.monthly_form(CITY, "2026-13", {**good, "period": "2026-13"}, 1),
        key,
        PROV,
        "PAYLOAD_MALFORMED",
    )
    bad_cells = json.loads(json.dumps(good))
    bad_cells["sections"][0]["rows"][0]["cells"] = ["x", {"a": 1}]
    refused(province, codec.monthly_form(CITY, "2026-11", bad_cells, 1), key, PROV, "PAYLOAD_MALFORMED")
    refused(
        province, pb.MonthlyForm(node=CITY, period="2026-11", form_json="{"), key, PROV, "PAYLOAD_MALFORMED"
    )
    wrong_period = codec.monthly_form(CITY, "2026-10", good, 1)
    refused(province, wrong_period, key, PROV, "PAYLOAD_MALFORMED")
    ministry_key = signing_key(MINISTRY)
    record(ministry_key)
    down = codec.monthly_form(MINISTRY, "2026-11", good, 1)
    refused(province, down, ministry_key, PROV, "NOT_AUTHORISED")
    assert InboxMessage.select().count() == 0 and NodeForm.select().count() == 0


def test_monthly_form_command_sends_a_new_revision_by_hand(tmp_path: Any) -> None:
    """`hotline admin monthly-form`: re-send a month's form (after the province lost it, or after
    late corrections); each run is a new revision queued upward; unfinished months are refused."""
    from click.testing import CliRunner

    from node import clock
    from node import db as node_db
    from tests.cli_node import hotline, init_node

    runner, cli = CliRunner(), hotline()
    home = tmp_path / "node"
    init_node(runner, home, CITY)
    run = ["-c", str(home), "admin", "monthly-form", "--month"]
    with clock.frozen(dt.datetime(2026, 12, 3, 9, 0)):
        first = runner.invoke(cli, [*run, "2026-11"])
        second = runner.invoke(cli, [*run, "2026-11"])
        early = runner.invoke(cli, [*run, "2026-12"])
        wrong = runner.invoke(cli, [*run, "2026-Q4"])
    assert first.exit_code == 0 and "2026年11月统计报表" in first.output and "已排队报送上级" in first.output
    assert second.exit_code == 0, second.output
    assert (home / "data" / "reports" / "12328统计报表-2026-11.xlsx").exists()
    # node.cli.main() prints these as "错误：…" (seen by hand); here the command's exception shows
    assert early.exit_code != 0 and "2026年12月尚未结束" in str(early.exception)
    assert wrong.exit_code != 0 and "应为年-月" in str(wrong.exception)
    with node_db.connection():
        sent = [payload(row, pb.MonthlyForm) for row in outbox(pb.MonthlyForm)]
    assert [(m.node, m.period) for m in sent] == [(CITY, "2026-11")] * 2
    assert sent[0].revision < sent[1].revision  # the later one replaces the earlier everywhere
