"""Attachments: save (checked), list, download (permission by owner), delete. Each owner kind
registers an `Owner` with hooks that decide who may read and who may attach or remove, so an
article, an order, a reply or a callback keeps its own rules; an unregistered kind is refused."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node import clock, db
from node.auth.service import Actor
from node.errors import NotFound, PermissionDenied, ValidationError
from node.files import checks
from node.files.models import StoredFile
from node.files.storage import BlobStore

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_KINDS: frozenset[str] = frozenset(checks.KINDS)


@dataclass(frozen=True)
class Owner:
    """What attachments of one owner kind may be and who may touch them. `can_read(actor,
    owner_id)` and `can_write(actor, owner_id)` return False (or raise NotFound) to refuse."""

    kind: str
    label: str
    can_read: Callable[[Actor, str], bool]
    can_write: Callable[[Actor, str], bool]
    kinds: frozenset[str] = DEFAULT_KINDS
    max_bytes: int = DEFAULT_MAX_BYTES
    max_files: int = 20
    extra: dict[str, Any] = field(default_factory=dict)


OWNERS: dict[str, Owner] = {}


def register_owner(owner: Owner) -> None:
    """Declare an owner kind (idempotent: the latest registration wins)."""
    if not owner.kind.isidentifier() or len(owner.kind) > 20:
        raise ValueError(f"bad owner kind {owner.kind!r}")
    OWNERS[owner.kind] = owner


def owner(kind: str) -> Owner:
    found = OWNERS.get(kind) if isinstance(kind, str) else None
    if found is None:
        raise ValidationError(f"未知的附件归属类型：{str(kind)[:20]}", details={"owner_kind": "未知类型"})
    return found


def _owner_id(value: Any) -> str:
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not text or len(text) > 64 or not text.isprintable() or "\x00" in text:
        raise ValidationError("附件归属对象编号不正确", details={"owner_id": "格式不正确"})
    return text


def store() -> BlobStore:
    from node.settings import current

    return BlobStore(current().data_dir / "files")


def max_upload_bytes() -> int:
    """The largest file any owner accepts (the web layer's request size limit)."""
    return max([o.max_bytes for o in OWNERS.values()] or [DEFAULT_MAX_BYTES])


def _audit(actor: Actor, event: str, f: StoredFile) -> None:
    from node.audit import service as audit

    audit.record(
        actor,
        event,
        target=f"file:{f.id}",
        details={"owner": f"{f.owner_kind}:{f.owner_id}", "filename": f.filename, "sha256": f.sha256},
    )


def save(actor: Actor, owner_kind: str, owner_id: Any, filename: str, data: bytes) -> StoredFile:
    """Check and keep one file for (owner_kind, owner_id); audited as file.uploaded."""
    spec = owner(owner_kind)
    oid = _owner_id(owner_id)
    if not spec.can_write(actor, oid):
        raise PermissionDenied(f"无权为该{spec.label}上传附件")
    if not isinstance(data, (bytes, bytearray)):
        raise ValidationError("文件内容不正确")
    if len(data) > spec.max_bytes:
        raise ValidationError(
            f"文件过大（{len(data) / 1048576:.1f} MB），{spec.label}附件不能超过 {spec.max_bytes / 1048576:.0f} MB",
            details={"file": "文件过大"},
        )
    name = checks.safe_filename(filename)
    ftype = checks.detect(bytes(data), name, spec.kinds)
    if "." not in name:
        name = f"{name}.{ftype.extension}"
    sha = store().put(bytes(data))
    with db.write_tx():
        live = _live().where(StoredFile.owner_kind == spec.kind, StoredFile.owner_id == oid).count()
        if live >= spec.max_files:
            raise ValidationError(
                f"每个{spec.label}最多 {spec.max_files} 个附件", details={"file": "附件过多"}
            )
        row = StoredFile.create(
            sha256=sha,
            size=len(data),
            mime=ftype.mime,
            kind=ftype.kind,
            filename=name,
            owner_kind=spec.kind,
            owner_id=oid,
            uploaded_by=actor.user_id,
            uploaded_at=clock.now().replace(tzinfo=None),
        )
        _audit(actor, "file.uploaded", row)
    return row


def _live() -> Any:
    return StoredFile.select().where(StoredFile.deleted_at.is_null())


def files_of(actor: Actor, owner_kind: str, owner_id: Any) -> list[StoredFile]:
    """The live attachments of one owner, oldest first (refused when the actor may not read it)."""
    spec = owner(owner_kind)
    oid = _owner_id(owner_id)
    if not spec.can_read(actor, oid):
        raise PermissionDenied(f"无权查看该{spec.label}的附件")
    return list(
        _live().where(StoredFile.owner_kind == spec.kind, StoredFile.owner_id == oid).order_by(StoredFile.id)
    )


def get(actor: Actor, file_id: int, *, write: bool = False) -> StoredFile:
    if not isinstance(file_id, int) or isinstance(file_id, bool) or not 1 <= file_id <= 2**62:
        raise NotFound("附件不存在")
    row = _live().where(StoredFile.id == file_id).first()
    if row is None:
        raise NotFound("附件不存在")
    spec = OWNERS.get(row.owner_kind)
    check = (spec.can_write if write else spec.can_read) if spec else None
    if check is None or not check(actor, row.owner_id):
        raise PermissionDenied("无权删除该附件" if write else "无权查看该附件")
    return row


def download(actor: Actor, file_id: int) -> tuple[StoredFile, Path]:
    """The attachment and its blob's path, for serving as a download; audited as file.downloaded."""
    row = get(actor, file_id)
    path = store().open_path(row.sha256)
    _audit(actor, "file.downloaded", row)
    return row, path


def delete(actor: Actor, file_id: int) -> StoredFile:
    """Remove an attachment (the row is kept, marked deleted; the blob goes when no live row names
    it); audited as file.deleted."""
    row = get(actor, file_id, write=True)
    with db.write_tx():
        row.deleted_at = clock.now().replace(tzinfo=None)
        row.save()
        still_used = _live().where(StoredFile.sha256 == row.sha256).exists()
        _audit(actor, "file.deleted", row)
    if not still_used:
        store().remove(row.sha256)
    return row


def read_bytes(row: StoredFile) -> bytes:
    """The stored bytes of an attachment already fetched with a permission check (exports)."""
    return store().open_path(row.sha256).read_bytes()


def present(row: StoredFile) -> dict[str, Any]:
    return {
        "id": row.id,
        "filename": row.filename,
        "size": row.size,
        "mime": row.mime,
        "kind": row.kind,
        "kind_label": checks.KINDS.get(row.kind, row.kind),
        "owner_kind": row.owner_kind,
        "owner_id": row.owner_id,
        "uploaded_at": row.uploaded_at.isoformat(timespec="seconds"),
        "sha256": row.sha256,
        "url": f"/api/v1/files/{row.id}/content",
    }
