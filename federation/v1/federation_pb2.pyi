from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BusinessType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BUSINESS_TYPE_UNSPECIFIED: _ClassVar[BusinessType]
    COMPLAINT: _ClassVar[BusinessType]
    CONSULTATION: _ClassVar[BusinessType]
    SUGGESTION: _ClassVar[BusinessType]

class StateCategory(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STATE_CATEGORY_UNSPECIFIED: _ClassVar[StateCategory]
    STATE_OPEN: _ClassVar[StateCategory]
    STATE_PENDING: _ClassVar[StateCategory]
    STATE_CLOSED: _ClassVar[StateCategory]

class Satisfaction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SATISFACTION_UNSPECIFIED: _ClassVar[Satisfaction]
    VERY_SATISFIED: _ClassVar[Satisfaction]
    SATISFIED: _ClassVar[Satisfaction]
    DISSATISFIED: _ClassVar[Satisfaction]

class NodeLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_LEVEL_UNSPECIFIED: _ClassVar[NodeLevel]
    MINISTRY: _ClassVar[NodeLevel]
    PROVINCE: _ClassVar[NodeLevel]
    CITY: _ClassVar[NodeLevel]
BUSINESS_TYPE_UNSPECIFIED: BusinessType
COMPLAINT: BusinessType
CONSULTATION: BusinessType
SUGGESTION: BusinessType
STATE_CATEGORY_UNSPECIFIED: StateCategory
STATE_OPEN: StateCategory
STATE_PENDING: StateCategory
STATE_CLOSED: StateCategory
SATISFACTION_UNSPECIFIED: Satisfaction
VERY_SATISFIED: Satisfaction
SATISFIED: Satisfaction
DISSATISFIED: Satisfaction
NODE_LEVEL_UNSPECIFIED: NodeLevel
MINISTRY: NodeLevel
PROVINCE: NodeLevel
CITY: NodeLevel

class Envelope(_message.Message):
    __slots__ = ("header", "payload", "signature")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    header: bytes
    payload: bytes
    signature: bytes
    def __init__(self, header: _Optional[bytes] = ..., payload: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class EnvelopeHeader(_message.Message):
    __slots__ = ("version", "payload_type", "origin_node", "destination_node", "key_id", "timestamp_ms", "nonce", "message_id", "payload_sha256")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_TYPE_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_NODE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_NODE_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_SHA256_FIELD_NUMBER: _ClassVar[int]
    version: int
    payload_type: str
    origin_node: str
    destination_node: str
    key_id: str
    timestamp_ms: int
    nonce: bytes
    message_id: str
    payload_sha256: bytes
    def __init__(self, version: _Optional[int] = ..., payload_type: _Optional[str] = ..., origin_node: _Optional[str] = ..., destination_node: _Optional[str] = ..., key_id: _Optional[str] = ..., timestamp_ms: _Optional[int] = ..., nonce: _Optional[bytes] = ..., message_id: _Optional[str] = ..., payload_sha256: _Optional[bytes] = ...) -> None: ...

class RelayedEnvelope(_message.Message):
    __slots__ = ("envelope", "path")
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    envelope: bytes
    path: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, envelope: _Optional[bytes] = ..., path: _Optional[_Iterable[str]] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("message_id", "status", "detail", "reason", "received_at_ms")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[Ack.Status]
        ACCEPTED: _ClassVar[Ack.Status]
        DUPLICATE: _ClassVar[Ack.Status]
        REJECTED: _ClassVar[Ack.Status]
    STATUS_UNSPECIFIED: Ack.Status
    ACCEPTED: Ack.Status
    DUPLICATE: Ack.Status
    REJECTED: Ack.Status
    class Reason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        REASON_UNSPECIFIED: _ClassVar[Ack.Reason]
        MALFORMED: _ClassVar[Ack.Reason]
        UNSUPPORTED_VERSION: _ClassVar[Ack.Reason]
        UNKNOWN_KEY: _ClassVar[Ack.Reason]
        KEY_REVOKED: _ClassVar[Ack.Reason]
        KEY_NOT_VALID: _ClassVar[Ack.Reason]
        BAD_SIGNATURE: _ClassVar[Ack.Reason]
        KEY_ORIGIN_MISMATCH: _ClassVar[Ack.Reason]
        WRONG_DESTINATION: _ClassVar[Ack.Reason]
        STALE_TIMESTAMP: _ClassVar[Ack.Reason]
        FUTURE_TIMESTAMP: _ClassVar[Ack.Reason]
        PAYLOAD_HASH_MISMATCH: _ClassVar[Ack.Reason]
        UNKNOWN_PAYLOAD_TYPE: _ClassVar[Ack.Reason]
        PAYLOAD_MALFORMED: _ClassVar[Ack.Reason]
        REPLAYED: _ClassVar[Ack.Reason]
        TRANSPORT_MISMATCH: _ClassVar[Ack.Reason]
        NO_ROUTE: _ClassVar[Ack.Reason]
        INTERNAL: _ClassVar[Ack.Reason]
        NOT_AUTHORISED: _ClassVar[Ack.Reason]
        RECORD_NOT_IN_SUBTREE: _ClassVar[Ack.Reason]
        NUMBER_NOT_ORIGIN: _ClassVar[Ack.Reason]
        TRANSFER_NOT_HELD: _ClassVar[Ack.Reason]
        UNKNOWN_TRANSFER: _ClassVar[Ack.Reason]
        SEAL_INVALID: _ClassVar[Ack.Reason]
    REASON_UNSPECIFIED: Ack.Reason
    MALFORMED: Ack.Reason
    UNSUPPORTED_VERSION: Ack.Reason
    UNKNOWN_KEY: Ack.Reason
    KEY_REVOKED: Ack.Reason
    KEY_NOT_VALID: Ack.Reason
    BAD_SIGNATURE: Ack.Reason
    KEY_ORIGIN_MISMATCH: Ack.Reason
    WRONG_DESTINATION: Ack.Reason
    STALE_TIMESTAMP: Ack.Reason
    FUTURE_TIMESTAMP: Ack.Reason
    PAYLOAD_HASH_MISMATCH: Ack.Reason
    UNKNOWN_PAYLOAD_TYPE: Ack.Reason
    PAYLOAD_MALFORMED: Ack.Reason
    REPLAYED: Ack.Reason
    TRANSPORT_MISMATCH: Ack.Reason
    NO_ROUTE: Ack.Reason
    INTERNAL: Ack.Reason
    NOT_AUTHORISED: Ack.Reason
    RECORD_NOT_IN_SUBTREE: Ack.Reason
    NUMBER_NOT_ORIGIN: Ack.Reason
    TRANSFER_NOT_HELD: Ack.Reason
    UNKNOWN_TRANSFER: Ack.Reason
    SEAL_INVALID: Ack.Reason
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    status: Ack.Status
    detail: str
    reason: Ack.Reason
    received_at_ms: int
    def __init__(self, message_id: _Optional[str] = ..., status: _Optional[_Union[Ack.Status, str]] = ..., detail: _Optional[str] = ..., reason: _Optional[_Union[Ack.Reason, str]] = ..., received_at_ms: _Optional[int] = ...) -> None: ...

class SealedBox(_message.Message):
    __slots__ = ("recipient_key_id", "ephemeral_public_key", "nonce", "ciphertext")
    RECIPIENT_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    recipient_key_id: str
    ephemeral_public_key: bytes
    nonce: bytes
    ciphertext: bytes
    def __init__(self, recipient_key_id: _Optional[str] = ..., ephemeral_public_key: _Optional[bytes] = ..., nonce: _Optional[bytes] = ..., ciphertext: _Optional[bytes] = ...) -> None: ...

class OrderRecord(_message.Message):
    __slots__ = ("order_number", "origin_node", "handling_node", "region_code", "business_type", "domain_code", "sub_business_code", "channel_code", "state", "state_category", "accepted_at_ms", "due_at_ms", "signed_at_ms", "replied_at_ms", "closed_at_ms", "instant_answered", "transferred", "closed_on_time", "extended", "return_count", "urge_count", "callback_done", "result_satisfaction", "service_satisfaction", "reviewed", "spot_check", "title", "revision", "updated_at_ms", "handling_units")
    ORDER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_NODE_FIELD_NUMBER: _ClassVar[int]
    HANDLING_NODE_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_FIELD_NUMBER: _ClassVar[int]
    BUSINESS_TYPE_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_CODE_FIELD_NUMBER: _ClassVar[int]
    SUB_BUSINESS_CODE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_CODE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    DUE_AT_MS_FIELD_NUMBER: _ClassVar[int]
    SIGNED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    REPLIED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    CLOSED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    INSTANT_ANSWERED_FIELD_NUMBER: _ClassVar[int]
    TRANSFERRED_FIELD_NUMBER: _ClassVar[int]
    CLOSED_ON_TIME_FIELD_NUMBER: _ClassVar[int]
    EXTENDED_FIELD_NUMBER: _ClassVar[int]
    RETURN_COUNT_FIELD_NUMBER: _ClassVar[int]
    URGE_COUNT_FIELD_NUMBER: _ClassVar[int]
    CALLBACK_DONE_FIELD_NUMBER: _ClassVar[int]
    RESULT_SATISFACTION_FIELD_NUMBER: _ClassVar[int]
    SERVICE_SATISFACTION_FIELD_NUMBER: _ClassVar[int]
    REVIEWED_FIELD_NUMBER: _ClassVar[int]
    SPOT_CHECK_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    HANDLING_UNITS_FIELD_NUMBER: _ClassVar[int]
    order_number: str
    origin_node: str
    handling_node: str
    region_code: str
    business_type: BusinessType
    domain_code: str
    sub_business_code: str
    channel_code: str
    state: str
    state_category: StateCategory
    accepted_at_ms: int
    due_at_ms: int
    signed_at_ms: int
    replied_at_ms: int
    closed_at_ms: int
    instant_answered: bool
    transferred: bool
    closed_on_time: bool
    extended: bool
    return_count: int
    urge_count: int
    callback_done: bool
    result_satisfaction: Satisfaction
    service_satisfaction: Satisfaction
    reviewed: bool
    spot_check: bool
    title: str
    revision: int
    updated_at_ms: int
    handling_units: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, order_number: _Optional[str] = ..., origin_node: _Optional[str] = ..., handling_node: _Optional[str] = ..., region_code: _Optional[str] = ..., business_type: _Optional[_Union[BusinessType, str]] = ..., domain_code: _Optional[str] = ..., sub_business_code: _Optional[str] = ..., channel_code: _Optional[str] = ..., state: _Optional[str] = ..., state_category: _Optional[_Union[StateCategory, str]] = ..., accepted_at_ms: _Optional[int] = ..., due_at_ms: _Optional[int] = ..., signed_at_ms: _Optional[int] = ..., replied_at_ms: _Optional[int] = ..., closed_at_ms: _Optional[int] = ..., instant_answered: _Optional[bool] = ..., transferred: _Optional[bool] = ..., closed_on_time: _Optional[bool] = ..., extended: _Optional[bool] = ..., return_count: _Optional[int] = ..., urge_count: _Optional[int] = ..., callback_done: _Optional[bool] = ..., result_satisfaction: _Optional[_Union[Satisfaction, str]] = ..., service_satisfaction: _Optional[_Union[Satisfaction, str]] = ..., reviewed: _Optional[bool] = ..., spot_check: _Optional[bool] = ..., title: _Optional[str] = ..., revision: _Optional[int] = ..., updated_at_ms: _Optional[int] = ..., handling_units: _Optional[_Iterable[str]] = ...) -> None: ...

class OrderRecordBatch(_message.Message):
    __slots__ = ("records",)
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[OrderRecord]
    def __init__(self, records: _Optional[_Iterable[_Union[OrderRecord, _Mapping]]] = ...) -> None: ...

class HistoryEntry(_message.Message):
    __slots__ = ("at_ms", "node", "actor", "action", "from_state", "to_state", "note", "data")
    class DataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AT_MS_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    at_ms: int
    node: str
    actor: str
    action: str
    from_state: str
    to_state: str
    note: str
    data: _containers.ScalarMap[str, str]
    def __init__(self, at_ms: _Optional[int] = ..., node: _Optional[str] = ..., actor: _Optional[str] = ..., action: _Optional[str] = ..., from_state: _Optional[str] = ..., to_state: _Optional[str] = ..., note: _Optional[str] = ..., data: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Respondent(_message.Message):
    __slots__ = ("company", "plate", "route", "vessel")
    COMPANY_FIELD_NUMBER: _ClassVar[int]
    PLATE_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    VESSEL_FIELD_NUMBER: _ClassVar[int]
    company: str
    plate: str
    route: str
    vessel: str
    def __init__(self, company: _Optional[str] = ..., plate: _Optional[str] = ..., route: _Optional[str] = ..., vessel: _Optional[str] = ...) -> None: ...

class HandlingResult(_message.Message):
    __slots__ = ("basic", "process", "basis")
    BASIC_FIELD_NUMBER: _ClassVar[int]
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    basic: str
    process: str
    basis: str
    def __init__(self, basic: _Optional[str] = ..., process: _Optional[str] = ..., basis: _Optional[str] = ...) -> None: ...

class OrderDetail(_message.Message):
    __slots__ = ("record", "content", "contact_name", "contact_phone", "confidential", "anonymous", "address", "latitude", "longitude", "respondent", "immediate_answer", "result", "priority", "extra")
    class ExtraEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RECORD_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    CONTACT_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTACT_PHONE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENTIAL_FIELD_NUMBER: _ClassVar[int]
    ANONYMOUS_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    LATITUDE_FIELD_NUMBER: _ClassVar[int]
    LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    RESPONDENT_FIELD_NUMBER: _ClassVar[int]
    IMMEDIATE_ANSWER_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    record: OrderRecord
    content: str
    contact_name: str
    contact_phone: str
    confidential: bool
    anonymous: bool
    address: str
    latitude: float
    longitude: float
    respondent: Respondent
    immediate_answer: str
    result: HandlingResult
    priority: str
    extra: _containers.ScalarMap[str, str]
    def __init__(self, record: _Optional[_Union[OrderRecord, _Mapping]] = ..., content: _Optional[str] = ..., contact_name: _Optional[str] = ..., contact_phone: _Optional[str] = ..., confidential: _Optional[bool] = ..., anonymous: _Optional[bool] = ..., address: _Optional[str] = ..., latitude: _Optional[float] = ..., longitude: _Optional[float] = ..., respondent: _Optional[_Union[Respondent, _Mapping]] = ..., immediate_answer: _Optional[str] = ..., result: _Optional[_Union[HandlingResult, _Mapping]] = ..., priority: _Optional[str] = ..., extra: _Optional[_Mapping[str, str]] = ...) -> None: ...

class OrderTransfer(_message.Message):
    __slots__ = ("transfer_id", "order", "history", "from_node", "to_node", "reason", "requested_by", "requested_at_ms", "order_number", "sealed")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    FROM_NODE_FIELD_NUMBER: _ClassVar[int]
    TO_NODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    ORDER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SEALED_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    order: OrderDetail
    history: _containers.RepeatedCompositeFieldContainer[HistoryEntry]
    from_node: str
    to_node: str
    reason: str
    requested_by: str
    requested_at_ms: int
    order_number: str
    sealed: SealedBox
    def __init__(self, transfer_id: _Optional[str] = ..., order: _Optional[_Union[OrderDetail, _Mapping]] = ..., history: _Optional[_Iterable[_Union[HistoryEntry, _Mapping]]] = ..., from_node: _Optional[str] = ..., to_node: _Optional[str] = ..., reason: _Optional[str] = ..., requested_by: _Optional[str] = ..., requested_at_ms: _Optional[int] = ..., order_number: _Optional[str] = ..., sealed: _Optional[_Union[SealedBox, _Mapping]] = ...) -> None: ...

class OrderUpdate(_message.Message):
    __slots__ = ("order_number", "transfer_id", "from_node", "to_node", "kind", "sequence", "at_ms", "actor", "state", "note", "result", "history", "sealed")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[OrderUpdate.Kind]
        TRANSFER_ACCEPTED: _ClassVar[OrderUpdate.Kind]
        TRANSFER_REFUSED: _ClassVar[OrderUpdate.Kind]
        SIGNED: _ClassVar[OrderUpdate.Kind]
        PROGRESS: _ClassVar[OrderUpdate.Kind]
        REPLIED: _ClassVar[OrderUpdate.Kind]
        CLOSED: _ClassVar[OrderUpdate.Kind]
        RETURNED: _ClassVar[OrderUpdate.Kind]
    KIND_UNSPECIFIED: OrderUpdate.Kind
    TRANSFER_ACCEPTED: OrderUpdate.Kind
    TRANSFER_REFUSED: OrderUpdate.Kind
    SIGNED: OrderUpdate.Kind
    PROGRESS: OrderUpdate.Kind
    REPLIED: OrderUpdate.Kind
    CLOSED: OrderUpdate.Kind
    RETURNED: OrderUpdate.Kind
    ORDER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_NODE_FIELD_NUMBER: _ClassVar[int]
    TO_NODE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    AT_MS_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    SEALED_FIELD_NUMBER: _ClassVar[int]
    order_number: str
    transfer_id: str
    from_node: str
    to_node: str
    kind: OrderUpdate.Kind
    sequence: int
    at_ms: int
    actor: str
    state: str
    note: str
    result: HandlingResult
    history: _containers.RepeatedCompositeFieldContainer[HistoryEntry]
    sealed: SealedBox
    def __init__(self, order_number: _Optional[str] = ..., transfer_id: _Optional[str] = ..., from_node: _Optional[str] = ..., to_node: _Optional[str] = ..., kind: _Optional[_Union[OrderUpdate.Kind, str]] = ..., sequence: _Optional[int] = ..., at_ms: _Optional[int] = ..., actor: _Optional[str] = ..., state: _Optional[str] = ..., note: _Optional[str] = ..., result: _Optional[_Union[HandlingResult, _Mapping]] = ..., history: _Optional[_Iterable[_Union[HistoryEntry, _Mapping]]] = ..., sealed: _Optional[_Union[SealedBox, _Mapping]] = ...) -> None: ...

class Count(_message.Message):
    __slots__ = ("metric", "business_type", "domain_code", "channel_code", "value")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    BUSINESS_TYPE_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_CODE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_CODE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    metric: str
    business_type: BusinessType
    domain_code: str
    channel_code: str
    value: int
    def __init__(self, metric: _Optional[str] = ..., business_type: _Optional[_Union[BusinessType, str]] = ..., domain_code: _Optional[str] = ..., channel_code: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...

class DailyReport(_message.Message):
    __slots__ = ("node", "report_date", "generated_at_ms", "revision", "counts")
    NODE_FIELD_NUMBER: _ClassVar[int]
    REPORT_DATE_FIELD_NUMBER: _ClassVar[int]
    GENERATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    node: str
    report_date: str
    generated_at_ms: int
    revision: int
    counts: _containers.RepeatedCompositeFieldContainer[Count]
    def __init__(self, node: _Optional[str] = ..., report_date: _Optional[str] = ..., generated_at_ms: _Optional[int] = ..., revision: _Optional[int] = ..., counts: _Optional[_Iterable[_Union[Count, _Mapping]]] = ...) -> None: ...

class MonthlyForm(_message.Message):
    __slots__ = ("node", "period", "generated_at_ms", "revision", "form_json")
    NODE_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    GENERATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    FORM_JSON_FIELD_NUMBER: _ClassVar[int]
    node: str
    period: str
    generated_at_ms: int
    revision: int
    form_json: str
    def __init__(self, node: _Optional[str] = ..., period: _Optional[str] = ..., generated_at_ms: _Optional[int] = ..., revision: _Optional[int] = ..., form_json: _Optional[str] = ...) -> None: ...

class KnowledgeBulletin(_message.Message):
    __slots__ = ("bulletin_id", "issuer_node", "title", "body", "category", "tags", "published_at_ms", "valid_until_ms", "revision", "withdrawn", "effective_date", "scope")
    BULLETIN_ID_FIELD_NUMBER: _ClassVar[int]
    ISSUER_NODE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_MS_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWN_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_DATE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    bulletin_id: str
    issuer_node: str
    title: str
    body: str
    category: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    published_at_ms: int
    valid_until_ms: int
    revision: int
    withdrawn: bool
    effective_date: str
    scope: str
    def __init__(self, bulletin_id: _Optional[str] = ..., issuer_node: _Optional[str] = ..., title: _Optional[str] = ..., body: _Optional[str] = ..., category: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., published_at_ms: _Optional[int] = ..., valid_until_ms: _Optional[int] = ..., revision: _Optional[int] = ..., withdrawn: _Optional[bool] = ..., effective_date: _Optional[str] = ..., scope: _Optional[str] = ...) -> None: ...

class SpotCheckOrder(_message.Message):
    __slots__ = ("check_id", "issuer_node", "target_node", "order", "due_at_ms", "instructions", "sealed")
    CHECK_ID_FIELD_NUMBER: _ClassVar[int]
    ISSUER_NODE_FIELD_NUMBER: _ClassVar[int]
    TARGET_NODE_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    DUE_AT_MS_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    SEALED_FIELD_NUMBER: _ClassVar[int]
    check_id: str
    issuer_node: str
    target_node: str
    order: OrderDetail
    due_at_ms: int
    instructions: str
    sealed: SealedBox
    def __init__(self, check_id: _Optional[str] = ..., issuer_node: _Optional[str] = ..., target_node: _Optional[str] = ..., order: _Optional[_Union[OrderDetail, _Mapping]] = ..., due_at_ms: _Optional[int] = ..., instructions: _Optional[str] = ..., sealed: _Optional[_Union[SealedBox, _Mapping]] = ...) -> None: ...

class PublicKey(_message.Message):
    __slots__ = ("key_id", "node", "public_key", "valid_from_ms", "valid_until_ms", "revoked", "notary")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_MS_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_MS_FIELD_NUMBER: _ClassVar[int]
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    NOTARY_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    node: str
    public_key: bytes
    valid_from_ms: int
    valid_until_ms: int
    revoked: bool
    notary: str
    def __init__(self, key_id: _Optional[str] = ..., node: _Optional[str] = ..., public_key: _Optional[bytes] = ..., valid_from_ms: _Optional[int] = ..., valid_until_ms: _Optional[int] = ..., revoked: _Optional[bool] = ..., notary: _Optional[str] = ...) -> None: ...

class NodeEntry(_message.Message):
    __slots__ = ("region", "level", "name", "parent", "address", "keys", "seal_keys")
    REGION_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    SEAL_KEYS_FIELD_NUMBER: _ClassVar[int]
    region: str
    level: NodeLevel
    name: str
    parent: str
    address: str
    keys: _containers.RepeatedCompositeFieldContainer[PublicKey]
    seal_keys: _containers.RepeatedCompositeFieldContainer[PublicKey]
    def __init__(self, region: _Optional[str] = ..., level: _Optional[_Union[NodeLevel, str]] = ..., name: _Optional[str] = ..., parent: _Optional[str] = ..., address: _Optional[str] = ..., keys: _Optional[_Iterable[_Union[PublicKey, _Mapping]]] = ..., seal_keys: _Optional[_Iterable[_Union[PublicKey, _Mapping]]] = ...) -> None: ...

class NodeDirectory(_message.Message):
    __slots__ = ("serial", "issuer_node", "issued_at_ms", "valid_until_ms", "nodes")
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    ISSUER_NODE_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_MS_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    serial: int
    issuer_node: str
    issued_at_ms: int
    valid_until_ms: int
    nodes: _containers.RepeatedCompositeFieldContainer[NodeEntry]
    def __init__(self, serial: _Optional[int] = ..., issuer_node: _Optional[str] = ..., issued_at_ms: _Optional[int] = ..., valid_until_ms: _Optional[int] = ..., nodes: _Optional[_Iterable[_Union[NodeEntry, _Mapping]]] = ...) -> None: ...

class KeyAnnouncement(_message.Message):
    __slots__ = ("key", "previous_key_id", "notary", "announced_at_ms")
    KEY_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    NOTARY_FIELD_NUMBER: _ClassVar[int]
    ANNOUNCED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    key: PublicKey
    previous_key_id: str
    notary: str
    announced_at_ms: int
    def __init__(self, key: _Optional[_Union[PublicKey, _Mapping]] = ..., previous_key_id: _Optional[str] = ..., notary: _Optional[str] = ..., announced_at_ms: _Optional[int] = ...) -> None: ...
