"""The node directory (节点目录): every node's signing and sealing keys, signed by the ministry and
sent to every node, so a city can verify a message from a city of another province and seal a
transfer to it.

It stays current by itself: whenever the ministry's trust store changes (a province enrolled, a
city's keys announced by its province, a rotation, a revocation) the worker's next pass at the
ministry (`refresh`) issues a new version to every node, and once a day anyway so it never runs
out. A newer version supersedes one still waiting in the ministry's outbox. Receivers keep the
highest serial and release messages that were waiting for a key (`sender.release_held`).
"""

from __future__ import annotations

import datetime as dt

from peewee import fn

from federation import sender, trust
from federation.models import DirectoryVersion, NodeKey, OutboxMessage
from federation.routing import MINISTRY
from federation.v1 import federation_pb2 as pb
from node import clock
from node.db import write_tx

TYPE = pb.NodeDirectory.DESCRIPTOR.full_name
REISSUE_AFTER = dt.timedelta(days=1)  # a version is valid for 7 days (trust.build_directory)


def current() -> DirectoryVersion | None:
    return DirectoryVersion.select().order_by(DirectoryVersion.serial.desc()).first()


def _next_serial() -> int:
    last = current()
    if last is not None:
        return int(last.serial) + 1
    queued = (
        OutboxMessage.select()
        .where(OutboxMessage.payload_type == TYPE)
        .order_by(OutboxMessage.id.desc())
        .first()
    )
    return 1 if queued is None else pb.NodeDirectory.FromString(bytes(queued.payload)).serial + 1


def issue(me: str) -> int:
    """Ministry: sign a new version and queue it to every other node it lists (relayed down the
    tree), replacing older versions not sent yet. Returns the number of nodes it goes to."""
    started = clock.now()  # a key changed while this version is built makes the next one
    with write_tx():
        directory = trust.build_directory(me, _next_serial())
        targets = sorted({e.region for e in directory.nodes} - {me})
        OutboxMessage.delete().where(
            (OutboxMessage.payload_type == TYPE)
            & (OutboxMessage.kind == "own")
            & (OutboxMessage.status.in_(("pending", "held")))
        ).execute()
        for node in targets:
            sender.enqueue(directory, origin=me, destination=node)
        DirectoryVersion.create(
            serial=directory.serial,
            issued_at_ms=directory.issued_at_ms,
            valid_until_ms=directory.valid_until_ms,
            nodes=len(directory.nodes),
            keys=sum(len(e.keys) + len(e.seal_keys) for e in directory.nodes),
            recorded_at=started,
        )
    sender.release_held()
    return len(targets)


def refresh(me: str) -> int:
    """Ministry, every worker pass: issue a new version if a key changed since the last one or the
    last one is a day old. Returns the number of nodes queued (0: nothing to do)."""
    if me != MINISTRY:
        return 0
    last = current()
    changed = NodeKey.select(fn.MAX(NodeKey.updated_at)).scalar()
    now = clock.now()
    fresh = last is not None and now - last.recorded_at < REISSUE_AFTER
    if fresh and (changed is None or changed < last.recorded_at):
        return 0
    if not NodeKey.select().where(NodeKey.node != me).exists():
        return 0  # nobody to tell yet
    return issue(me)


def apply(origin: str, directory: pb.NodeDirectory) -> bool:
    """Store the keys of a directory the ministry signed, unless we hold a newer one (False)."""
    last = current()
    if last is not None and directory.serial <= last.serial:
        return False
    keys = trust.apply_directory(origin, directory)
    DirectoryVersion.create(
        serial=directory.serial,
        issued_at_ms=directory.issued_at_ms,
        valid_until_ms=directory.valid_until_ms,
        nodes=len(directory.nodes),
        keys=keys,
        recorded_at=clock.now(),
    )
    return True
