"""The node's categorisation lexicon (归类词表): seeded from the release, edited by administrators.

Every change writes a `LexiconChange` row whose id is the new lexicon version. `categoriser()`
reads the highest id on each call (one indexed query) and recompiles when it moved, so an edit
made through any worker is used by every worker on its next suggestion, without a restart.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import peewee as pw

from node import clock, db
from node.errors import Conflict, NotFound, ValidationError
from node.text.models import LexiconChange, LexiconEntry
from node.text.rules import Categoriser, Entry, builtin_entries, check_term, check_weight, taxonomy

PERMISSION = "catalog.manage"
MAX_NOTE = 200


def _snapshot(row: LexiconEntry) -> dict[str, Any]:
    return {
        "term": row.term,
        "target": row.target,
        "weight": row.weight,
        "enabled": row.enabled,
        "builtin": row.builtin,
        "note": row.note,
    }


def _log(actor: Any, action: str, row: LexiconEntry | None, before: dict[str, Any] | None) -> None:
    """The lexicon's own history (its highest id is the version) and, for a person's edit, the
    node's audit log."""
    after = _snapshot(row) if row is not None and action != "delete" else None
    LexiconChange.create(
        at=clock.now(),
        by=getattr(actor, "user_id", None),
        action=action,
        entry_id=row.id if row is not None else None,
        before=before,
        after=after,
    )
    if getattr(actor, "user_id", None) is not None and row is not None:
        from node.audit import service as audit

        audit.record(
            actor,
            "lexicon.changed",
            target=f"lexicon:{row.id}",
            details={"action": action, "before": before, "after": after},
        )


def version() -> int:
    """The lexicon version: the id of the last change (0 before the first seed)."""
    return int(LexiconChange.select(pw.fn.MAX(LexiconChange.id)).scalar() or 0)


def seed() -> dict[str, int]:
    """Load or refresh the built-in lexicon (idempotent, run by `hotline migrate`). A built-in
    row nobody edited takes the release's weight; one the release no longer has is disabled;
    rows a person added or edited are left alone. One change row records a seed that changed
    anything."""
    now = clock.now()
    shipped = {(check_term(e.term), e.target): e.weight for e in builtin_entries()}
    added = updated = retired = 0
    with db.write_tx():
        existing = {(r.term, r.target): r for r in LexiconEntry.select()}
        for (term, target), weight in shipped.items():
            row = existing.get((term, target))
            if row is None:
                LexiconEntry.create(
                    term=term, target=target, weight=weight, builtin=True, enabled=True, updated_at=now
                )
                added += 1
            elif row.builtin and row.updated_by_id is None and (row.weight != weight or not row.enabled):
                LexiconEntry.update(weight=weight, enabled=True, updated_at=now).where(
                    LexiconEntry.id == row.id
                ).execute()
                updated += 1
        for key, row in existing.items():
            if row.builtin and row.updated_by_id is None and row.enabled and key not in shipped:
                LexiconEntry.update(enabled=False, updated_at=now).where(LexiconEntry.id == row.id).execute()
                retired += 1
        if added or updated or retired:
            LexiconChange.create(
                at=now,
                action="seed",
                after={"added": added, "updated": updated, "retired": retired},
            )
    return {"lexicon_entries": LexiconEntry.select().count(), "lexicon_added": added}


# ---- reading ------------------------------------------------------------------------------------


@dataclass
class EntryFilter:
    q: str = ""
    target: str = ""
    kind: str = ""  # type / category
    enabled: bool | None = None


def list_entries(
    actor: Any, flt: EntryFilter, page: int = 1, page_size: int = 50
) -> tuple[list[LexiconEntry], int]:
    actor.require(PERMISSION)
    query = LexiconEntry.select()
    if flt.q:
        query = query.where(LexiconEntry.term.contains(check_term(flt.q)))
    if flt.target:
        query = query.where(LexiconEntry.target.startswith(flt.target))
    if flt.kind == "type":
        query = query.where(pw.fn.LENGTH(LexiconEntry.target) == 1)
    elif flt.kind == "category":
        query = query.where(pw.fn.LENGTH(LexiconEntry.target) > 1)
    elif flt.kind:
        raise ValidationError("类别应为 type（业务类型）或 category（业务分类）")
    if flt.enabled is not None:
        query = query.where(LexiconEntry.enabled == flt.enabled)
    total = query.count()
    rows = list(
        query.order_by(LexiconEntry.target, LexiconEntry.weight.desc(), LexiconEntry.term).paginate(
            page, page_size
        )
    )
    return rows, total


def get_entry(actor: Any, entry_id: int) -> LexiconEntry:
    actor.require(PERMISSION)
    row = LexiconEntry.get_or_none(LexiconEntry.id == entry_id)
    if row is None:
        raise NotFound(f"词条不存在：{entry_id}")
    return row


