"""The appraisal screens through the test client: pages render, the Excel files hold the numbers
the screen shows, a unit sees only itself, forms validate."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

from openpyxl import load_workbook

from node import clock
from node.appraisal import qa, runs
from node.appraisal.models import Result
from node.auth import service as auth
from tests import factories
from tests.appraisal import helpers

NOV = dt.datetime(2026, 11, 3, 10)


def _login(client: Any, user: Any) -> str:
    resp = client.post("/api/v1/auth/login", json={"username": user.username, "password": factories.PASSWORD})
    return str(resp.get_json()["csrf_token"])


def test_screens_exports_and_unit_scope(client: Any, db: str) -> None:
    u1, u2 = factories.make_unit(name="甲运输公司"), factories.make_unit(name="乙客运站")
    helpers.unit_order(u1, NOV, signed_after_h=5)
    helpers.unit_order(u1, NOV)
    helpers.unit_order(u2, NOV)
    agent = factories.make_user("agent")
    helpers.call(helpers.seat(agent), NOV, rating=3)
    leader_user = factories.make_user("shift_leader")
    with clock.frozen(dt.datetime(2026, 12, 2, 9)):
        csrf = _login(client, leader_user)
        page = client.get("/appraisal/rankings?population=unit&period=2026-11")
        assert page.status_code == 200 and "尚未评分" in page.get_data(as_text=True)
        resp = client.post(
            "/appraisal/runs", data={"population": "unit", "period": "2026-11", "csrf_token": csrf}
        )
        assert resp.status_code == 302
        html = client.get("/appraisal/rankings?population=unit&period=2026-11").get_data(as_text=True)
        assert "甲运输公司" in html and "ranking-chart" in html
        run = runs.get_run("unit", "2026-11")
        r1 = Result.get(Result.run == run, Result.subject_id == str(u1.id))
        screen_totals = re.findall(r"<strong>([\d.]+)</strong>", html)
        wb = load_workbook(
            io.BytesIO(client.get("/appraisal/rankings.xlsx?population=unit&period=2026-11").data)
        )
        ws = wb.active
        assert "2026年11月承办单位考核排名" in ws["A1"].value
        header = [c.value for c in ws[3]]
        total_col = header.index("总分")
        xl_totals = [f"{row[total_col]:.2f}" for row in ws.iter_rows(min_row=4, values_only=True)]
        assert xl_totals == screen_totals
        card = client.get(f"/appraisal/results/{r1.id}").get_data(as_text=True)
        assert "签收及时率" in card and "50.00%" in card
        ev = client.get(f"/appraisal/results/{r1.id}/evidence/sign_on_time_rate").get_data(as_text=True)
        assert "超时或未签收" in ev and "按时签收" in ev
        cwb = load_workbook(io.BytesIO(client.get(f"/appraisal/results/{r1.id}.xlsx").data)).active
        rows = {r[0]: r for r in cwb.iter_rows(min_row=4, values_only=True)}
        assert rows["签收及时率"][1] == "50.00%" and rows["总分"][3] == r1.total
        # adjustment form: bad number, then a real one
        client.post(
            f"/appraisal/results/{r1.id}/adjust",
            data={"kind": "bonus", "points": "abc", "reason": "x", "csrf_token": csrf},
        )
        assert Result.get_by_id(r1.id).adjustment == 0
        client.post(
            f"/appraisal/results/{r1.id}/adjust",
            data={"kind": "penalty", "points": "2", "reason": "约谈", "csrf_token": csrf},
        )
        assert Result.get_by_id(r1.id).adjustment == -2
        assert client.post(f"/appraisal/runs/{run.id}/publish", data={"csrf_token": csrf}).status_code == 302
        # QA screens
        client.post("/appraisal/qa/sample", data={"period": "2026-11", "per_agent": "2", "csrf_token": csrf})
        ins = qa.listing(auth.actor_for(leader_user), "2026-11")[0]
        page = client.get(f"/appraisal/qa/{ins.id}").get_data(as_text=True)
        assert "qa-audio" in page and f"/telephony/recordings/{ins.call.uuid}" in page
        client.post(
            f"/appraisal/qa/{ins.id}/score",
            data={
                "csrf_token": csrf,
                "score_greeting": "15",
                "score_accuracy": "30",
                "score_attitude": "20",
                "score_script": "15",
                "score_order": "15",
                "comment": "良好",
                "marks": '[{"t": 12.5, "note": "</script><b>x"}]',
            },
        )
        assert qa.get(auth.actor_for(leader_user), ins.id).total == 95
        page = client.get(f"/appraisal/qa/{ins.id}").get_data(as_text=True)
        assert "</script><b>x" not in page
        for bad in (
            "/appraisal/rankings?period=2026-99",
            "/appraisal/rankings?population=x",
            "/appraisal/results/999999999",
        ):
            assert client.get(bad).status_code in (400, 404, 422)

        # the unit's staff: only their own unit
        client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
        staff = factories.make_user("unit_staff", u1)
        csrf = _login(client, staff)
        html = client.get("/appraisal/rankings?population=unit&period=2026-11").get_data(as_text=True)
        assert "甲运输公司" in html and "乙客运站" not in html
        r2 = Result.get(Result.run == run, Result.subject_id == str(u2.id))
        assert client.get(f"/appraisal/results/{r2.id}").status_code == 403
        assert client.get(f"/appraisal/qa/{ins.id}").status_code == 403
        client.post(
            f"/appraisal/results/{r1.id}/objection", data={"text": "签收超时系系统故障", "csrf_token": csrf}
        )
        assert [o.text for o in runs.objections(auth.actor_for(staff))] == ["签收超时系系统故障"]
