"""Request bodies of the work-order engine (validated before any service writes)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from node.pii import valid_phone
from node.validation import Input

Code2 = Annotated[str, Field(pattern=r"^\d{1,2}$")]
Text = Annotated[str, Field(min_length=1, max_length=5000)]
Short = Annotated[str, Field(max_length=100)]
Reason = Annotated[str, Field(min_length=1, max_length=1000)]
Satisfaction = Literal["1", "2", "3"]


def _phone(value: str) -> str:
    if value and not valid_phone(value):
        raise ValueError("电话号码格式不正确")
    return value


class OrderFields(Input):
    """Fields an agent fills; shared by create and edit."""

    business_type: Literal["1", "2", "3"]
    domain: Annotated[str, Field(pattern=r"^(\d{2})?$")] = ""
    sub_business: Annotated[str, Field(pattern=r"^(\d{4})?$")] = ""
    road_class: Literal["", "expressway", "ordinary"] = ""
    region_code: Annotated[str, Field(pattern=r"^\d{6}$")]
    address: Annotated[str, Field(max_length=200)] = ""
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = None
    respondent_name: Short = ""
    respondent_plate: Annotated[str, Field(max_length=20)] = ""
    respondent_route: Annotated[str, Field(max_length=60)] = ""
    respondent_vessel: Annotated[str, Field(max_length=60)] = ""
    title: Short = ""
    content: Text
    priority: Literal["normal", "urgent"] = "normal"


class OrderCreate(OrderFields):
    channel: Code2 = "01"
    caller_phone: Annotated[str, Field(max_length=24)] = ""
    contact_phone: Annotated[str, Field(max_length=24)] = ""
    caller_name: Annotated[str, Field(max_length=40)] = ""
    confidential: bool = False
    anonymous: bool = False
    contact_id: int | None = None
    call_id: Annotated[str, Field(max_length=100)] = ""
    recording_ref: Annotated[str, Field(max_length=200)] = ""
    external_number: Annotated[str, Field(max_length=40)] = ""
    immediate_answer: Annotated[str, Field(max_length=5000)] = ""
    submit: bool = True

    _check_phone = field_validator("caller_phone", "contact_phone")(_phone)


class OrderEdit(Input):
    business_type: Literal["1", "2", "3"] | None = None
    domain: Annotated[str, Field(pattern=r"^(\d{2})?$")] | None = None
    sub_business: Annotated[str, Field(pattern=r"^(\d{4})?$")] | None = None
    road_class: Literal["", "expressway", "ordinary"] | None = None
    region_code: Annotated[str, Field(pattern=r"^\d{6}$")] | None = None
    address: Annotated[str, Field(max_length=200)] | None = None
    respondent_name: Short | None = None
    respondent_plate: Annotated[str, Field(max_length=20)] | None = None
    respondent_route: Annotated[str, Field(max_length=60)] | None = None
    respondent_vessel: Annotated[str, Field(max_length=60)] | None = None
    title: Short | None = None
    content: Text | None = None
    priority: Literal["normal", "urgent"] | None = None


class Empty(Input):
    note: Annotated[str, Field(max_length=1000)] = ""


class WithReason(Input):
    reason: Reason


class Answer(Input):
    answer: Text


class Dispatch(Input):
    lead_unit: Annotated[str, Field(min_length=1, max_length=32)]
    assist_units: Annotated[list[Annotated[str, Field(max_length=32)]], Field(max_length=10)] = []
    note: Annotated[str, Field(max_length=1000)] = ""


class Return(Input):
    reason_code: Annotated[str, Field(min_length=1, max_length=4)]
    reason: Reason


class RequestExtension(Input):
    days: Annotated[int, Field(ge=1, le=60)]
    reason: Reason


class DecideExtension(Input):
    extension_id: int
    approve: bool
    note: Annotated[str, Field(max_length=1000)] = ""


class AssistReply(Input):
    content: Text


class Reply(Input):
    basic: Text
    process: Text
    basis: Text


class Callback(Input):
    method: Literal["phone", "sms", "wechat", "web", "visit"] = "phone"
    reached: bool = True
    result_satisfaction: Satisfaction | None = None
    service_satisfaction: Satisfaction | None = None
    solved: bool | None = None  # 问题是否已解决 (callback plans ask it)
    call_id: Annotated[str, Field(max_length=100)] = ""  # the click-to-dial call of this attempt
    note: Annotated[str, Field(max_length=2000)] = ""

    @model_validator(mode="after")
    def _both_ratings_when_reached(self) -> Callback:
        if self.reached and (self.result_satisfaction is None or self.service_satisfaction is None):
            raise ValueError("回访接通时须记录处理结果满意度和服务态度满意度")
        return self


class Reject(Input):
    reason_code: Annotated[str, Field(min_length=1, max_length=4)]
    reason: Reason


class Merge(Input):
    master: Annotated[str, Field(pattern=r"^\d{21}$")]
    note: Annotated[str, Field(max_length=1000)] = ""


class SplitPart(Input):
    business_type: Literal["1", "2", "3"]
    domain: Annotated[str, Field(pattern=r"^(\d{2})?$")] = ""
    sub_business: Annotated[str, Field(pattern=r"^(\d{4})?$")] = ""
    title: Short = ""
    content: Text


class Split(Input):
    parts: Annotated[list[SplitPart], Field(min_length=2, max_length=10)]
    note: Annotated[str, Field(max_length=1000)] = ""


class Transfer(Input):
    region_code: Annotated[str, Field(pattern=r"^\d{6}$")]
    reason: Reason


class Urge(Input):
    note: Annotated[str, Field(min_length=1, max_length=1000)]


class Note(Input):
    text: Annotated[str, Field(min_length=1, max_length=2000)]


ACTION_BODIES: dict[str, type[Input]] = {
    "answer": Answer,
    "submit": Empty,
    "review": Empty,
    "review_back": WithReason,
    "approve": Empty,
    "disapprove": WithReason,
    "dispatch": Dispatch,
    "withdraw": WithReason,
    "sign": Empty,
    "return": Return,
    "accept_return": Empty,
    "reject_return": WithReason,
    "request_extension": RequestExtension,
    "decide_extension": DecideExtension,
    "assist_reply": AssistReply,
    "reply": Reply,
    "accept_reply": Empty,
    "reject_reply": WithReason,
    "close": Empty,
    "callback": Callback,
    "reopen": WithReason,
    "archive": Empty,
    "reject": Reject,
    "merge": Merge,
    "split": Split,
    "transfer": Transfer,
    "urge": Urge,
    "note": Note,
    "edit": OrderEdit,
}
