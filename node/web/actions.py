"""Turn an action dialog's form fields into the JSON-like body the work-order engine validates."""

from __future__ import annotations

import typing
from typing import Any

from node.workflow.schemas import ACTION_BODIES

MAX_SPLIT_PARTS = 10


def _is_list(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_list(typing.get_args(annotation)[0])
    return origin is list


def body_from_form(action: str, form: Any) -> dict[str, Any]:
    """Empty inputs are left out so the schema's defaults (and its 'required' messages) apply."""
    if action == "split":
        return _split(form)
    model = ACTION_BODIES.get(action)
    if model is None:
        return {}
    body: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if _is_list(info.annotation):
            values = [v.strip() for v in form.getlist(name) if v and v.strip()]
            if values:
                body[name] = values
            continue
        value = form.get(name)
        if value is None or str(value).strip() == "":
            continue
        body[name] = str(value)
    if action == "callback" and body.get("reached", "true") != "false":
        # Given explicitly (even empty), so the schema's "both ratings when reached" rule runs.
        body.setdefault("result_satisfaction", None)
        body.setdefault("service_satisfaction", None)
    return body


def _split(form: Any) -> dict[str, Any]:
    parts = []
    for i in range(MAX_SPLIT_PARTS):
        content = (form.get(f"parts-{i}-content") or "").strip()
        if not content:
            continue
        part = {"content": content}
        for name in ("business_type", "domain", "sub_business", "title"):
            value = (form.get(f"parts-{i}-{name}") or "").strip()
            if value:
                part[name] = value
        parts.append(part)
    body: dict[str, Any] = {"parts": parts}
    if (form.get("note") or "").strip():
        body["note"] = form.get("note").strip()
    return body
