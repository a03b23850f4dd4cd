"""`hotline admin ...`: keys, certificates, enrolment, peers, directory, and the federation queues.

Enrolment of a child by its parent, with files carried between operators:

    child   hotline admin keygen                       → keys/federation/enrol-request.json
    parent  hotline admin enrol REQUEST --address H:P  → enrol-bundle-<region>.json
    child   hotline admin import BUNDLE --parent-address H:P

The ministry runs `hotline admin keygen` first: it creates the national root CA and its own
certificate. Rotation (`rotate`), revocation (`revoke`) and the node directory (`directory
issue`) travel as signed messages through the outbox; `outbox list/retry` handles parked ones.
"""

from __future__ import annotations

import base64
import datetime as dt
import getpass
import json
from pathlib import Path
from typing import Any

import click

from federation import pki, sender, trust
from federation.envelope import SEALING
from federation.models import InboxMessage, NodeKey, OutboxMessage, Peer
from federation.routing import MINISTRY, level_of, parent_of
from federation.v1 import federation_pb2 as pb
from node import clock
from node.audit import service as audit
from node.db import connection, write_tx
from node.errors import NotFound, ValidationError


def _audit(event: str, target: str, **details: Any) -> None:
    """Key and peer operations run from the operator's shell: the audit log names the command line
    and the system user (there is no signed-in node user)."""
    audit.record(None, event, target=target, details=details, actor_name=f"命令行（{getpass.getuser()}）")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode())


def _fed_dir(settings: Any) -> Path:
    d = pki.tls_dir(settings.keys_dir)
    d.mkdir(parents=True, exist_ok=True)
    return d


def _key_json(row: NodeKey) -> dict[str, Any]:
    return {
        "key_id": row.key_id,
        "node": row.node,
        "public_key": _b64(bytes(row.public_key)),
        "valid_from_ms": row.valid_from_ms,
        "valid_until_ms": row.valid_until_ms,
        "revoked": row.revoked,
        "notary": row.notary,
    }


def _key_pb(data: dict[str, Any]) -> pb.PublicKey:
    return pb.PublicKey(
        key_id=str(data["key_id"]),
        node=str(data["node"]),
        public_key=_unb64(data["public_key"]),
        valid_from_ms=int(data.get("valid_from_ms", 0)),
        valid_until_ms=int(data.get("valid_until_ms", 0)),
        revoked=bool(data.get("revoked", False)),
        notary=str(data.get("notary", "")),
    )


# ---- operations (plain functions; the click commands below are thin) ----


def keygen(settings: Any) -> Path:
    """Create what this node needs to be enrolled; the ministry also becomes the root CA."""
    region, d = settings.region, _fed_dir(settings)
    if not trust.own_keys(region):
        trust.generate_signing_key(settings.keys_dir, region)
    if not trust.own_keys(region, SEALING):
        trust.generate_seal_key(settings.keys_dir, region)
    if not (d / "tls.key").exists():
        pki.write_private(d / "tls.key", pki.private_pem(pki.ec_key()))
    tls_csr = pki.make_csr(pki.load_ec((d / "tls.key").read_bytes()), region)
    request: dict[str, Any] = {
        "region": region,
        "level": settings.level,
        "name": settings.name,
        "address": f"{settings.federation_host}:{settings.federation_port}",
        "keys": [_key_json(k) for k in [*trust.own_keys(region), *trust.own_keys(region, SEALING)]],
        "tls_csr": tls_csr.public_bytes(pki.serialization.Encoding.PEM).decode(),
    }
    if settings.level == "ministry":
        if not (d / "ca.crt").exists():
            root_key, root_cert = pki.create_root_ca(region)
            pki.write_private(d / "ca.key", pki.private_pem(root_key))
            (d / "ca.crt").write_bytes(pki.cert_pem(root_cert))
            (d / "root-ca.crt").write_bytes(pki.cert_pem(root_cert))
        root_key = pki.load_ec((d / "ca.key").read_bytes())
        root_cert = pki.load_certs((d / "ca.crt").read_bytes())[0]
        if not (d / "tls.crt").exists():
            leaf = pki.sign_csr(tls_csr, region=region, issuer_key=root_key, issuer_cert=root_cert)
            (d / "tls.crt").write_bytes(pki.cert_pem(leaf))
    elif settings.level == "province":
        if not (d / "ca.key").exists():
            pki.write_private(d / "ca.key", pki.private_pem(pki.ec_key()))
        ca_key = pki.load_ec((d / "ca.key").read_bytes())
        request["ca_csr"] = (
            pki.make_csr(ca_key, region, ca=True).public_bytes(pki.serialization.Encoding.PEM).decode()
        )
    path = d / "enrol-request.json"
    path.write_text(json.dumps(request, ensure_ascii=False, indent=2), encoding="utf-8")
    _audit("federation.key_generated", f"node:{region}", keys=[k["key_id"] for k in request["keys"]])
    return path


