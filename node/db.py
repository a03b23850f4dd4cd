"""Database binding: one peewee proxy, the base model, and the write-lock helper.

The same models run on SQLite (WAL, the embedded default) and PostgreSQL. Nothing connects at
import time; `bind()` initialises the proxy and connections open per request or per job.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlparse

import peewee as pw
from playhouse.pool import PooledPostgresqlDatabase

database: pw.DatabaseProxy = pw.DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "synchronous": "normal",
    "cache_size": -32000,
}

Q = TypeVar("Q", bound=pw.Query)
T = TypeVar("T")


class BaseModel(pw.Model):
    class Meta:
        database = database
        legacy_table_names = False


class JsonText(pw.TextField):
    """JSON stored as text: identical on SQLite and PostgreSQL, queried in Python."""

    field_type = "TEXT"

    def db_value(self, value: Any) -> str | None:
        import json

        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def python_value(self, value: Any) -> Any:
        import json

        return None if value is None else json.loads(value)


def open_database(url: str) -> pw.Database:
    """A peewee database for `sqlite:///path` or `postgresql://user@host:port/name`."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path)
        if url.startswith("sqlite:////"):
            path = "/" + path.lstrip("/")
        elif url.startswith("sqlite:///"):
            path = path[1:] if path.startswith("/") else path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            _private_file(path)
        return pw.SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, timeout=10, check_same_thread=False)
    if parsed.scheme in ("postgres", "postgresql"):
        options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        max_conn = int(options.pop("max_connections", "16"))
        return PooledPostgresqlDatabase(
            unquote(parsed.path.lstrip("/")),
            user=unquote(parsed.username or "") or None,
            password=unquote(parsed.password or "") or None,
            host=parsed.hostname or None,
            port=parsed.port or 5432,
            max_connections=max_conn,
            stale_timeout=300,
            prefer_psycopg3=True,
            **options,
        )
    raise ValueError(f"不支持的数据库地址：{url}")


