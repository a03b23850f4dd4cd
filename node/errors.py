"""The one domain error tree.

    DomainError                 (400) anything the caller did that the domain refuses
    ├── ValidationError         (422) input is malformed or out of range; carries field errors
    ├── AuthenticationRequired  (401) no valid session or token
    ├── PermissionDenied        (403) the actor's roles do not allow this
    ├── NotFound                (404) no such object visible to this actor
    ├── Conflict                (409) state changed underneath, duplicates, uniqueness
    │   └── InvalidTransition   (409) the order's state does not allow the action
    └── RateLimited             (429) too many attempts

Services raise these; `node.api.errors` maps them once to HTTP and `federation` once to gRPC
status codes. Messages are Chinese because users read them.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "bad_request"
    default_message = "请求无法处理"

    def __init__(self, message: str | None = None, *, details: Any = None, code: str | None = None):
        self.message = message or self.default_message
        self.details = details
        if code:
            self.code = code
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


class ValidationError(DomainError):
    status = 422
    code = "invalid"
    default_message = "输入内容有误"


class AuthenticationRequired(DomainError):
    status = 401
    code = "unauthenticated"
    default_message = "请先登录"


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"
    default_message = "无权执行此操作"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    default_message = "对象不存在"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    default_message = "数据已被他人修改，请刷新后重试"


class InvalidTransition(Conflict):
    code = "invalid_transition"
    default_message = "当前状态不允许此操作"


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"
    default_message = "操作过于频繁，请稍后再试"