def enrol(settings: Any, request: dict[str, Any], address: str = "") -> dict[str, Any]:
    """At the parent: sign the child's certificates, record its keys (we are its notary), register
    it as a peer, and return the bundle the child imports."""
    me, d = settings.region, _fed_dir(settings)
    child = str(request.get("region", ""))
    if parent_of(child) != me:
        raise ValidationError(f"{child} 不是本节点 {me} 的直属下级节点，不能由本节点登记")
    if not (d / "ca.key").exists() or not (d / "ca.crt").exists():
        raise NotFound("本节点还没有签发证书的 CA（先 hotline admin keygen / import）")
    ca_key = pki.load_ec((d / "ca.key").read_bytes())
    ca_cert = pki.load_certs((d / "ca.crt").read_bytes())[0]
    my_chain = [] if me == MINISTRY else [ca_cert]
    csr = pki.x509.load_pem_x509_csr(str(request["tls_csr"]).encode())
    leaf = pki.sign_csr(csr, region=child, issuer_key=ca_key, issuer_cert=ca_cert)
    bundle: dict[str, Any] = {
        "region": child,
        "parent": {
            "region": me,
            "name": settings.name,
            "address": f"{settings.federation_host}:{settings.federation_port}",
        },
        "tls_chain": b"".join(pki.cert_pem(c) for c in [leaf, *my_chain]).decode(),
        "root_ca": (d / "root-ca.crt").read_text(),
    }
    if level_of(child) == "province":
        if me != MINISTRY or "ca_csr" not in request:
            raise ValidationError("省级节点的 CA 证书请求缺失")
        ca_csr = pki.x509.load_pem_x509_csr(str(request["ca_csr"]).encode())
        province_ca = pki.sign_csr(ca_csr, region=child, issuer_key=ca_key, issuer_cert=ca_cert, ca=True)
        bundle["ca_cert"] = pki.cert_pem(province_ca).decode()
    with write_tx():
        for key in request.get("keys", []):
            if key.get("node") != child:
                raise ValidationError(f"证书请求中含有其他节点的密钥：{key.get('key_id')}")
            trust.record_key(_key_pb(key), source="enrolment", notary=me)
        trust.add_peer(
            child, me, address=address or str(request.get("address", "")), name=str(request.get("name", ""))
        )
        bundle["keys"] = [_key_json(k) for k in NodeKey.select().order_by(NodeKey.id)]
    parent = parent_of(me)
    if parent is not None:  # vouch for the new keys towards the ministry
        for key in request.get("keys", []):
            sender.enqueue(
                pb.KeyAnnouncement(
                    key=_key_pb(key), notary=me, announced_at_ms=clock.to_epoch_ms(clock.now())
                ),
                origin=me,
                destination=parent,
            )
    _audit(
        "federation.enrolled",
        f"node:{child}",
        address=address or str(request.get("address", "")),
        keys=[str(k.get("key_id", "")) for k in request.get("keys", [])],
    )
    return bundle


def import_bundle(settings: Any, bundle: dict[str, Any], parent_address: str = "") -> None:
    """At the child: install the certificates and the keys the parent vouches for."""
    me, d = settings.region, _fed_dir(settings)
    if bundle.get("region") != me:
        raise ValidationError(f"该登记包属于 {bundle.get('region')}，不是本节点 {me}")
    chain = pki.load_certs(str(bundle["tls_chain"]).encode())
    if pki.cert_region(chain[0]) != me:
        raise ValidationError("登记包中的证书不是签发给本节点的")
    tls_key = pki.load_ec((d / "tls.key").read_bytes())
    if chain[0].public_key().public_numbers() != tls_key.public_key().public_numbers():  # type: ignore[union-attr]
        raise ValidationError("登记包中的证书与本节点 TLS 私钥不匹配")
    (d / "tls.crt").write_text(str(bundle["tls_chain"]))
    (d / "root-ca.crt").write_text(str(bundle["root_ca"]))
    if "ca_cert" in bundle:
        (d / "ca.crt").write_text(str(bundle["ca_cert"]))
    parent = bundle["parent"]
    with write_tx():
        for key in bundle.get("keys", []):
            if NodeKey.get_or_none(NodeKey.key_id == key["key_id"]) is None:
                trust.record_key(_key_pb(key), source="bundle")
        trust.add_peer(
            str(parent["region"]),
            me,
            address=parent_address or str(parent.get("address", "")),
            name=str(parent.get("name", "")),
        )
        _audit("federation.bundle_imported", f"node:{parent['region']}", region=me)


