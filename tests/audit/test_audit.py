"""The audit log: entries chain by hash; any change, deletion or insertion is found by verify()."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from node import clock
from node.audit import service as audit
from node.audit.models import AuditEntry
from tests import factories
from tests.test_cli import hotline


def _fill(n: int = 5) -> None:
    who = factories.actor("admin")
    AuditEntry.delete().execute()  # start the chain here (making the user was audited too)
    for i in range(n):
        audit.record(
            who, "config.changed", target=f"setting{i}", details={"old": i, "new": i + 1, "名": "值"}
        )


def test_chain_links_and_verifies(db):
    with clock.frozen(dt.datetime(2026, 3, 1, 9, 0, 0, 123456)):
        _fill(3)
    entries = list(AuditEntry.select().order_by(AuditEntry.seq))
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == audit.GENESIS
    assert entries[1].prev_hash == entries[0].hash and entries[2].prev_hash == entries[1].hash
    verdict = audit.verify()
    assert verdict.ok and verdict.count == 3 and verdict.last_hash == entries[2].hash


@pytest.mark.parametrize(
    ("tamper", "broken"),
    [
        (lambda: AuditEntry.update(target="other").where(AuditEntry.seq == 3).execute(), 3),
        (lambda: AuditEntry.update(details={"old": 9}).where(AuditEntry.seq == 2).execute(), 2),
        (lambda: AuditEntry.update(actor_name="x").where(AuditEntry.seq == 5).execute(), 5),
        (lambda: AuditEntry.delete().where(AuditEntry.seq == 4).execute(), 4),
        (lambda: AuditEntry.update(seq=AuditEntry.seq + 100).where(AuditEntry.seq == 1).execute(), 1),
    ],
    ids=["target", "details", "actor", "deleted", "renumbered"],
)
def test_verify_finds_the_first_broken_entry(db, tamper, broken):
    _fill(5)
    tamper()
    verdict = audit.verify()
    assert not verdict.ok and verdict.broken_seq == broken and verdict.reason


def test_rewritten_entry_with_recomputed_hash_breaks_the_next_link(db):
    _fill(4)
    e = AuditEntry.get(AuditEntry.seq == 2)
    e.target = "forged"
    e.hash = audit.entry_hash(
        seq=e.seq,
        at=e.at,
        event=e.event,
        actor_id=e.actor_id,
        actor_name=e.actor_name,
        address=e.address,
        target=e.target,
        details=e.details,
        prev_hash=e.prev_hash,
    )
    e.save()
    verdict = audit.verify()
    assert not verdict.ok and verdict.broken_seq == 3


def test_unknown_event_is_a_programming_error(db):
    with pytest.raises(ValueError):
        audit.record(None, "no.such.event")


def test_address_comes_from_the_request(client, login_as):
    login_as("agent")
    entry = (
        AuditEntry.select().where(AuditEntry.event == "auth.login").order_by(AuditEntry.seq.desc()).first()
    )
    assert entry is not None and entry.address == "127.0.0.1"


def test_api_lists_for_auditors_only(client, token_for):
    _fill(3)
    refused = client.get("/api/v1/audit", headers=token_for("agent"))
    assert refused.status_code == 403
    resp = client.get("/api/v1/audit?event=config.changed&page_size=2", headers=token_for("auditor"))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["total"] == 3 and [i["seq"] for i in body["items"]] == [3, 2]
    assert body["items"][0]["event_name"] == "配置变更" and body["items"][0]["details"]["名"] == "值"
    bad = client.get("/api/v1/audit?event=nope", headers=token_for("admin"))
    assert bad.status_code == 422 and "未知的审计事件" in bad.get_json()["message"]
    bad = client.get("/api/v1/audit?from=2026-13-01", headers=token_for("admin"))
    assert bad.status_code == 422


def test_cli_verify_exit_code(tmp_path: Path) -> None:
    home = tmp_path / "node"
    hotline("init", "--level", "city", "--region", "320500", str(home))
    hotline("-c", str(home), "migrate")
    hotline("-c", str(home), "create-user", "li", "--role", "admin", "--password", "secret-123")
    ok = hotline("-c", str(home), "audit", "verify")
    assert "审计日志完整：共 1 条" in ok.stdout
    conn = sqlite3.connect(home / "data" / "node.db")
    conn.execute("UPDATE audit_entry SET target = 'x' WHERE seq = 1")
    conn.commit()
    conn.close()
    broken = hotline("-c", str(home), "audit", "verify", check=False)
    assert broken.returncode == 1 and "链条断裂" in broken.stderr and "第 1 条" in broken.stderr
