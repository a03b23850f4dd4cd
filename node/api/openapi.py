"""The OpenAPI 3.1 document, built from the registered routes and their pydantic bodies."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Flask, jsonify, render_template_string

from node import __version__
from node.api.routing import ROUTES
from node.workflow.schemas import ACTION_BODIES

bp = Blueprint("openapi", __name__)

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {}},
    "required": ["code", "message"],
}


_DAY = {
    "type": "string",
    "format": "date",
    "pattern": r"^(19[7-9][0-9]|20[0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])$",
    "description": "YYYY-MM-DD，1970-2099 年",
}
_MOMENT = {  # local time, no offset
    "type": "string",
    "pattern": r"^(19[7-9][0-9]|20[0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$",
}
# The type of each query parameter by its name (the server parses them with node.validation and
# node.api.routing.arg_int; the document says the same).
QUERY_SCHEMAS: dict[str, dict[str, Any]] = {
    "page": {"type": "integer", "minimum": 1, "maximum": 100000},
    "page_size": {"type": "integer", "minimum": 1, "maximum": 200},
    "limit": {"type": "integer", "minimum": 1, "maximum": 500},
    "periods": {"type": "integer", "minimum": 1, "maximum": 12},
    "from": _DAY,
    "to": _DAY,
    "start": _DAY,
    "end": _DAY,
    "date": _DAY,
    "accepted_from": _MOMENT,
    "accepted_to": _MOMENT,
    "overdue": {"type": "boolean"},
    "enabled": {"type": "string", "enum": ["0", "1"]},
    "withdrawn": {"type": "string", "enum": ["0", "1"]},
    "category": {"type": "string", "enum": ["open", "pending", "closed"]},
    "kind": {"type": "string", "enum": ["type", "category"]},
    "phone": {"type": "string", "pattern": r"^(1[0-9]{10}|0[0-9]{9,11}|[2-9][0-9]{6,7})$"},
}
# Path parameters whose type the URL rule does not tell (<int:…> is an integer already).
PATH_SCHEMAS: dict[str, dict[str, Any]] = {
    "number": {"type": "string", "pattern": r"^[0-9]{21}$"},
    "day": _DAY,
}


_S = {"type": "string"}
_S0 = {"type": ["string", "null"]}
# times are local (Beijing) without an offset, so no RFC 3339 "date-time" format
_T0 = {"type": ["string", "null"], "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$"}
_I = {"type": "integer"}


def _obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": {**required, **(optional or {})}, "required": list(required)}


ORDER_SUMMARY = _obj(
    {
        "number": {"type": "string", "pattern": r"^[0-9]{21}$"},
        "title": _S,
        "state": {"type": "string"},
        "state_label": _S,
        "category": {"type": "string", "enum": ["open", "pending", "closed"]},
        "business_type": {"type": "string", "enum": ["1", "2", "3"]},
        "business_type_name": _S,
        "domain": _S,
        "region_code": {"type": "string", "pattern": r"^[0-9]{6}$"},
        "channel": _S,
        "priority": {"type": "string", "enum": ["normal", "urgent"]},
        "accepted_at": _T0,
        "due_at": _T0,
        "deadline_state": _S,
        "caller_phone_masked": _S,
    }
)
ORDER_DETAIL = {
    **ORDER_SUMMARY,
    "properties": {
        **ORDER_SUMMARY["properties"],
        "content": _S,
        "caller_name": _S,
        "caller_phone": _S,
        "confidential": {"type": "boolean"},
        "anonymous": {"type": "boolean"},
        "assignments": {
            "type": "array",
            "items": _obj({"unit": _S, "role": {"enum": ["lead", "assist"]}, "active": {"type": "boolean"}}),
        },
        "actions": {
            "type": "array",
            "items": _obj({"action": _S, "label": _S, "needs_reason": {"type": "boolean"}}),
        },
        "version": _I,
    },
    "required": [
        *ORDER_SUMMARY["required"],
        "content",
        "caller_name",
        "confidential",
        "assignments",
        "actions",
        "version",
    ],
}


def _page(item: dict[str, Any]) -> dict[str, Any]:
    return _obj(
        {
            "items": {"type": "array", "items": item},
            "total": {"type": "integer", "minimum": 0},
            "page": {"type": "integer", "minimum": 1},
            "page_size": {"type": "integer", "minimum": 1},
        }
    )


CONTACT = _obj(
    {
        "id": _I,
        "channel": _S,
        "started_at": _T0,
        "ended_at": _T0,
        "caller_phone_masked": _S,
        "outcome": _S,
        "outcome_name": _S,
        "order_number": _S0,
    }
)
EVENT = _obj({"at": _T0, "actor": _S, "action": _S, "action_label": _S, "from_state": _S0, "to_state": _S0})
ERROR_REF = {"$ref": "#/components/schemas/Error"}
# The answers of the main endpoints, checked by the Schemathesis run in the test suite.
RESPONSES: dict[tuple[str, str], dict[str, Any]] = {
    ("/api/v1/orders", "get"): _page(ORDER_SUMMARY),
    ("/api/v1/orders", "post"): ORDER_DETAIL,
    ("/api/v1/orders/{number}", "get"): ORDER_DETAIL,
    ("/api/v1/orders/{number}", "patch"): ORDER_DETAIL,
    ("/api/v1/orders/{number}/actions/{action}", "post"): ORDER_DETAIL,
    ("/api/v1/orders/{number}/history", "get"): {"type": "array", "items": EVENT},
    ("/api/v1/contacts", "get"): _page(CONTACT),
    ("/api/v1/contacts", "post"): CONTACT,
    ("/api/v1/contacts/{contact_id}", "get"): CONTACT,
    ("/api/v1/callers/{phone}/history", "get"): _obj(
        {"orders": {"type": "array", "items": ORDER_SUMMARY}, "contacts": {"type": "array", "items": CONTACT}}
    ),
    ("/api/v1/me", "get"): _obj(
        {
            "username": _S,
            "display_name": _S,
            "roles": {"type": "array", "items": _S},
            "permissions": {"type": "array", "items": _S},
        }
    ),
    ("/api/v1/auth/token", "post"): _obj({"token": _S, "token_type": {"const": "Bearer"}}),
    ("/api/v1/auth/logout", "post"): _obj({"ok": {"const": True}}),
    ("/api/v1/regions", "get"): {
        "type": "array",
        "items": _obj({"code": {"type": "string", "pattern": r"^[0-9]{6}$"}, "name": _S, "level": _I}),
    },
}


_MEDIA_TYPES = {
    ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xml": "application/xml",
}


def _media_type(path: str) -> str:
    """What a successful answer is, by the address's suffix (exports), JSON otherwise."""
    for suffix, media in _MEDIA_TYPES.items():
        if path.endswith(suffix):
            return media
    return "application/json"


