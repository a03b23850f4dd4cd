"""outbound calls keep the citizen's number masked in call.dialed (it was stored in clear)"""
# Data only. An outbound call's `dialed` is the citizen's number, also kept encrypted in
# `caller_cipher`; the clear copy becomes the call's own masked number (or is masked in place).


def q(name):
    return f'"{name}"'


def mask(number):
    """node.pii.mask_phone as of this migration: the last four digits stay."""
    digits = "".join(ch for ch in number.split("@")[0] if ch.isdigit() or ch == "+")
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :]
            break
    digits = digits.replace("+", "")
    if len(digits) >= 7:
        return "*" * (len(digits) - 4) + digits[-4:]
    return "*" * len(digits)


def up(migrator, db):
    if "call" not in set(db.get_tables()):
        return
    rows = db.execute_sql(
        f"SELECT {q('id')}, {q('dialed')}, {q('caller_masked')} FROM {q('call')} "
        f"WHERE {q('direction')} = {db.param} AND {q('dialed')} <> {db.param}",
        ("outbound", ""),
    ).fetchall()
    for row_id, dialed, masked in rows:
        if "*" in dialed:
            continue  # masked already (click-to-dial stored the mask)
        db.execute_sql(
            f"UPDATE {q('call')} SET {q('dialed')} = {db.param} WHERE {q('id')} = {db.param}",
            (masked or mask(dialed), row_id),
        )


def down(migrator, db):
    pass  # the clear numbers are not kept
