"""The trust store: which public key belongs to which node, our own signing keys, and the ways keys
enter the store (own key generation, enrolment by the parent, key announcements that the parent
notarises and forwards up, and the ministry's signed node directory flowing down).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from federation import pki
from federation.envelope import SEALING, SIGNING, KeyInfo, SigningKey, key_id_for, parse_key_id
from federation.models import NodeKey, Peer
from federation.routing import MINISTRY, check_node, in_subtree, level_of, parent_of
from federation.v1 import federation_pb2 as pb
from node import clock
from node.db import write_tx
from node.errors import Conflict, NotFound, ValidationError


def _ms(value: dt.datetime) -> int:
    return clock.to_epoch_ms(value)


class DbKeyResolver:
    """`KeyResolver` over the NodeKey table with a short in-process cache (revocations take
    effect within `ttl` seconds; `invalidate()` makes them immediate in this process)."""

    def __init__(self, ttl: float = 2.0):
        self.ttl = ttl
        self._cache: dict[str, tuple[float, KeyInfo | None]] = {}
        self._lock = threading.Lock()

    def get(self, key_id: str) -> KeyInfo | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key_id)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        try:  # never send unverified junk (e.g. NUL bytes) to the database
            if parse_key_id(key_id)[0] != SIGNING:  # a sealing key never verifies a signature
                return None
        except ValueError:
            return None
        row = NodeKey.get_or_none(NodeKey.key_id == key_id)
        info = None if row is None else key_info(row)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key_id] = (now, info)
        return info

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()


def key_info(row: NodeKey) -> KeyInfo:
    return KeyInfo(
        key_id=row.key_id,
        node=row.node,
        public_key=bytes(row.public_key),
        valid_from_ms=row.valid_from_ms,
        valid_until_ms=row.valid_until_ms,
        revoked=row.revoked,
    )


def public_key_pb(row: NodeKey) -> pb.PublicKey:
    return pb.PublicKey(
        key_id=row.key_id,
        node=row.node,
        public_key=bytes(row.public_key),
        valid_from_ms=row.valid_from_ms,
        valid_until_ms=row.valid_until_ms,
        revoked=row.revoked,
        notary=row.notary,
    )


def record_key(key: pb.PublicKey, *, source: str, notary: str = "") -> NodeKey:
    """Insert or update a public key (Ed25519 signing or X25519 sealing). A revoked key never
    becomes valid again, and a key id never changes its owner or its bytes."""
    try:
        _, owner, _ = parse_key_id(key.key_id)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    if owner != key.node:
        raise ValidationError(f"密钥标识 {key.key_id} 与节点 {key.node} 不符")
    if len(key.public_key) != 32:
        raise ValidationError("公钥长度必须为32字节")
    now = clock.now()
    with write_tx():
        row = NodeKey.get_or_none(NodeKey.key_id == key.key_id)
        if row is None:
            return NodeKey.create(
                key_id=key.key_id,
                node=key.node,
                public_key=bytes(key.public_key),
                valid_from_ms=key.valid_from_ms,
                valid_until_ms=key.valid_until_ms,
                revoked=key.revoked,
                revoked_at=now if key.revoked else None,
                source=source,
                notary=notary or key.notary,
                created_at=now,
                updated_at=now,
            )
        if bytes(row.public_key) != bytes(key.public_key) or row.node != key.node:
            raise Conflict(f"密钥 {key.key_id} 已登记为不同的公钥")
        changed = False
        if key.revoked and not row.revoked:
            row.revoked, row.revoked_at, changed = True, now, True
        if key.valid_until_ms and (not row.valid_until_ms or key.valid_until_ms < row.valid_until_ms):
            row.valid_until_ms, changed = key.valid_until_ms, True  # validity only ever shrinks
        if changed:  # updated_at tells the ministry's directory that something changed
            row.updated_at = now
            row.save()
        return row


# ---- our own signing keys ----


def _signing_path(keys_dir: Path, number: int) -> Path:
    return pki.tls_dir(keys_dir) / f"signing-{number}.pem"


def _seal_path(keys_dir: Path, number: int) -> Path:
    return pki.tls_dir(keys_dir) / f"seal-{number}.pem"


def _of(algorithm: str) -> object:
    return NodeKey.key_id.startswith(f"{algorithm}:")


def _next_number(region: str, algorithm: str, path: object, keys_dir: Path) -> int:
    numbers = [
        parse_key_id(k.key_id)[2] for k in NodeKey.select().where((NodeKey.node == region) & _of(algorithm))
    ]
    number = max(numbers, default=0) + 1
    while path(keys_dir, number).exists():  # type: ignore[operator]
        number += 1
    return number


def generate_signing_key(
    keys_dir: Path, region: str, *, activate_after: dt.timedelta = dt.timedelta(0), valid_days: int = 365
) -> NodeKey:
    """Create our next Ed25519 key (`ed25519:<region>:<n+1>`), store the private key 0600 and the
    public key in the trust store. It signs from `now + activate_after`."""
    check_node(region)
    now = clock.now()
    number = _next_number(region, SIGNING, _signing_path, keys_dir)
    private = Ed25519PrivateKey.generate()
    pki.write_private(_signing_path(keys_dir, number), pki.private_pem(private))
    key = SigningKey(key_id=key_id_for(region, number), node=region, private=private)
    with write_tx():
        return NodeKey.create(
            key_id=key.key_id,
            node=region,
            public_key=key.public_bytes(),
            valid_from_ms=_ms(now),
            valid_until_ms=_ms(now + dt.timedelta(days=valid_days)),
            active_from_ms=_ms(now + activate_after),
            source="self",
            notary="",
            created_at=now,
            updated_at=now,
        )


def generate_seal_key(keys_dir: Path, region: str, *, valid_days: int = 365) -> NodeKey:
    """Create our next X25519 sealing key (`x25519:<region>:<n+1>`): senders seal transfer content
    to it. Old private keys stay on disk so content sealed before a rotation still opens."""
    from federation.seal import public_bytes

    check_node(region)
    now = clock.now()
    number = _next_number(region, SEALING, _seal_path, keys_dir)
    private = X25519PrivateKey.generate()
    pki.write_private(_seal_path(keys_dir, number), pki.private_pem(private))
    with write_tx():
        return NodeKey.create(
            key_id=key_id_for(region, number, SEALING),
            node=region,
            public_key=public_bytes(private),
            valid_from_ms=_ms(now),
            valid_until_ms=_ms(now + dt.timedelta(days=valid_days)),
            active_from_ms=_ms(now),
            source="self",
            notary="",
            created_at=now,
            updated_at=now,
        )


def own_keys(region: str, algorithm: str = SIGNING) -> list[NodeKey]:
    return list(
        NodeKey.select()
        .where((NodeKey.node == region) & (NodeKey.source == "self") & _of(algorithm))
        .order_by(NodeKey.id)
    )


def seal_key_for(node: str) -> tuple[str, bytes] | None:
    """The sealing key to use for content addressed to `node` now: its newest valid, unrevoked
    X25519 key (from the directory, an announcement or our own)."""
    now = _ms(clock.now())
    best: tuple[int, str, bytes] | None = None
    for row in NodeKey.select().where((NodeKey.node == node) & _of(SEALING) & (NodeKey.revoked == False)):  # noqa: E712
        if row.valid_from_ms > now or (row.valid_until_ms and row.valid_until_ms <= now):
            continue
        number = parse_key_id(row.key_id)[2]
        if best is None or number > best[0]:
            best = (number, row.key_id, bytes(row.public_key))
    return None if best is None else (best[1], best[2])


def load_seal_key(keys_dir: Path, region: str, key_id: str) -> X25519PrivateKey:
    """Our private sealing key `key_id` (a revoked key no longer opens anything)."""
    try:
        algorithm, owner, number = parse_key_id(key_id)
    except ValueError:
        raise NotFound(f"加密密钥标识无效：{key_id[:80]!r}") from None
    if algorithm != SEALING or owner != region:
        raise NotFound(f"加密内容不是发给本节点的密钥：{key_id}")
    row = NodeKey.get_or_none(NodeKey.key_id == key_id)
    path = _seal_path(keys_dir, number)
    if row is None or row.revoked or not path.exists():
        raise NotFound(f"本节点没有可用的加密私钥：{key_id}")
    return pki.load_x25519(path)


def load_signing_key(keys_dir: Path, key_id: str) -> SigningKey:
    _, region, number = parse_key_id(key_id)
    path = _signing_path(keys_dir, number)
    if not path.exists():
        raise NotFound(f"找不到签名私钥文件：{path}")
    return SigningKey(key_id=key_id, node=region, private=pki.load_ed25519(path))


def active_signing_key(keys_dir: Path, region: str, at_ms: int | None = None) -> SigningKey:
    """The newest own key that is active, valid and not revoked at `at_ms` (default now)."""
    at = _ms(clock.now()) if at_ms is None else at_ms
    usable = [
        k
        for k in own_keys(region)
        if not k.revoked
        and k.active_from_ms <= at
        and k.valid_from_ms <= at
        and (not k.valid_until_ms or at < k.valid_until_ms)
    ]
    if not usable:
        raise NotFound("本节点没有可用的签名密钥（运行 hotline admin keygen）")
    best = max(usable, key=lambda k: parse_key_id(k.key_id)[2])
    return load_signing_key(keys_dir, best.key_id)


def rotate(
    keys_dir: Path,
    region: str,
    *,
    overlap: dt.timedelta = dt.timedelta(days=7),
    activate_after: dt.timedelta = dt.timedelta(hours=1),
    valid_days: int = 365,
) -> tuple[NodeKey, NodeKey]:
    """Make a new key that starts signing after `activate_after`; the current key stays valid
    until `activate_after + overlap` so messages in flight still verify. Returns (old, new).
    The sealing key is renewed with it (senders switch at once; the old private key stays on
    disk and opens content sealed before, until the overlap ends)."""
    old = active_signing_key(keys_dir, region)
    new = generate_signing_key(keys_dir, region, activate_after=activate_after, valid_days=valid_days)
    end = _ms(clock.now() + activate_after + overlap)
    with write_tx():
        row = NodeKey.get(NodeKey.key_id == old.key_id)
        if not row.valid_until_ms or row.valid_until_ms > end:
            row.valid_until_ms = end
            row.updated_at = clock.now()
            row.save()
        for seal_row in own_keys(region, SEALING):
            if not seal_row.revoked and (not seal_row.valid_until_ms or seal_row.valid_until_ms > end):
                seal_row.valid_until_ms = end
                seal_row.updated_at = clock.now()
                seal_row.save()
        generate_seal_key(keys_dir, region, valid_days=valid_days)
    return row, new


def revoke(key_id: str) -> NodeKey:
    row = NodeKey.get_or_none(NodeKey.key_id == key_id)
    if row is None:
        raise NotFound(f"密钥不存在：{key_id}")
    with write_tx():
        row.revoked, row.revoked_at, row.updated_at = True, clock.now(), clock.now()
        row.save()
    return row


def key_expiry_seconds(region: str) -> float | None:
    """Seconds until the active own key stops being valid (for the expiry metric)."""
    now = _ms(clock.now())
    ends = [
        k.valid_until_ms
        for k in own_keys(region)
        if not k.revoked and k.valid_until_ms and k.valid_until_ms > now and k.active_from_ms <= now
    ]
    return None if not ends else (max(ends) - now) / 1000


# ---- peers ----


def add_peer(region: str, me: str, *, address: str = "", name: str = "") -> Peer:
    check_node(region)
    if parent_of(me) == region:
        relation = "parent"
    elif parent_of(region) == me:
        relation = "child"
    else:
        raise ValidationError(f"{region} 不是本节点 {me} 的上级或下级节点")
    with write_tx():
        peer = Peer.get_or_none(Peer.region == region)
        if peer is None:
            return Peer.create(
                region=region, relation=relation, address=address, name=name, created_at=clock.now()
            )
        peer.address = address or peer.address
        peer.name = name or peer.name
        peer.enabled = True
        peer.save()
        return peer


def peer_regions() -> set[str]:
    return {p.region for p in Peer.select(Peer.region).where(Peer.enabled == True)}  # noqa: E712


# ---- announcements and the directory ----


def announcement(key: NodeKey, previous: str = "") -> pb.KeyAnnouncement:
    return pb.KeyAnnouncement(
        key=public_key_pb(key), previous_key_id=previous, announced_at_ms=_ms(clock.now())
    )


def apply_announcement(me: str, origin: str, message: pb.KeyAnnouncement) -> tuple[NodeKey, bool]:
    """A key announcement arrived, signed by `origin`: either the key's owner announcing its own
    key (we are its notary when we are its parent), or an ancestor notary forwarding a key of its
    subtree. Returns (row, forward_up): a notary passes keys of its subtree on to its parent."""
    key = message.key
    if key.node == origin:
        notary = me if parent_of(origin) == me else message.notary
    elif message.notary == origin and _in_subtree(origin, key.node):
        notary = origin
    else:
        raise ValidationError(f"{origin} 无权为 {key.node} 公告密钥")
    row = record_key(key, source="announcement", notary=notary)
    return row, parent_of(me) is not None and _in_subtree(me, key.node)


def _in_subtree(root: str, node: str) -> bool:
    try:
        return in_subtree(root, node)
    except ValidationError:
        return False


def build_directory(me: str, serial: int, valid_days: int = 7) -> pb.NodeDirectory:
    """The ministry's directory of every node and key it knows."""
    if me != MINISTRY:
        raise ValidationError("只有部级节点签发节点目录")
    now = clock.now()
    entries: dict[str, pb.NodeEntry] = {}
    for row in NodeKey.select().order_by(NodeKey.node, NodeKey.key_id):
        entry = entries.get(row.node)
        if entry is None:
            entry = pb.NodeEntry(
                region=row.node, level=_LEVELS[level_of(row.node)], parent=parent_of(row.node) or ""
            )
            entries[row.node] = entry
        (entry.seal_keys if row.key_id.startswith(SEALING) else entry.keys).append(public_key_pb(row))
    for peer in Peer.select():
        if peer.region in entries:
            entries[peer.region].name = peer.name
            entries[peer.region].address = peer.address
    return pb.NodeDirectory(
        serial=serial,
        issuer_node=me,
        issued_at_ms=_ms(now),
        valid_until_ms=_ms(now + dt.timedelta(days=valid_days)),
        nodes=list(entries.values()),
    )


_LEVELS = {"ministry": pb.MINISTRY, "province": pb.PROVINCE, "city": pb.CITY}


def apply_directory(origin: str, directory: pb.NodeDirectory) -> int:
    """Store the keys of a directory that the ministry signed; returns the number of keys."""
    if origin != MINISTRY or directory.issuer_node != MINISTRY:
        raise ValidationError("节点目录必须由部级节点签发")
    count = 0
    for entry in directory.nodes:
        for key in [*entry.keys, *entry.seal_keys]:
            if key.node != entry.region:
                raise ValidationError(f"目录条目 {entry.region} 含有其他节点的密钥 {key.key_id}")
            record_key(key, source="directory")
            count += 1
    return count