def _query_schema(path: str, name: str) -> dict[str, Any]:
    if name == "queue" and path == "/api/v1/orders":
        from node.workflow.service import QUEUES

        return {"type": "string", "enum": list(QUEUES)}
    return dict(QUERY_SCHEMAS.get(name, {"type": "string", "maxLength": 100}))


def build_spec() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}

    def ref(model: type) -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")  # type: ignore[attr-defined]
        for name, sub in schema.pop("$defs", {}).items():
            schemas[name] = sub
        schemas[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    for r in ROUTES:
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r.path)
        ints = set(re.findall(r"<int:(\w+)>", r.path))
        params = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
                if name in ints
                else dict(PATH_SCHEMAS.get(name, {"type": "string", "maxLength": 100})),
            }
            for name in re.findall(r"{(\w+)}", path)
        ]
        params += [
            {
                "name": k,
                "in": "query",
                "required": "必填" in v,
                "description": v,
                "schema": _query_schema(path, k),
            }
            for k, v in r.query.items()
        ]
        ok: dict[str, Any] = {}
        if (path, r.method) in RESPONSES:
            ok = {"schema": RESPONSES[(path, r.method)]}
        op: dict[str, Any] = {
            "summary": r.summary,
            "tags": [r.tag],
            "parameters": params,
            "responses": {
                str(r.status): {"description": "成功"}
                if r.status == 204
                else {"description": "成功", "content": {_media_type(path): ok}},
                "4XX": {
                    "description": "请求有误",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            },
        }
        if r.body is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(r.body)}}}
        if path.endswith("/actions/{action}"):
            op["requestBody"] = {
                "required": False,
                "content": {
                    "application/json": {"schema": {"oneOf": [ref(m) for m in set(ACTION_BODIES.values())]}}
                },
            }
            op["description"] = "action 取值及请求体：" + "；".join(
                f"{a}→{m.__name__}" for a, m in ACTION_BODIES.items()
            )
        if not r.auth:
            op["security"] = []
        paths.setdefault(path, {})[r.method] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "12328 交通运输服务监督热线节点 API", "version": __version__},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


@bp.get("/api/v1/openapi.json")
def openapi_json() -> Any:
    return jsonify(build_spec())


DOCS = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>接口文档 - 12328</title>
<style>body{font-family:"WenQuanYi Micro Hei",sans-serif;margin:2em;max-width:1100px}code{background:#f4f4f4;padding:1px 4px}
h2{border-bottom:1px solid #ccc}td{padding:3px 8px;vertical-align:top}.m{font-weight:bold;text-transform:uppercase}</style>
</head><body><h1>{{ spec.info.title }}</h1><p>版本 {{ spec.info.version }}。机器调用使用 <code>Authorization: Bearer 令牌</code>；
完整定义见 <a href="/api/v1/openapi.json">openapi.json</a>。</p>
{% for tag, ops in groups.items() %}<h2>{{ tag }}</h2><table>{% for path, method, op in ops %}
<tr><td class="m">{{ method }}</td><td><code>{{ path }}</code></td><td>{{ op.summary }}</td></tr>{% endfor %}</table>{% endfor %}
</body></html>"""


@bp.get("/api/docs")
def docs() -> Any:
    spec = build_spec()
    groups: dict[str, list[tuple[str, str, Any]]] = {}
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            groups.setdefault(op["tags"][0], []).append((path, method, op))
    return render_template_string(DOCS, spec=spec, groups=groups)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
