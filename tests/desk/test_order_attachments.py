"""#17 item 7 on both databases: citizens' photos from the portal, documents with a unit's reply,
files of a callback — checked by their bytes, served only as downloads, shown to the roles that
may see the order."""

from __future__ import annotations

import io

from flask.testing import FlaskClient

from node.files.models import StoredFile
from node.workflow.models import WorkOrder
from tests import factories
from tests.files.conftest import pdf_bytes, png_bytes
from tests.web.conftest import csrf_of
from tests.web.test_portal import SUBMISSION, receipt_of


def _portal_submit(client: FlaskClient, files: list[tuple[bytes, str]]):
    token = csrf_of(client.get("/public/submit?type=1").get_data(as_text=True))
    data = {**SUBMISSION, "csrf_token": token, "files": [(io.BytesIO(b), n) for b, n in files]}
    return client.post("/public/submit", data=data, content_type="multipart/form-data")


def test_portal_photos_reply_documents_and_callback_files(client: FlaskClient, db: str, web_login) -> None:
    before = WorkOrder.select().count()
    bad = _portal_submit(client, [(b"<html><script>alert(1)</script></html>", "photo.png")])
    assert bad.status_code == 422 and WorkOrder.select().count() == before
    pdf_as_photo = _portal_submit(client, [(pdf_bytes(), "scan.pdf")])
    assert pdf_as_photo.status_code == 422  # photos only
    number, _ = receipt_of(client, _portal_submit(client, [(png_bytes(), "现场.png")]))
    photo = StoredFile.get(StoredFile.owner_kind == "photo", StoredFile.owner_id == number)
    assert photo.mime == "image/png" and photo.filename == "现场.png"

    unit = factories.make_unit()
    order = WorkOrder.get(WorkOrder.number == number)
    staff = factories.actor("unit_staff", unit)
    order = factories.walk(
        order,
        "handling",
        lambda role: staff if role == "unit" else factories.actor(role),
        unit.code,
        factories.PATH_BODIES,
    )
    _, csrf = web_login("unit_staff", unit)
    page = client.get(f"/orders/{number}").get_data(as_text=True)
    assert 'id="attachments"' in page and "现场.png" in page and 'enctype="multipart/form-data"' in page
    download = client.get(f"/api/v1/files/{photo.id}/content")
    assert download.status_code == 200 and download.data == png_bytes()
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    download.close()
    reply = {**factories.PATH_BODIES["reply"], "csrf_token": csrf}
    refused = client.post(
        f"/orders/{number}/act/reply",
        data={**reply, "files": [(io.BytesIO(b"MZ\x90\x00executable"), "结果.pdf")]},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422 and WorkOrder.get(WorkOrder.number == number).state == "handling"
    ok = client.post(
        f"/orders/{number}/act/reply",
        data={**reply, "files": [(io.BytesIO(pdf_bytes()), "处理结果.pdf")]},
        content_type="multipart/form-data",
    )
    assert ok.status_code == 302 and WorkOrder.get(WorkOrder.number == number).state == "replied"
    doc = StoredFile.get(StoredFile.owner_kind == "reply", StoredFile.owner_id == number)
    assert doc.mime == "application/pdf"

    other_unit = factories.make_unit()
    web_login("unit_staff", other_unit)
    foreign = client.get(f"/api/v1/files/{doc.id}/content")
    assert foreign.status_code in (403, 404)
    foreign.close()

    _, csrf = web_login("reviewer")
    for action in ("accept_reply", "close"):
        resp = client.post(f"/orders/{number}/act/{action}", data={"csrf_token": csrf})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    cb = client.post(
        f"/orders/{number}/act/callback",
        data={
            "csrf_token": csrf,
            "method": "phone",
            "reached": "true",
            "result_satisfaction": "1",
            "service_satisfaction": "1",
            "note": "来电人满意",
            "files": [(io.BytesIO(png_bytes()), "回访截图.png")],
        },
        content_type="multipart/form-data",
    )
    assert cb.status_code == 302, cb.get_data(as_text=True)[:500]
    page = client.get(f"/orders/{number}").get_data(as_text=True)
    for name in ("现场.png", "处理结果.pdf", "回访截图.png"):
        assert name in page
    assert "群众照片" in page and "回复材料" in page and "回访材料" in page
