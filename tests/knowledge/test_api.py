"""Knowledge REST API: the workflow through HTTP, errors in Chinese (never 5xx), suggestions,
article attachments readable only with the article."""

from __future__ import annotations

import io
from typing import Any

from tests.files.conftest import pdf_bytes

ARTICLE = {
    "title": "公交卡退卡流程",
    "body": "持卡人携带身份证到客服网点办理退卡。",
    "keywords": "公交卡,退卡",
}


def test_workflow_over_http(client: Any, token_for: Any) -> None:
    author, reviewer, agent = token_for("knowledge_editor"), token_for("knowledge_editor"), token_for("agent")
    created = client.post("/api/v1/knowledge/articles", json=ARTICLE, headers=author)
    assert created.status_code == 201, created.get_json()
    aid = created.get_json()["id"]
    assert client.get(f"/api/v1/knowledge/articles/{aid}", headers=agent).status_code == 404
    pdf = {"owner_kind": "article", "owner_id": str(aid), "file": (io.BytesIO(pdf_bytes()), "退卡须知.pdf")}
    up = client.post("/api/v1/files", data=pdf, headers=author, content_type="multipart/form-data")
    assert up.status_code == 201
    assert client.get(up.get_json()["url"], headers=agent).status_code == 403, "draft's attachment hidden"
    assert client.post(f"/api/v1/knowledge/articles/{aid}/actions/submit", headers=author).status_code == 200
    assert client.post(f"/api/v1/knowledge/articles/{aid}/actions/approve", headers=author).status_code == 403
    back = client.post(f"/api/v1/knowledge/articles/{aid}/actions/return", json={}, headers=reviewer)
    assert back.status_code == 422 and "审核意见" in back.get_json()["message"]
    assert client.put(f"/api/v1/knowledge/articles/{aid}", json=ARTICLE, headers=author).status_code == 409
    client.post(
        f"/api/v1/knowledge/articles/{aid}/actions/return", json={"comment": "补充网点"}, headers=reviewer
    )
    saved = client.put(
        f"/api/v1/knowledge/articles/{aid}",
        json={**ARTICLE, "body": ARTICLE["body"] + "网点见附件。"},
        headers=author,
    )
    assert saved.status_code == 200 and saved.get_json()["number"] == 2
    client.post(f"/api/v1/knowledge/articles/{aid}/actions/submit", headers=author)
    ok = client.post(
        f"/api/v1/knowledge/articles/{aid}/actions/approve", json={"comment": "同意"}, headers=reviewer
    )
    assert ok.status_code == 200 and ok.get_json()["state"] == "published"
    got = client.get(up.get_json()["url"], headers=agent)
    assert got.status_code == 200
    got.close()
    diff = client.get(f"/api/v1/knowledge/articles/{aid}/diff?from=1&to=2", headers=agent).get_json()
    assert ["+", "持卡人携带身份证到客服网点办理退卡。网点见附件。"] in diff["lines"]
    found = client.get("/api/v1/knowledge/articles?q=退卡", headers=agent).get_json()
    assert found["total"] == 1 and "<mark>退卡</mark>" in found["items"][0]["title_html"]
    sug = client.get("/api/v1/knowledge/suggest?q=我想退公交卡", headers=agent).get_json()
    assert sug and sug[0]["id"] == aid
    fb = client.post(f"/api/v1/knowledge/articles/{aid}/feedback", json={"kind": "use"}, headers=agent)
    assert fb.get_json()["use_count"] == 1
    assert client.get("/api/v1/knowledge/export", headers=agent).status_code == 403
    assert client.get("/api/v1/knowledge/export", headers=author).status_code == 200


def test_bad_input_is_a_clear_4xx(client: Any, token_for: Any) -> None:
    editor = token_for("knowledge_editor")
    cases = [
        ("post", "/api/v1/knowledge/articles", {"title": "x"}),
        ("post", "/api/v1/knowledge/articles", {**ARTICLE, "effective_date": "2026-02-30"}),
        ("post", "/api/v1/knowledge/articles", {**ARTICLE, "title": "a\x00b"}),
        ("post", "/api/v1/knowledge/articles/1/actions/fly", {}),
        ("post", "/api/v1/knowledge/articles/999999999/actions/submit", {}),
        ("get", "/api/v1/knowledge/articles?page=99999999999", None),
        ("get", "/api/v1/knowledge/articles?validity=x", None),
        ("get", "/api/v1/knowledge/suggest?region=abc&q=x", None),
        ("get", "/api/v1/knowledge/articles/1/diff?from=0", None),
        ("post", "/api/v1/knowledge/synonyms", {"words": "单个"}),
        ("post", "/api/v1/knowledge/from-order/123", None),
        ("post", "/api/v1/knowledge/articles/1/feedback", {"kind": "x"}),
    ]
    for method, path, body in cases:
        resp = getattr(client, method)(path, json=body, headers=editor)
        assert 400 <= resp.status_code < 500, (path, resp.status_code)
        assert resp.get_json()["message"], path
    assert client.get("/api/v1/knowledge/articles").status_code == 401
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/knowledge/articles" in spec["paths"] and "/api/v1/files" in spec["paths"]
