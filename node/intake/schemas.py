"""Request bodies for intake records."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator

from node.pii import valid_phone
from node.validation import Input


class ContactCreate(Input):
    """Over the API a contact needs something to record: a caller number, a summary or a call id
    (issue 18: an empty body made an empty contact; the document says so with `anyOf`)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "anyOf": [
                {"properties": {name: {"minLength": 1}}, "required": [name]}
                for name in ("caller_phone", "summary", "call_id")
            ]
        },
    )
    channel: Annotated[str, Field(pattern=r"^\d{2}$")] = "01"
    caller_phone: Annotated[str, Field(max_length=24)] = ""
    caller_name: Annotated[str, Field(max_length=40)] = ""
    summary: Annotated[str, Field(max_length=2000)] = ""
    call_id: Annotated[str, Field(max_length=100)] = ""
    recording_ref: Annotated[str, Field(max_length=200)] = ""

    @field_validator("caller_phone")
    @classmethod
    def _phone(cls, v: str) -> str:
        if v and not valid_phone(v):
            raise ValueError("电话号码格式不正确")
        return v


class ContactFinish(Input):
    outcome: Literal["transferred", "invalid", "query", "linked"]
    note: Annotated[str, Field(max_length=2000)] = ""
    transfer_target: Annotated[str, Field(max_length=60)] = ""
    order_number: Annotated[str, Field(pattern=r"^(\d{21})?$")] = ""
    summary: Annotated[str, Field(max_length=2000)] | None = None
