"""The authorisation matrix, generated: every role of the permission table (node/auth/roles.py)
× every route of the application (app.url_map, so routes added later join by themselves).

- nothing answers 5xx, for any role, anonymous included;
- anonymous callers are refused everywhere but the public surface (PUBLIC);
- the table's order holds: a role whose permissions include another's is refused nowhere the
  other is allowed, and the union of all roles is refused nowhere at all (except PRIVILEGED_ONLY);
- a role with one harmless permission (MINIMAL, own-orders scope) is refused everywhere but
  SELF_SERVICE and the knowledge base;
- data scope: unit staff see only their unit's orders, an own-orders role only its own.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from werkzeug.routing import IntegerConverter, Rule

from node.auth import admin as role_admin
from node.auth import service as auth
from node.auth.roles import PERMISSIONS
from tests import factories
from tests.factories import make_order, make_unit

# Reachable without signing in (the WeChat callback checks the platform's signature instead).
PUBLIC = re.compile(
    r"^/(public|portal|open311|wechat/callback$|healthz|favicon\.ico$|login|logout|password-reset|no-screen|api/docs|api/v1/openapi\.json"
    r"|api/v1/auth/(login|token)$)"
)
# Open to every signed-in user whatever the role: the user's own account, the way in, reference
# data (codes, regions, units, calendar, SLA, bulletins), the own-orders scope, the own agent state;
# the Prometheus texts answer loopback (the scrape address) as well.
SELF_SERVICE = re.compile(
    r"^/($|api/v1/auth/|api/v1/me|account|password|orders/<number>$|api/v1/orders/<number>"
    r"|api/v1/orders$|queues$|api/v1/catalog|api/v1/regions|api/v1/calendar|api/v1/units"
    r"|api/v1/sla-policies$|api/v1/federation/bulletins$|telephony/agent/me$|metrics$|telephony/metrics$"
    r"|notices"  # the user's own inbox
    r"|knowledge/|api/v1/knowledge/)"  # MINIMAL is knowledge.view: the knowledge base is open to it
)
# Answers that refuse nothing but reveal nothing either: a redirect to a landing page, an object
# that does not exist, and (known, owner's area) a list that validates its filter before the role.
NEUTRAL = {301, 302, 303, 404}
KNOWN_VALIDATES_FIRST = {"/api/v1/files"}
REFUSED = {401, 403}
# A role needs one permission; the minimal role holds this one (and its own-orders scope).
MINIMAL = "knowledge.view"


def _url(rule: Rule, number: str) -> str:
    values: dict[str, Any] = {}
    for name, conv in rule._converters.items():
        if isinstance(conv, IntegerConverter):
            values[name] = 1
        elif name == "number":
            values[name] = number
        elif name == "fmt":
            values[name] = "json"
        else:
            values[name] = "x"
    return rule.build(values, append_unknown=False)[1]  # type: ignore[index]


def _rules(app: Flask) -> list[Rule]:
    skip = ("static", "push")
    return sorted(
        (
            r
            for r in app.url_map.iter_rules()
            if r.endpoint.split(".")[-1] not in skip and "static" not in r.endpoint
        ),
        key=lambda r: r.rule,
    )


def _headers_for(roles: list[str], unit: Any) -> dict[str, str]:
    unit_scoped = any("order.view_unit" in PERMISSIONS.get(r, ()) for r in roles)
    user = factories.make_user(roles, unit if unit_scoped else None)  # unit roles belong to a unit
    return {"Authorization": "Bearer " + auth.issue_token(user, "matrix"), "Accept": "application/json"}


def _get(client, url: str, headers: dict[str, str]) -> int:
    return client.get(url, headers=headers).status_code


def test_every_role_against_every_route(app, client, db):
    unit = make_unit()
    order = make_order("dispatched", unit)
    admin_actor = factories.actor("admin")
    role_admin.save_role(
        admin_actor,
        code="nothing",
        name="最小权限",
        permissions=[MINIMAL],
        scope="own",
        description="",
        create=True,
    )
    actors: dict[str, dict[str, str]] = {role: _headers_for([role], unit) for role in PERMISSIONS}
    actors["*all*"] = _headers_for(list(PERMISSIONS), unit)
    actors["*nothing*"] = _headers_for(["nothing"], unit)
    perms = {role: PERMISSIONS[role] for role in PERMISSIONS}
    perms["*all*"] = frozenset().union(*PERMISSIONS.values())
    perms["*nothing*"] = frozenset({MINIMAL, "order.view_own"})

    results: dict[tuple[str, str], int] = {}
    server_errors: list[str] = []
    anonymous_open: list[str] = []
    for rule in _rules(app):
        url = _url(rule, order.number)
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        for method in methods:
            anon = client.open(
                url,
                method=method,
                headers={"Accept": "application/json"},
                environ_base={"REMOTE_ADDR": "203.0.113.9"},  # not a scrape address
            ).status_code
            if anon >= 500:
                server_errors.append(f"anonymous {method} {url} → {anon}")
            if not PUBLIC.match(rule.rule) and anon not in (*REFUSED, 302, 303, 400):
                anonymous_open.append(f"{method} {rule.rule} → {anon}")
        if "GET" not in methods:
            continue
        for who, headers in actors.items():
            status = _get(client, url, headers)
            results[(who, rule.rule)] = status
            if status >= 500:
                server_errors.append(f"{who} GET {url} → {status}")
    assert not server_errors, server_errors
    assert not anonymous_open, anonymous_open

    rules = {r for _, r in results}
    inverted: list[str] = []
    for low in actors:
        for high in actors:
            if low == high or not perms[low] <= perms[high]:
                continue
            for rule in rules:
                if results[(low, rule)] not in REFUSED and results[(high, rule)] in REFUSED:
                    inverted.append(f"{rule}: {low} allowed ({results[(low, rule)]}) but {high} refused")
    assert not inverted, inverted
    everything_refused = [r for r in rules if results[("*all*", r)] in REFUSED and not PUBLIC.match(r)]
    assert not everything_refused, everything_refused
    nothing_allowed = [
        f"{r} → {results[('*nothing*', r)]}"
        for r in rules
        if results[("*nothing*", r)] not in (*REFUSED, *NEUTRAL)
        and not PUBLIC.match(r)
        and not SELF_SERVICE.match(r)
        and not (r in KNOWN_VALIDATES_FIRST and results[("*nothing*", r)] == 422)
    ]
    assert not nothing_allowed, "\n".join(sorted(nothing_allowed))
    # every built-in role is refused somewhere and allowed somewhere: the table is in force
    for role in PERMISSIONS:
        statuses = [results[(role, r)] for r in rules if not PUBLIC.match(r)]
        assert any(s in REFUSED for s in statuses) and any(s not in REFUSED for s in statuses), role


@pytest.mark.parametrize("path", ["/api/v1/orders", "/api/v1/orders?page_size=200"])
def test_data_scope_of_unit_staff_and_own_roles(client, db, path):
    mine, other = make_unit(), make_unit()
    ours = make_order("dispatched", mine)
    theirs = make_order("dispatched", other)
    staff = _headers_for(["unit_staff"], mine)
    listed = {o["number"] for o in client.get(path, headers=staff).get_json()["items"]}
    assert ours.number in listed and theirs.number not in listed
    assert client.get(f"/api/v1/orders/{theirs.number}", headers=staff).status_code == 404
    assert client.get(f"/api/v1/orders/{ours.number}", headers=staff).status_code == 200

    role_admin.save_role(
        factories.actor("admin"), code="own_only", name="本人工单", permissions=["order.create"],
        scope="own", description="", create=True,
    )  # fmt: skip
    owner = factories.make_user(["own_only"])
    from node.workflow import service

    own = service.create_order(auth.actor_for(owner), {**factories.ORDER_DEFAULTS, "submit": False})
    headers = {"Authorization": "Bearer " + auth.issue_token(owner, "matrix")}
    listed = {o["number"] for o in client.get(path, headers=headers).get_json()["items"]}
    assert listed == {own.number}
    assert client.get(f"/api/v1/orders/{ours.number}", headers=headers).status_code == 404