def history(actor: Any, limit: int = 50) -> list[LexiconChange]:
    actor.require(PERMISSION)
    return list(LexiconChange.select().order_by(LexiconChange.id.desc()).limit(limit))


def describe(row: LexiconEntry) -> dict[str, Any]:
    tax = taxonomy()
    kind = tax.kind_of(row.target)
    name = tax.types[row.target] if kind == "type" else tax.leaf_label(row.target)
    return {
        "id": row.id,
        "term": row.term,
        "target": row.target,
        "target_name": name,
        "kind": kind,
        "weight": row.weight,
        "enabled": row.enabled,
        "builtin": row.builtin,
        "note": row.note,
        "updated_at": row.updated_at.isoformat(sep=" ", timespec="seconds"),
        "updated_by": row.updated_by_id,
    }


# ---- editing ------------------------------------------------------------------------------------


def _note(note: object) -> str:
    if not isinstance(note, str):
        raise ValidationError("备注必须是文本")
    if len(note) > MAX_NOTE:
        raise ValidationError(f"备注不能超过{MAX_NOTE}字")
    return note.strip()


def add_entry(actor: Any, term: str, target: str, weight: float, note: str = "") -> LexiconEntry:
    """Add a word for a business type or category (新增词条)."""
    actor.require(PERMISSION)
    folded = check_term(term)
    taxonomy().kind_of(target)
    value = check_weight(weight)
    note = _note(note)
    with db.write_tx():
        if LexiconEntry.get_or_none((LexiconEntry.term == folded) & (LexiconEntry.target == target)):
            raise Conflict(f"词条“{folded}”→{target} 已存在，请修改原词条")
        row = LexiconEntry.create(
            term=folded,
            target=target,
            weight=value,
            note=note,
            builtin=False,
            enabled=True,
            updated_by=actor.user_id,
            updated_at=clock.now(),
        )
        _log(actor, "add", row, None)
    return row


def update_entry(actor: Any, entry_id: int, changes: dict[str, Any]) -> LexiconEntry:
    """Change an entry's weight, note or whether it is used (修改/停用/启用词条)."""
    actor.require(PERMISSION)
    unknown = set(changes) - {"weight", "enabled", "note"}
    if unknown:
        raise ValidationError(f"不能修改的字段：{'、'.join(sorted(unknown))}（只能修改权重、启用状态、备注）")
    with db.write_tx():
        row = get_entry(actor, entry_id)
        before = _snapshot(row)
        if "weight" in changes:
            row.weight = check_weight(changes["weight"])
        if "enabled" in changes:
            if not isinstance(changes["enabled"], bool):
                raise ValidationError("启用状态必须为是或否")
            row.enabled = changes["enabled"]
        if "note" in changes:
            row.note = _note(changes["note"])
        if _snapshot(row) == before:
            return row
        row.updated_by = actor.user_id
        row.updated_at = clock.now()
        row.save()
        _log(actor, "edit", row, before)
    return row


def delete_entry(actor: Any, entry_id: int) -> None:
    """Delete an entry a person added; a built-in entry is disabled instead, so it stays gone."""
    actor.require(PERMISSION)
    with db.write_tx():
        row = get_entry(actor, entry_id)
        before = _snapshot(row)
        if row.builtin:
            if row.enabled or row.updated_by_id is None:
                row.enabled = False
                row.updated_by = actor.user_id
                row.updated_at = clock.now()
                row.save()
                _log(actor, "edit", row, before)
            return
        row.delete_instance()
        _log(actor, "delete", row, before)


# ---- the compiled categoriser, per process ----------------------------------------------------


class _Compiled:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.version = -1
        self.categoriser: Categoriser | None = None


_compiled = _Compiled()


def categoriser(current: int | None = None) -> Categoriser:
    """The categoriser on this node's lexicon, recompiled when the lexicon version moved (`current`:
    the version the caller has just read, else it is read here)."""
    if current is None:
        current = version()
    if _compiled.categoriser is not None and _compiled.version == current:
        return _compiled.categoriser
    with _compiled.lock:
        if _compiled.categoriser is None or _compiled.version != current:
            rows = list(
                LexiconEntry.select(LexiconEntry.term, LexiconEntry.target, LexiconEntry.weight)
                .where(LexiconEntry.enabled == True)  # noqa: E712
                .tuples()
            )
            _compiled.categoriser = Categoriser([Entry(t, g, w) for t, g, w in rows], version=current)
            _compiled.version = current
        return _compiled.categoriser


def reset() -> None:
    """Forget the compiled categoriser (tests that roll back the lexicon table)."""
    with _compiled.lock:
        _compiled.categoriser = None
        _compiled.version = -1