def rotate(settings: Any, overlap_days: float, activate_after_hours: float) -> tuple[NodeKey, NodeKey]:
    old, new = trust.rotate(
        settings.keys_dir,
        settings.region,
        overlap=dt.timedelta(days=overlap_days),
        activate_after=dt.timedelta(hours=activate_after_hours),
    )
    parent = parent_of(settings.region)
    if parent is not None:  # announced with the old key, which the parent knows
        seal_keys = trust.own_keys(settings.region, SEALING)
        for key, previous in ((new, old.key_id), *((k, "") for k in seal_keys)):
            sender.enqueue(
                trust.announcement(key, previous=previous),
                origin=settings.region,
                destination=parent,
                sign_key_id=old.key_id,
            )
    _audit("federation.key_rotated", f"key:{new.key_id}", previous=old.key_id, overlap_days=overlap_days)
    return old, new


def revoke(settings: Any, key_id: str) -> NodeKey:
    row = trust.revoke(key_id)
    parent = parent_of(settings.region)
    if parent is not None and (row.node == settings.region or parent_of(row.node) == settings.region):
        message = trust.announcement(row)
        if row.node != settings.region:
            message.notary = settings.region
        sender.enqueue(message, origin=settings.region, destination=parent)
    _audit("federation.key_revoked", f"key:{row.key_id}", node=row.node)
    return row


def issue_directory(settings: Any) -> int:
    """Ministry: sign the directory now and queue it to every known node (the worker also does this
    by itself whenever a key changes)."""
    from federation import directory

    count = directory.issue(settings.region)
    _audit("federation.directory_issued", f"node:{settings.region}", destinations=count)
    return count


# ---- click ----


def _bind() -> Any:
    return click.get_current_context().find_root().obj.bind()


@click.group()
def admin() -> None:
    """运维管理：密钥、证书、节点登记、对端、联网队列。"""


@admin.command("keygen")
def keygen_cmd() -> None:
    """生成本节点签名密钥与 TLS 密钥，输出登记请求（部级节点同时生成根 CA）。"""
    s = _bind()
    with connection():
        path = keygen(s)
    click.echo(f"已生成密钥。登记请求：{path}")
    if s.level != "ministry":
        click.echo("请将登记请求交给上级节点运维人员执行 hotline admin enrol")


