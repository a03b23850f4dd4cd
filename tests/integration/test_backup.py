"""Backup under write load and restore into a fresh node, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from node import db, pii
from node import settings as node_settings
from node.audit.models import AuditEntry
from node.auth import service as auth
from node.backup import service as backup
from node.catalog import service as catalog
from node.errors import ValidationError
from node.migrate import upgrade
from node.workflow.models import WorkOrder
from tests import factories, pg

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _node(home: Path, url: str, key: bytes) -> node_settings.Settings:
    (home / "keys").mkdir(parents=True, exist_ok=True)
    (home / "keys" / "data.key").write_bytes(key)
    s = node_settings.for_tests(home, url, data_key=key)
    node_settings.configure(s)
    pii.configure(key)
    return s


@pytest.fixture(params=["sqlite", "postgresql"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[node_settings.Settings, str]]:
    key = Fernet.generate_key()
    os.environ["RACE_DATA_KEY"] = key.decode()
    kind = request.param
    url = f"sqlite:///{tmp_path / 'src' / 'node.db'}" if kind == "sqlite" else pg.create_database("t_backup")
    target = (
        f"sqlite:///{tmp_path / 'dst' / 'node.db'}" if kind == "sqlite" else pg.create_database("t_restore")
    )
    s = _node(tmp_path / "src", url, key)
    (s.recordings_dir / "2026").mkdir(parents=True)
    (s.recordings_dir / "2026" / "call-1.wav").write_bytes(b"RIFF" + os.urandom(5000))
    (s.home / "files").mkdir()
    (s.home / "files" / "photo.jpg").write_bytes(os.urandom(3000))
    database = db.bind(url)
    with db.connection():
        upgrade(database)
        catalog.invalidate()
        catalog.seed()
        for _ in range(20):
            factories.make_order()
    yield s, target
    database.close()
    if hasattr(database, "close_all"):
        database.close_all()
    if kind == "postgresql":
        pg.drop_database(url)
        pg.drop_database(target)


def test_backup_under_write_load_restores_the_same_orders(source, tmp_path):
    s, target_url = source
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.race_worker", s.database_url, "create", "120"],
        cwd=ROOT,
        env={**os.environ, "RACE_DATA_KEY": s.data_key.decode()},
        stdout=subprocess.PIPE,
    )
    try:
        with db.connection():
            deadline = time.monotonic() + 120
            while WorkOrder.select().count() <= 25 and time.monotonic() < deadline:  # the writer is writing
                time.sleep(0.05)
            made = backup.create(auth.SYSTEM, s)
    finally:
        out, _ = writer.communicate(timeout=300)
    assert writer.returncode == 0
    written = len(json.loads(out)["numbers"])
    with db.connection():
        total = WorkOrder.select().count()
        assert AuditEntry.select().where(AuditEntry.event == "backup.created").count() == 1
    assert total == 20 + written
    assert 25 < made.orders <= total  # taken while orders were being written
    listed = backup.list_backups(s)
    assert [b.path for b in listed] == [made.path] and listed[0].orders == made.orders

    manifest = backup.verify_archive(made.path, s.data_key)
    assert manifest["orders"] == {"count": made.orders, "checksum": made.checksum}
    assert {"home/keys/data.key", "home/recordings/2026/call-1.wav", "home/files/photo.jpg"} <= set(
        manifest["files"]
    )

    dst = tmp_path / "dst"
    report = backup.restore(made.path, dst, target_url, s.data_key)
    assert report.matches and report.orders == made.orders and report.checksum == made.checksum
    assert (dst / "recordings" / "2026" / "call-1.wav").read_bytes() == (
        s.recordings_dir / "2026" / "call-1.wav"
    ).read_bytes()
    assert (dst / "keys" / "data.key").read_bytes() == s.data_key

    # the restored node serves those orders over its API
    from node.app import create_app

    restored = _node(dst, target_url, s.data_key)
    database = db.bind(target_url)
    try:
        with db.connection():
            upgrade(database)  # nothing to apply: the schema came with the data
            numbers = [o.number for o in WorkOrder.select(WorkOrder.number).order_by(WorkOrder.number)]
            assert len(numbers) == made.orders
            token = auth.issue_token(factories.make_user("dispatcher"), "restore-check")
        client = create_app(restored).test_client()
        for number in (numbers[0], numbers[-1]):
            resp = client.get(f"/api/v1/orders/{number}", headers={"Authorization": f"Bearer {token}"})
            assert resp.status_code == 200 and resp.get_json()["number"] == number
    finally:
        database.close()
        if hasattr(database, "close_all"):
            database.close_all()

    # a second restore onto the now non-empty database needs --force
    with pytest.raises(ValidationError, match=r"不是空库|已存在"):
        backup.restore(made.path, tmp_path / "again", target_url, s.data_key)


def test_tampered_or_foreign_archives_are_refused(source, tmp_path):
    s, target_url = source
    with db.connection():
        made = backup.create(auth.SYSTEM, s)
    with pytest.raises(ValidationError, match="解密"):
        backup.verify_archive(made.path, Fernet.generate_key())
    broken = tmp_path / "broken.hlbk"
    data = bytearray(made.path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    broken.write_bytes(bytes(data))
    with pytest.raises(ValidationError, match="解密"):
        backup.restore(broken, tmp_path / "x", target_url, s.data_key)
    cut = tmp_path / "cut.hlbk"
    cut.write_bytes(made.path.read_bytes()[:-100])
    with pytest.raises(ValidationError):
        backup.verify_archive(cut, s.data_key)


def test_daily_job_runs_once_at_its_hour_and_prunes(source):
    import datetime as dt

    s, _ = source
    with db.connection():
        at = dt.datetime(2026, 11, 1, 1, 7)
        assert backup.daily(s, at) is None  # not the hour (default 02)
        from node import clock

        for day in range(1, 4):
            for minute in (7, 8):  # the same day's slot again: no second backup
                when = dt.datetime(2026, 11, day, 2, minute)
                with clock.frozen(when):
                    backup.daily(s, when)
        assert len(backup.list_backups(s)) == 3

        with clock.frozen(dt.datetime(2026, 11, 30, 2, 7)):
            removed = backup.prune(s, 14, dt.datetime(2026, 11, 30, 2, 7))
        assert len(removed) == 2 and len(backup.list_backups(s)) == 1
