"""Backup and restore of a whole node: database, keys, recordings and stored files in one
encrypted archive with a manifest and checksums.

The database is copied while the node keeps working: SQLite through its online backup API,
PostgreSQL with `pg_dump` bound to a snapshot exported by a REPEATABLE READ transaction, in which
the manifest's order count and checksum are computed too, so they describe exactly the dumped data.

The archive (`*.hlbk`) is a tar stream encrypted with AES-256-GCM in 1 MiB chunks under a key
derived (HKDF-SHA256) from the node's data key `keys/data.key`; each chunk's nonce carries its
index and the last chunk is marked, so a reordered, cut or altered archive does not decrypt.
Without the data key an archive is unreadable: keep a copy of `keys/data.key` apart from the
backups. Beside each archive a small `.json` (no secrets) lists it on the screen.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlparse

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from node import clock
from node.errors import ValidationError
from node.settings import Settings

MAGIC = b"HLBK1\n"
CHUNK = 1 << 20
FORMAT_VERSION = 1
# Directories of the node home carried in a backup (besides the database and node.toml).
HOME_DIRS = ("keys", "recordings", "files", "prompts/custom")


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    created_at: dt.datetime
    orders: int
    checksum: str
    size: int
    scheduled: bool

    @property
    def size_text(self) -> str:
        size = float(self.size)
        for unit in ("B", "KB", "MB"):
            if size < 1024:
                return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
            size /= 1024
        return f"{size:.1f} GB"


def backup_dir(settings: Settings) -> Path:
    raw = settings.section("backup").get("dir", "backups")
    path = Path(raw)
    return path if path.is_absolute() else settings.home / path


# ---- encryption ------------------------------------------------------------------------------------------


def _key(data_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"hotline-backup-v1").derive(data_key)


class _EncryptingWriter(io.RawIOBase):
    """A write-only stream that encrypts what tarfile writes, chunk by chunk."""

    def __init__(self, out: IO[bytes], data_key: bytes):
        self.out = out
        self.aead = AESGCM(_key(data_key))
        self.prefix = os.urandom(8)
        self.index = 0
        self.buffer = bytearray()
        out.write(MAGIC + self.prefix)

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.buffer += bytes(b)
        while len(self.buffer) > CHUNK:
            self._emit(bytes(self.buffer[:CHUNK]), final=False)
            del self.buffer[:CHUNK]
        return len(b)

    def _emit(self, chunk: bytes, final: bool) -> None:
        nonce = self.prefix + struct.pack(">I", self.index)
        sealed = self.aead.encrypt(nonce, chunk, b"final" if final else b"more")
        self.out.write(struct.pack(">I", len(sealed)) + sealed)
        self.index += 1

    def finish(self) -> None:
        self._emit(bytes(self.buffer), final=True)
        self.buffer.clear()


def _decrypt(src: IO[bytes], data_key: bytes) -> Iterator[bytes]:
    if src.read(len(MAGIC)) != MAGIC:
        raise ValidationError("不是本系统的备份文件")
    prefix = src.read(8)
    aead = AESGCM(_key(data_key))
    index = 0
    while True:
        head = src.read(4)
        if len(head) != 4:
            raise ValidationError("备份文件不完整（缺少结尾）")
        sealed = src.read(struct.unpack(">I", head)[0])
        nonce = prefix + struct.pack(">I", index)
        plain, final = _open_chunk(aead, nonce, sealed)
        yield plain
        if final:
            if src.read(1):
                raise ValidationError("备份文件结尾之后还有数据，文件已损坏")
            return
        index += 1


def _open_chunk(aead: AESGCM, nonce: bytes, sealed: bytes) -> tuple[bytes, bool]:
    from cryptography.exceptions import InvalidTag

    for tag, final in ((b"more", False), (b"final", True)):
        try:
            return aead.decrypt(nonce, sealed, tag), final
        except InvalidTag:
            continue
    raise ValidationError("备份文件无法解密：密钥不符或文件已损坏")


class _ChunkReader(io.RawIOBase):
    def __init__(self, chunks: Iterator[bytes]):
        self.chunks = chunks
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self.pending:
            try:
                self.pending = next(self.chunks)
            except StopIteration:
                return 0
        n = min(len(b), len(self.pending))
        b[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


# ---- database copy ------------------------------------------------------------------------------------------


def _order_digest(rows: Any) -> tuple[int, str]:
    """Count and SHA-256 over (number, version, state) of every order, by number."""
    h = hashlib.sha256()
    n = 0
    for number, version, state in rows:
        h.update(f"{number}:{version}:{state}\n".encode())
        n += 1
    return n, h.hexdigest()


ORDER_SQL = "SELECT number, version, state FROM work_order ORDER BY number"


def order_fingerprint(database_url: str) -> tuple[int, str]:
    """Count and checksum of the orders in a database (used after a restore, and by the tests)."""
    url = urlparse(database_url)
    if url.scheme == "sqlite":
        con = sqlite3.connect(_sqlite_path(database_url))
        try:
            return _order_digest(con.execute(ORDER_SQL))
        finally:
            con.close()
    import psycopg

    with psycopg.connect(_pg_dsn(database_url)) as con:
        return _order_digest(con.execute(ORDER_SQL))


def _sqlite_path(url: str) -> str:
    parsed = urlparse(url)
    return (
        "/" + parsed.path.lstrip("/")
        if url.startswith("sqlite:////")
        else parsed.path[1:]
        if parsed.path.startswith("/")
        else parsed.path
    )


def _pg_dsn(url: str) -> str:
    """libpq accepts the URL itself, minus our own pool options."""
    parsed = urlparse(url)
    return parsed._replace(scheme="postgresql", query="").geturl()


def _dump_database(settings: Settings, dest: Path) -> tuple[str, int, str]:
    """Write the database to `dest` (file name by backend); returns (file name, orders, checksum)."""
    url = settings.database_url
    if url.startswith("sqlite"):
        src = sqlite3.connect(_sqlite_path(url))
        out = sqlite3.connect(dest / "db.sqlite")
        try:
            src.backup(out)  # the online backup API: a consistent copy while writers go on
        finally:
            src.close()
        try:
            count, digest = _order_digest(out.execute(ORDER_SQL))
        finally:
            out.close()
        return "db.sqlite", count, digest
    import psycopg

    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise ValidationError("缺少 pg_dump（apt-get install postgresql-client）")
    with psycopg.connect(_pg_dsn(url)) as con:
        con.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = con.execute("SELECT pg_export_snapshot()").fetchone()[0]  # type: ignore[index]
        count, digest = _order_digest(con.execute(ORDER_SQL))
        done = subprocess.run(
            [
                pg_dump,
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--snapshot={snapshot}",
                "--file",
                str(dest / "db.pgdump"),
                "--dbname",
                _pg_dsn(url),
            ],
            capture_output=True,
            timeout=3600,
        )
        con.execute("COMMIT")
    if done.returncode != 0:
        raise ValidationError(f"pg_dump 失败：{done.stderr.decode(errors='replace')[:300]}")
    return "db.pgdump", count, digest


# ---- backup ---------------------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _home_files(settings: Settings) -> list[tuple[Path, str]]:
    out = [(settings.home / "node.toml", "home/node.toml")] if (settings.home / "node.toml").exists() else []
    for sub in HOME_DIRS:
        root = settings.home / sub
        if sub == "recordings":
            root = settings.recordings_dir
        if not root.is_dir():
            continue
        for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
            out.append((path, f"home/{sub}/{path.relative_to(root).as_posix()}"))
    return out


def create(actor: Any, settings: Settings, *, scheduled: bool = False) -> BackupInfo:
    """Take a backup now (administrators, `node.manage`; the worker's daily job as the system)."""
    from node.audit import service as audit

    actor.require("node.manage")
    target = backup_dir(settings)
    target.mkdir(parents=True, exist_ok=True)
    os.chmod(target, 0o700)
    now = clock.now()
    name = f"backup-{settings.region}-{now:%Y%m%d-%H%M%S}{'-auto' if scheduled else ''}.hlbk"
    path = target / name
    with tempfile.TemporaryDirectory(dir=target, prefix=".tmp-") as tmp:
        work = Path(tmp)
        db_name, orders, checksum = _dump_database(settings, work)
        files = [(work / db_name, db_name), *_home_files(settings)]
        manifest = {
            "format": FORMAT_VERSION,
            "node": {"region": settings.region, "level": settings.level, "name": settings.name},
            "created_at": now.isoformat(timespec="seconds"),
            "database": {"backend": "sqlite" if db_name == "db.sqlite" else "postgresql", "file": db_name},
            "orders": {"count": orders, "checksum": checksum},
            "migrations": _migrations(settings),
            "files": {arc: {"sha256": _sha256(p), "size": p.stat().st_size} for p, arc in files},
        }
        partial = path.with_suffix(".part")
        with partial.open("wb") as raw:
            enc = _EncryptingWriter(raw, settings.data_key)
            with tarfile.open(fileobj=enc, mode="w|") as tar:  # type: ignore[call-overload]
                body = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
                info = tarfile.TarInfo("manifest.json")
                info.size, info.mtime = len(body), int(now.timestamp())
                tar.addfile(info, io.BytesIO(body))
                for p, arc in files:
                    tar.add(str(p), arcname=arc, recursive=False)
            enc.finish()
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(partial, 0o600)
        os.replace(partial, path)
    size = path.stat().st_size
    side = {
        "created_at": manifest["created_at"],
        "orders": orders,
        "checksum": checksum,
        "size": size,
        "scheduled": scheduled,
    }
    path.with_suffix(".json").write_text(json.dumps(side), encoding="utf-8")
    audit.record(
        actor, "backup.created", target=name, details={"orders": orders, "size": size, "scheduled": scheduled}
    )
    return BackupInfo(path, now, orders, checksum, size, scheduled)


def _migrations(settings: Settings) -> list[str]:
    from node import db

    try:
        return [
            r[0] for r in db.database.execute_sql("SELECT name FROM migratehistory ORDER BY id").fetchall()
        ]
    except Exception:  # a node migrated by another runner: the list is informative only
        return []


def list_backups(settings: Settings) -> list[BackupInfo]:
    out = []
    d = backup_dir(settings)
    if not d.is_dir():
        return []
    for path in d.glob("*.hlbk"):
        side = path.with_suffix(".json")
        try:
            meta = json.loads(side.read_text(encoding="utf-8"))
            out.append(
                BackupInfo(
                    path,
                    dt.datetime.fromisoformat(meta["created_at"]),
                    int(meta["orders"]),
                    str(meta["checksum"]),
                    path.stat().st_size,
                    bool(meta.get("scheduled")),
                )
            )
        except (OSError, ValueError, KeyError):
            continue
    return sorted(out, key=lambda b: b.created_at, reverse=True)


def prune(settings: Settings, keep_days: int, now: dt.datetime) -> list[str]:
    """Delete scheduled backups older than `keep_days` (the newest backup always stays)."""
    items = list_backups(settings)
    removed = []
    for b in items[1:]:
        if b.scheduled and b.created_at < now - dt.timedelta(days=keep_days):
            b.path.unlink(missing_ok=True)
            b.path.with_suffix(".json").unlink(missing_ok=True)
            removed.append(b.path.name)
    return removed


def daily(settings: Settings, now: dt.datetime) -> str | None:
    """The worker's job: at the configured hour, one backup per day, then the retention sweep."""
    from node.auth.service import SYSTEM
    from node.config import service as config
    from node.jobs.runner import run_once

    if now.hour != int(config.value("backup_hour")):
        return None

    def run() -> str:
        made = create(SYSTEM, settings, scheduled=True)
        removed = prune(settings, int(config.value("backup_keep_days")), now)
        return f"{made.path.name}，清除过期备份 {len(removed)} 个"

    run_once("backup_daily", now.date().isoformat(), run)
    return "ok"


# ---- restore --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestoreReport:
    manifest: dict[str, Any]
    orders: int
    checksum: str
    files: int

    @property
    def matches(self) -> bool:
        m = self.manifest["orders"]
        return bool(m["count"] == self.orders and m["checksum"] == self.checksum)


def verify_archive(archive: Path, data_key: bytes) -> dict[str, Any]:
    """Decrypt the whole archive and check every file against the manifest; returns the manifest."""
    manifest: dict[str, Any] | None = None
    seen: set[str] = set()
    with (
        archive.open("rb") as fh,
        tarfile.open(fileobj=_ChunkReader(_decrypt(fh, data_key)), mode="r|") as tar,
    ):  # type: ignore[call-overload]
        for member in tar:
            data = tar.extractfile(member)
            if data is None:
                continue
            if member.name == "manifest.json":
                manifest = json.loads(data.read())
                continue
            if manifest is None:
                raise ValidationError("备份文件缺少清单 manifest.json")
            h = hashlib.sha256()
            for block in iter(lambda: data.read(CHUNK), b""):  # noqa: B023
                h.update(block)
            meta = manifest["files"].get(member.name)
            if meta is None or meta["sha256"] != h.hexdigest():
                raise ValidationError(f"备份文件中 {member.name} 校验不符")
            seen.add(member.name)
    if manifest is None:
        raise ValidationError("备份文件缺少清单 manifest.json")
    missing = set(manifest["files"]) - seen
    if missing:
        raise ValidationError(f"备份文件缺少 {len(missing)} 个文件：{'、'.join(sorted(missing)[:3])}")
    return manifest


def restore(
    archive: Path, home: Path, database_url: str, data_key: bytes, *, force: bool = False
) -> RestoreReport:
    """Restore an archive into node directory `home` and database `database_url` (the node must
    be stopped). Every file is checked against the manifest before anything is replaced; the
    database must be empty unless `force`. Returns the restored orders' count and checksum."""
    with tempfile.TemporaryDirectory(prefix="hotline-restore-") as tmp:
        work = Path(tmp)
        with (
            archive.open("rb") as fh,
            tarfile.open(fileobj=_ChunkReader(_decrypt(fh, data_key)), mode="r|") as tar,
        ):  # type: ignore[call-overload]
            tar.extractall(work, filter="data")
        manifest = json.loads((work / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT_VERSION:
            raise ValidationError(f"不支持的备份格式：{manifest.get('format')}")
        for arc, meta in manifest["files"].items():
            p = work / arc
            if not p.is_file() or _sha256(p) != meta["sha256"]:
                raise ValidationError(f"备份文件中 {arc} 校验不符，已停止恢复（未改动任何数据）")
        db_file = work / manifest["database"]["file"]
        _restore_database(db_file, database_url, force)
        home.mkdir(parents=True, exist_ok=True)
        copied = 0
        for arc in manifest["files"]:
            if not arc.startswith("home/"):
                continue
            rel = arc[len("home/") :]
            if rel == "node.toml" and (home / "node.toml").exists():
                continue  # the target's own config (ports, database URL) stays
            dest = home / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(work / arc, dest)
            copied += 1
        if (home / "keys").is_dir():
            os.chmod(home / "keys", 0o700)
    count, digest = order_fingerprint(database_url)
    return RestoreReport(manifest, count, digest, copied)


def _restore_database(db_file: Path, url: str, force: bool) -> None:
    if db_file.name == "db.sqlite":
        if not url.startswith("sqlite"):
            raise ValidationError("该备份来自 SQLite 节点，只能恢复到 SQLite 数据库")
        dest = Path(_sqlite_path(url))
        if dest.exists() and dest.stat().st_size and not force:
            raise ValidationError(f"目标数据库已存在：{dest}（确认覆盖请加 --force，且须先停止节点）")
        dest.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(str(dest) + suffix).unlink(missing_ok=True)
        src = sqlite3.connect(db_file)
        out = sqlite3.connect(dest)
        try:
            src.backup(out)
        finally:
            src.close()
            out.close()
        return
    if url.startswith("sqlite"):
        raise ValidationError("该备份来自 PostgreSQL 节点，只能恢复到 PostgreSQL 数据库")
    import psycopg

    with psycopg.connect(_pg_dsn(url)) as con:
        tables = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()[0]  # type: ignore[index]
    if tables and not force:
        raise ValidationError("目标数据库不是空库（确认覆盖请加 --force，且须先停止节点）")
    pg_restore = shutil.which("pg_restore")
    if pg_restore is None:
        raise ValidationError("缺少 pg_restore（apt-get install postgresql-client）")
    done = subprocess.run(
        [
            pg_restore,
            "--no-owner",
            "--no-privileges",
            "--clean",
            "--if-exists",
            "--exit-on-error",
            "--dbname",
            _pg_dsn(url),
            str(db_file),
        ],
        capture_output=True,
        timeout=3600,
    )
    if done.returncode != 0:
        raise ValidationError(f"pg_restore 失败：{done.stderr.decode(errors='replace')[:300]}")
