"""`Idempotency-Key` for POST requests that create things (IETF draft-ietf-httpapi-idempotency-key).

A client that retries after a timeout or a crash sends the same key; the retry gets the first
attempt's status and body (header `Idempotent-Replayed: true`) and nothing is stored twice. The key
row is written in the transaction that does the work, under a lock on (caller, key), so concurrent
retries wait for the first and a crash before commit leaves no trace of either. Keys live
KEY_DAYS days; reusing a key for a different body is refused (422).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from flask import Response, jsonify, request

from node import clock, db
from node.api.models import IdempotentRequest
from node.errors import ValidationError

HEADER = "Idempotency-Key"
KEY_DAYS = 7
_KEY_RE = re.compile(r"^[\x21-\x7e]{1,100}$")


def _fingerprint(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def run(owner: str, body: Any, work: Callable[[], tuple[Any, int]]) -> Response | tuple[Any, int]:
    """Do `work()` (returning a JSON-able body and status) once per Idempotency-Key of `owner`."""
    key = request.headers.get(HEADER)
    if key is None:
        data, status = work()
        return jsonify(data), status
    if not _KEY_RE.match(key):
        raise ValidationError(f"{HEADER} 应为1-100个可见 ASCII 字符", details={HEADER: "格式有误"})
    fingerprint = _fingerprint(body)
    with db.write_tx():
        db.lock_named(f"idempotency:{owner}:{key}")
        row = IdempotentRequest.get_or_none(IdempotentRequest.owner == owner, IdempotentRequest.key == key)
        if row is not None:
            if row.fingerprint != fingerprint or row.path != request.path:
                raise ValidationError(
                    f"{HEADER} 已用于另一个请求，请换一个新的键", details={HEADER: "已用于不同的请求"}
                )
            resp = jsonify(row.response)
            resp.status_code = row.status
            resp.headers["Idempotent-Replayed"] = "true"
            return resp
        data, status = work()
        IdempotentRequest.create(
            owner=owner,
            key=key,
            method=request.method,
            path=request.path[:200],
            fingerprint=fingerprint,
            status=status,
            response=data,
            created_at=clock.now(),
        )
    resp = jsonify(data)
    resp.status_code = status
    return resp


def purge(now: dt.datetime | None = None) -> int:
    """Forget keys older than KEY_DAYS (a daily job)."""
    cutoff = (now or clock.now()) - dt.timedelta(days=KEY_DAYS)
    return IdempotentRequest.delete().where(IdempotentRequest.created_at < cutoff).execute()
