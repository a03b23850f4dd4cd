"""Knowledge screens over the Flask client on both databases: write → submit → review by another
editor → published, search page, workstation panel, synonyms, import preview with rejected rows,
export, attachments through the article page, diff page; refusals for agents."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import openpyxl

from node.knowledge.models import Article
from tests.files.conftest import pdf_bytes
from tests.web.conftest import HTML, csrf_of, post_login

FORM = {
    "title": "网约车乘客遗失物品怎么办",
    "body": "<p>请联系网约车平台客服。</p><table><tr><td>平台</td><td>电话</td></tr></table>",
    "domain": "04",
    "sub_business": "0403",
    "keywords": "遗失物品，网约车",
}


def _write_and_publish(client: Any, web_login: Any) -> int:
    _, token = web_login("knowledge_editor")
    resp = client.post("/knowledge/new", data={**FORM, "csrf_token": token}, headers=HTML)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    article = Article.select().order_by(Article.id.desc()).first()
    edit = client.get(f"/knowledge/{article.id}/edit").get_data(as_text=True)
    assert "自动归类建议" in edit and "疑似重复" in edit
    resp = client.post(
        f"/knowledge/{article.id}/edit", data={**FORM, "then": "submit", "csrf_token": token}, headers=HTML
    )
    assert resp.status_code == 302
    page = client.get(f"/knowledge/{article.id}").get_data(as_text=True)
    assert "待审核" in page and "须由其他审核人审核" in page
    _, token2 = web_login("knowledge_editor")  # signs the client in as the reviewer
    queue = client.get("/knowledge/review").get_data(as_text=True)
    assert FORM["title"] in queue
    client.post(f"/knowledge/{article.id}/action", data={"action": "approve", "csrf_token": token2})
    assert Article.get_by_id(article.id).state == "published"
    return article.id


def test_editor_writes_reviewer_publishes_agent_finds(client: Any, web_login: Any) -> None:
    aid = _write_and_publish(client, web_login)
    page = client.get(f"/knowledge/{aid}").get_data(as_text=True)
    assert "<table>" in page and "版本历史" in page
    _, token = web_login("agent")
    found = client.get("/knowledge/?q=遗失物品").get_data(as_text=True)
    assert "<mark>遗失物品</mark>" in found and "版本历史" not in found
    panel = client.post(
        "/knowledge/suggest", data={"content": "乘客在网约车上遗失物品", "csrf_token": token}
    ).get_data(as_text=True)
    assert FORM["title"] in panel and "data-kb-insert" in panel and "Alt+K" in panel
    ws = client.get("/workstation").get_data(as_text=True)
    assert 'id="kb-panel"' in ws and "js/knowledge.js" in ws
    assert client.get("/knowledge/new").status_code == 403
    assert client.get("/knowledge/review").status_code == 403
    assert (
        client.post(f"/knowledge/{aid}/action", data={"action": "helpful", "csrf_token": token}).status_code
        == 302
    )
    assert Article.get_by_id(aid).helpful == 1
    assert "知识库" in client.get("/workstation").get_data(as_text=True)  # nav entry


def test_editor_screens(client: Any, web_login: Any) -> None:
    aid = _write_and_publish(client, web_login)
    _, token = web_login("knowledge_editor")
    client.post(f"/knowledge/{aid}/action", data={"action": "revise", "csrf_token": token})
    client.post(
        f"/knowledge/{aid}/edit", data={**FORM, "title": "网约车遗失物品（修订）", "csrf_token": token}
    )
    diff = client.get(f"/knowledge/{aid}/diff").get_data(as_text=True)
    assert "网约车遗失物品（修订）" in diff and "<ins>" in diff
    bad = client.post("/knowledge/new", data={**FORM, "title": "", "csrf_token": token}, headers=HTML)
    assert bad.status_code == 422 and "title" in bad.get_data(as_text=True)
    up = client.post(
        f"/knowledge/{aid}/attachments",
        data={"file": (io.BytesIO(pdf_bytes()), "出行指南.pdf"), "csrf_token": token},
        content_type="multipart/form-data",
    )
    assert up.status_code == 302
    page = client.get(f"/knowledge/{aid}").get_data(as_text=True)
    assert "出行指南.pdf" in page
    assert (
        client.post(
            "/knowledge/synonyms", data={"words": "网约车，网络预约出租汽车", "csrf_token": token}
        ).status_code
        == 302
    )
    assert "网络预约出租汽车" in client.get("/knowledge/synonyms").get_data(as_text=True)
    for path in ("/knowledge/expiring", "/knowledge/import", "/knowledge/?validity=all&state=draft"):
        assert client.get(path).status_code == 200, path
    export = client.get("/knowledge/export")
    assert export.status_code == 200 and "attachment" in export.headers["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(export.data)).worksheets[0]
    assert sheet.cell(1, 2).value == "标题" and sheet.max_row >= 2


def test_import_preview_rejects_bad_rows(client: Any, web_login: Any) -> None:
    _, token = web_login("knowledge_editor")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["问题", "答案", "业务领域", "失效日期"])
    ws.append(["出租车拒载怎么投诉", "拨打12328或向交通运输主管部门投诉。", "04", "2030-01-01"])
    ws.append(["", "没有问题的答案", "", ""])
    ws.append(["领域错误", "答案", "99", ""])
    buf = io.BytesIO()
    wb.save(buf)
    resp = client.post(
        "/knowledge/import",
        data={"file": (io.BytesIO(buf.getvalue()), "faq.xlsx"), "csrf_token": token},
        content_type="multipart/form-data",
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "可导入 1 条，拒绝 2 条" in html and "业务领域" in html
    token_field = html.split('name="token" value="')[1].split('"')[0]
    before = Article.select().count()
    client.post("/knowledge/import", data={"token": token_field, "csrf_token": token})
    assert Article.select().count() == before + 1
    junk = client.post(
        "/knowledge/import",
        data={"file": (io.BytesIO(b"not a workbook"), "faq.xlsx"), "csrf_token": token},
        content_type="multipart/form-data",
    )
    assert junk.status_code == 422 and "仅支持" in junk.get_data(as_text=True)


def word_faq() -> bytes:
    """A Word FAQ as editors write them: a question | answer table, 问：/答： paragraphs and a
    heading-style question, with one bad entry of each kind."""
    import docx

    document = docx.Document()
    table = document.add_table(rows=0, cols=2)
    for question, answer in (
        ("问题", "答案"),
        ("公交卡丢了怎么挂失", "携带身份证到公交服务网点办理挂失。"),
        ("表格里没有答案的问题", ""),
    ):
        cells = table.add_row().cells
        cells[0].text, cells[1].text = question, answer
    document.add_paragraph("问：网约车多收费怎么办")
    document.add_paragraph("答：保留行程单，拨打12328投诉。")
    document.add_heading("出租车拒载如何投诉", level=2)
    document.add_paragraph("记下车牌号和时间，拨打12328。")
    document.add_paragraph("问：" + "很长的问题" * 60)
    document.add_paragraph("答：标题超长的一条。")
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def test_word_import_preview_reports_rejected_entries(client: Any, web_login: Any) -> None:
    _, token = web_login("knowledge_editor")
    resp = client.post(
        "/knowledge/import",
        data={"file": (io.BytesIO(word_faq()), "常见问题.docx"), "csrf_token": token},
        content_type="multipart/form-data",
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "可导入 3 条，拒绝 2 条" in html, html
    rejected = html.split('id="kb-rejected"')[1]
    assert "表格里没有答案的问题" in rejected and "很长的问题" in rejected
    assert rejected.count('class="err"') == 2
    token_field = html.split('name="token" value="')[1].split('"')[0]
    before = {a.id for a in Article.select(Article.id)}
    client.post("/knowledge/import", data={"token": token_field, "csrf_token": token})
    from node.knowledge import service

    created = {service.version(a).title: a for a in Article.select().where(Article.id.not_in(before or {0}))}
    assert set(created) == {"公交卡丢了怎么挂失", "网约车多收费怎么办", "出租车拒载如何投诉"}
    assert all(a.state == "draft" for a in created.values()), "imported entries go through review"
    body = service.version(created["网约车多收费怎么办"]).body_text
    assert "保留行程单" in body and "答：" not in body
    again = client.post("/knowledge/import", data={"token": token_field, "csrf_token": token})
    assert again.status_code in (404, 422) and "失效" in again.get_data(as_text=True)
    broken = io.BytesIO()
    with zipfile.ZipFile(broken, "w") as z:
        z.writestr("hello.txt", "not a document")
    resp = client.post(
        "/knowledge/import",
        data={"file": (io.BytesIO(broken.getvalue()), "faq.docx"), "csrf_token": token},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422 and "无法读取 Word 文件" in resp.get_data(as_text=True)


def test_screens_need_sign_in_and_csrf(client: Any, web_login: Any) -> None:
    assert client.get("/knowledge/", headers=HTML).status_code in (302, 401)
    web_login("knowledge_editor")
    assert client.post("/knowledge/new", data=FORM).status_code == 403


def test_login_helper_is_shared(client: Any, db: str) -> None:
    assert csrf_of(client.get("/login").get_data(as_text=True))
    assert post_login(client, "nobody").status_code in (200, 401, 422)