def _private_file(path: str) -> None:
    """Create the database file readable by its owner only (0600), and tighten an existing one.
    SQLite gives the -wal and -shm files the database file's permissions."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_uid == os.geteuid():
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for extra in (path + "-wal", path + "-shm"):
        with contextlib.suppress(OSError):
            os.chmod(extra, 0o600)


def bind(url: str) -> pw.Database:
    """Point the proxy at the database at `url` (no connection is opened)."""
    db = open_database(url)
    database.initialize(db)
    return db


def is_sqlite() -> bool:
    return isinstance(database.obj, pw.SqliteDatabase)


class _SqliteWriterLock:
    """Queues SQLite writers of all processes of a node on an flock beside the database file.

    SQLite's own busy handler sleeps and polls (up to 100 ms a turn) when writers collide; the
    kernel wakes a waiter on an flock the moment it is released, so writers take turns at once.
    """

    def __init__(self) -> None:
        self._thread_lock = threading.Lock()
        self._fds: dict[tuple[int, str], int] = {}

    @contextmanager
    def hold(self, path: str) -> Iterator[None]:
        if path in ("", ":memory:"):
            yield
            return
        key = (os.getpid(), path)  # a descriptor inherited across fork must not be shared
        with self._thread_lock:
            fd = self._fds.get(key)
            if fd is None:
                fd = self._fds[key] = os.open(path + ".writelock", os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)


_writer_lock = _SqliteWriterLock()


@contextmanager
def write_tx() -> Iterator[None]:
    """A transaction that will write: on SQLite the node's writers queue on one lock and then
    `BEGIN IMMEDIATE` (so a read-then-write never deadlocks); on PostgreSQL a plain transaction
    where `locked()` adds row locks. Nested calls become savepoints."""
    if is_sqlite() and database.transaction_depth() == 0:
        with _writer_lock.hold(database.obj.database), database.atomic(lock_type="IMMEDIATE"):
            yield
    else:
        with database.atomic():
            yield


class _Job:
    __slots__ = ("error", "fn", "lead", "result", "wake")

    def __init__(self, fn: Callable[[], Any]):
        self.fn = fn
        self.wake = threading.Event()
        self.lead = False
        self.result: Any = None
        self.error: BaseException | None = None

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


class _GroupCommit:
    """Group commit for SQLite: the writes that threads of one process submit while another's
    transaction runs are carried out together in the next one — one writer lock, one BEGIN, one
    COMMIT and one full-text segment for the lot, each write in its own savepoint, so one that
    fails rolls back alone and raises in the thread that submitted it. A thread alone on the
    node writes at once (a batch of one); under load batches grow by themselves.

    The first queued thread leads: it runs the batch on its connection while the others wait,
    then hands the lead to the first thread that queued meanwhile."""

    LIMIT = 32

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._queue: list[_Job] = []
        self._busy = False
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._mutex = threading.Lock()
        self._queue, self._busy = [], False

    def run(self, fn: Callable[[], T]) -> T:
        job = _Job(fn)
        with self._mutex:
            self._queue.append(job)
            job.lead = not self._busy
            self._busy = True
        if not job.lead:
            job.wake.wait()
            if not job.lead:  # done by a leader
                return job.outcome()  # type: ignore[no-any-return]
        batch: list[_Job] = []
        try:
            self._commit(batch)
        finally:
            with self._mutex:
                if self._queue:
                    self._queue[0].lead = True
                    self._queue[0].wake.set()
                else:
                    self._busy = False
            for other in batch[1:]:
                other.wake.set()
        return job.outcome()  # type: ignore[no-any-return]

    def _take(self, batch: list[_Job]) -> None:
        """Move the queued jobs into `batch`: this leader's job first, then whoever queued while it
        waited for the writer lock."""
        with self._mutex:
            batch.extend(self._queue[: self.LIMIT])
            del self._queue[: self.LIMIT]

    def _commit(self, batch: list[_Job]) -> None:
        try:
            with write_tx():
                self._take(batch)
                for job in batch:
                    try:
                        with database.atomic():  # a savepoint
                            job.result = job.fn()
                    except Exception as exc:  # delivered to the thread that asked
                        job.error = exc
        except BaseException as exc:  # BEGIN or COMMIT failed: nothing of the batch was written
            if not batch:
                self._take(batch)
            for job in batch:
                if job.error is None:
                    job.error, job.result = exc, None
            if not isinstance(exc, Exception):
                raise


_group = _GroupCommit()


def group_write(fn: Callable[[], T]) -> T:
    """Run `fn` in a write transaction and return its result (see `write_tx()`). On SQLite the
    calls of concurrent threads share transactions (`_GroupCommit`): `fn` may then run on another
    thread, so it must use only what it is given and the database, never `flask.request` or `g`.
    Inside a transaction already, or on PostgreSQL, it simply runs in `write_tx()`."""
    if not is_sqlite() or database.transaction_depth() > 0:
        with write_tx():
            return fn()
    return _group.run(fn)


def locked(query: Q) -> Q:
    """Row-lock the rows `query` selects, inside `write_tx()` (SQLite is already locked)."""
    if is_sqlite():
        return query
    return query.for_update()  # type: ignore[attr-defined, no-any-return]


def lock_named(name: str) -> None:
    """Inside `write_tx()`: serialise every writer that names the same lock until the transaction
    ends (SQLite's writers are serialised already; PostgreSQL takes a transaction advisory lock)."""
    if not is_sqlite():
        database.execute_sql("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))


STATS_DRIFT = 0.2  # re-ANALYZE when the orders table grew or shrank by a fifth since the last one


def planner_statistics(force: bool = False, on: pw.Database | None = None) -> bool:
    """SQLite: refresh the query planner's statistics (ANALYZE) when they are missing or stale —
    the orders table has changed by more than STATS_DRIFT since they were taken (its indexes' row
    estimate in `sqlite_stat1`). Without them SQLite joins each order's lead assignment through the
    low-selectivity `active` index, and figures grouped by handling unit turn quadratic. Called
    after migrations, after a historical import, by the worker (hourly) and before an appraisal
    run — never per request. PostgreSQL keeps its own statistics (autovacuum); `force` there runs
    ANALYZE too (after a bulk import). `on`: a database other than the node's (migrations).
    Returns whether ANALYZE ran."""
    target: Any = on if on is not None else database
    real = target.obj if isinstance(target, pw.DatabaseProxy) else target
    if not isinstance(real, pw.SqliteDatabase):
        if force:
            target.execute_sql("ANALYZE")
        return force
    if not force:
        rows = target.execute_sql("SELECT count(*) FROM work_order").fetchone()[0]
        try:
            stat = target.execute_sql(
                "SELECT stat FROM sqlite_stat1 WHERE tbl = 'work_order' AND idx IS NOT NULL LIMIT 1"
            ).fetchone()
        except pw.OperationalError:  # no sqlite_stat1 yet: never analysed
            stat = None
        if stat is None and rows == 0:
            return False  # nothing to measure yet
        if stat is not None:
            taken = int(str(stat[0]).split()[0])
            if abs(rows - taken) <= STATS_DRIFT * max(taken, 1):
                return False
    if on is None:
        with write_tx():
            target.execute_sql("ANALYZE")
    else:
        target.execute_sql("ANALYZE")
    return True


# ---- plain parameterised SQL for the statements every request runs ------------------------------
# Building a statement with peewee (expression tree → SQL text) costs more than SQLite takes to run
# it: about 40 % of an order's creation went there. The few statements on such hot paths are plain
# SQL written with `?` placeholders, their text made once per database.

_texts: dict[tuple[str, str], str] = {}
_insert_texts: dict[tuple[Any, ...], str] = {}


def execute(sql: str, params: Sequence[Any] = ()) -> Any:
    """Run `sql` (written with `?` placeholders) on either database; returns the cursor."""
    param = database.obj.param
    text = sql
    if param != "?":
        text = _texts.get((sql, param)) or _texts.setdefault((sql, param), sql.replace("?", param))
    return database.execute_sql(text, params)


def insert_rows(model: type[pw.Model], rows: Sequence[pw.Model], *, unless_exists: str = "") -> int:
    """INSERT the unsaved instances `rows` of `model` (the same fields set on each) in one statement
    and give them their ids — what `save(force_insert=True)` does row by row, with the SQL text made
    once per (table, fields, row count). With `unless_exists` (a unique column; one row only) an
    existing row is left alone and 0 is returned."""
    if not rows:
        return 0
    if unless_exists and len(rows) != 1:
        raise ValueError("unless_exists takes one row")
    meta = model._meta
    pk = meta.primary_key
    auto = isinstance(pk, pw.AutoField)
    data = rows[0].__data__
    fields = [f for f in meta.sorted_fields if f.name in data and not (auto and f is pk)]
    key = (meta.table_name, tuple(f.name for f in fields), len(rows), unless_exists, database.obj.param)
    text = _insert_texts.get(key)
    if text is None:
        param = database.obj.param
        one = "(" + ", ".join([param] * len(fields)) + ")"
        columns = ", ".join(f'"{f.column_name}"' for f in fields)
        text = f'INSERT INTO "{meta.table_name}" ({columns}) VALUES {", ".join([one] * len(rows))}'
        if unless_exists:
            text += f' ON CONFLICT ("{meta.fields[unless_exists].column_name}") DO NOTHING'
        if auto:
            text += f' RETURNING "{pk.column_name}"'
        _insert_texts[key] = text
    params = [f.db_value(row.__data__.get(f.name)) for row in rows for f in fields]
    cursor = database.execute_sql(text, params)
    if not auto:
        for row in rows:
            row._dirty.clear()
        return len(rows) if not unless_exists else int(cursor.rowcount)
    ids = sorted(r[0] for r in cursor.fetchall())  # ids are handed out in VALUES order
    for row, row_id in zip(rows, ids, strict=False):
        row._pk = row_id
        row._dirty.clear()
    return len(ids)


@contextmanager
def connection() -> Iterator[None]:
    """Open (or reuse) a connection for a unit of work outside a web request."""
    opened = database.connect(reuse_if_open=True)
    try:
        yield
    finally:
        if opened and database.transaction_depth() == 0:
            database.close()


def utc_date(value: dt.datetime) -> dt.date:
    return value.date()
