"""/metrics: only allowed addresses or a monitoring token; the node's state for the alert rules."""

from __future__ import annotations

from node.auth import admin
from node.auth import service as auth
from tests import factories

OUTSIDE = {"REMOTE_ADDR": "203.0.113.9"}


def test_metrics_refused_from_outside_without_token(client, db):
    assert client.get("/metrics", environ_base=OUTSIDE).status_code == 403
    agent_token = auth.issue_token(factories.make_user("agent"), "t")
    resp = client.get("/metrics", environ_base=OUTSIDE, headers={"Authorization": f"Bearer {agent_token}"})
    assert resp.status_code == 403


def test_metrics_for_local_scraper_and_monitoring_token(client, db):
    factories.make_order("dispatched")
    local = client.get("/metrics")
    assert local.status_code == 200
    body = local.get_data(as_text=True)
    assert (
        "hotline_orders_open" in body
        and "hotline_orders_overdue" in body
        and 'hotline_disk_free_bytes{path="home"}' in body
    )
    me = factories.actor("admin")
    admin.save_role(
        me, code="prometheus", name="监控采集", permissions=["monitor.view"], scope="own", create=True
    )
    scraper = factories.make_user("agent")
    admin.update_user(me, scraper.id, display_name="Prometheus", roles=["prometheus"], unit_id=None)
    token = auth.issue_token(auth.get_user(scraper.id), "prometheus")
    resp = client.get("/metrics", environ_base=OUTSIDE, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
