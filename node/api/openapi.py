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
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", path)
        ]
        params += [
            {"name": k, "in": "query", "required": False, "description": v, "schema": {"type": "string"}}
            for k, v in r.query.items()
        ]
        op: dict[str, Any] = {
            "summary": r.summary,
            "tags": [r.tag],
            "parameters": params,
            "responses": {
                str(r.status): {"description": "成功", "content": {"application/json": {}}},
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