@admin.command("enrol")
@click.argument("request", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--address", default="", help="下级节点联网服务地址 host:port（默认取请求中的地址）")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
def enrol_cmd(request: Path, address: str, output: Path | None) -> None:
    """登记下级节点：签发证书、记录其公钥（本节点为其公证方）。"""
    s = _bind()
    data = json.loads(request.read_text(encoding="utf-8"))
    with connection():
        bundle = enrol(s, data, address)
    out = output or Path(f"enrol-bundle-{bundle['region']}.json")
    pki.write_private(out, json.dumps(bundle, ensure_ascii=False, indent=2).encode())
    click.echo(f"已登记下级节点 {bundle['region']}，登记包：{out}")


@admin.command("import")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--parent-address", default="", help="上级节点联网服务地址 host:port")
def import_cmd(bundle: Path, parent_address: str) -> None:
    """导入上级节点签发的登记包（证书、根证书、公钥）。"""
    s = _bind()
    with connection():
        import_bundle(s, json.loads(bundle.read_text(encoding="utf-8")), parent_address)
    click.echo("登记包已导入，可以启动联网服务")


@admin.command("rotate")
@click.option("--overlap-days", default=7.0, show_default=True, help="旧密钥在新密钥启用后继续有效的天数")
@click.option("--activate-after-hours", default=1.0, show_default=True, help="新密钥多少小时后开始签名")
def rotate_cmd(overlap_days: float, activate_after_hours: float) -> None:
    """轮换签名密钥，并向上级公告新密钥。"""
    s = _bind()
    with connection():
        old, new = rotate(s, overlap_days, activate_after_hours)
    click.echo(
        f"新密钥 {new.key_id}；旧密钥 {old.key_id} 有效至 {clock.from_epoch_ms(old.valid_until_ms):%Y-%m-%d %H:%M}"
    )


@admin.command("revoke")
@click.argument("key_id")
def revoke_cmd(key_id: str) -> None:
    """吊销一个签名密钥（本节点或下级节点的）。"""
    s = _bind()
    with connection():
        row = revoke(s, key_id)
    click.echo(f"已吊销 {row.key_id}")


@admin.group("directory")
def directory() -> None:
    """节点目录（部级签发，逐级下发）。"""


@directory.command("issue")
def directory_issue() -> None:
    s = _bind()
    with connection():
        count = issue_directory(s)
    click.echo(f"节点目录已签发，排队发往 {count} 个节点")


@directory.command("show")
def directory_show() -> None:
    _bind()
    with connection():
        for row in NodeKey.select().order_by(NodeKey.node, NodeKey.key_id):
            state = "已吊销" if row.revoked else "有效"
            until = (
                clock.from_epoch_ms(row.valid_until_ms).strftime("%Y-%m-%d") if row.valid_until_ms else "长期"
            )
            click.echo(
                f"{row.node}  {row.key_id:28s} {state}  至 {until}  来源 {row.source} 公证 {row.notary or '-'}"
            )


@admin.group("peers")
def peers() -> None:
    """上下级对端节点。"""


@peers.command("list")
def peers_list() -> None:
    _bind()
    with connection():
        for p in Peer.select().order_by(Peer.region):
            last = p.last_success_at.strftime("%Y-%m-%d %H:%M:%S") if p.last_success_at else "从未"
            click.echo(
                f"{p.region} {p.relation:6s} {p.address:22s} {'启用' if p.enabled else '停用'} 最近成功 {last} {p.last_error[:60]}"
            )


@peers.command("add")
@click.argument("region")
@click.argument("address")
@click.option("--name", default="")
def peers_add(region: str, address: str, name: str) -> None:
    s = _bind()
    with connection():
        peer = trust.add_peer(region, s.region, address=address, name=name)
        _audit("federation.peer_changed", f"node:{region}", action="add", address=address)
    click.echo(f"已登记对端 {peer.region}（{peer.relation}）{peer.address}")


@peers.command("disable")
@click.argument("region")
def peers_disable(region: str) -> None:
    _bind()
    with connection(), write_tx():
        if Peer.update(enabled=False).where(Peer.region == region).execute() == 0:
            raise NotFound(f"对端不存在：{region}")
        _audit("federation.peer_changed", f"node:{region}", action="disable")
    click.echo(f"已停用对端 {region}")


@admin.group("outbox")
def outbox() -> None:
    """待发报文队列。"""


@outbox.command("list")
@click.option("--status", type=click.Choice(["pending", "held", "parked", "sent"]), default=None)
@click.option("--limit", default=50, show_default=True)
def outbox_list(status: str | None, limit: int) -> None:
    _bind()
    with connection():
        query = OutboxMessage.select().order_by(OutboxMessage.id.desc()).limit(limit)
        if status:
            query = query.where(OutboxMessage.status == status)
        for m in query:
            click.echo(
                f"{m.id:6d} {m.status:7s} → {m.destination}（经 {m.next_hop}） {m.payload_type.rsplit('.', 1)[-1]:16s} "
                f"尝试 {m.attempts} {m.reject_reason} {m.last_error[:80]}"
            )


@outbox.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "all_parked", is_flag=True, help="重试全部搁置报文")
def outbox_retry(ids: tuple[int, ...], all_parked: bool) -> None:
    """把搁置（被拒收）的报文放回发送队列。"""
    if not ids and not all_parked:
        raise click.UsageError("请给出报文编号或 --all")
    _bind()
    with connection():
        count = sender.retry_parked(list(ids) or None)
    click.echo(f"已放回队列 {count} 条")


@admin.group("inbox")
def inbox_group() -> None:
    """已收报文。"""


@inbox_group.command("list")
@click.option("--status", type=click.Choice(["received", "processed", "failed", "forwarded"]), default=None)
@click.option("--limit", default=50, show_default=True)
def inbox_list(status: str | None, limit: int) -> None:
    _bind()
    with connection():
        query = InboxMessage.select().order_by(InboxMessage.id.desc()).limit(limit)
        if status:
            query = query.where(InboxMessage.status == status)
        for m in query:
            click.echo(
                f"{m.id:6d} {m.status:9s} {m.origin} → {m.destination} {m.payload_type.rsplit('.', 1)[-1]:16s} {m.error[:80]}"
            )


@inbox_group.command("retry")
@click.argument("ids", nargs=-1, type=int)
def inbox_retry(ids: tuple[int, ...]) -> None:
    """重新处理失败的已收报文。"""
    from federation import inbox

    _bind()
    with connection():
        count = inbox.retry_failed(list(ids) or None)
    click.echo(f"已放回处理队列 {count} 条")


@admin.command("certs")
def certs() -> None:
    """显示本节点证书与签名密钥的有效期。"""
    s = _bind()
    material = pki.load_material(s.keys_dir)
    for cert in pki.load_certs(material.chain):
        click.echo(
            f"证书 {cert.subject.rfc4514_string()} 有效至 {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
        )
    with connection():
        for k in [*trust.own_keys(s.region), *trust.own_keys(s.region, SEALING)]:
            until = (
                clock.from_epoch_ms(k.valid_until_ms).strftime("%Y-%m-%d %H:%M")
                if k.valid_until_ms
                else "长期"
            )
            kind = "加密密钥" if k.key_id.startswith(SEALING) else "签名密钥"
            click.echo(f"{kind} {k.key_id} {'已吊销' if k.revoked else '有效'} 至 {until}")
