"""IVR administration screen: menus validated as a tree, recordings uploaded and converted, audited."""

from __future__ import annotations

import io
import wave

from node.audit.models import AuditEntry
from node.telephony import service
from tests.web.conftest import HTML


def _wav(seconds: float = 1.0, rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x01" * 2 * int(rate * seconds))
    return buf.getvalue()


def test_ivr_menus_screen_edit_and_recording(client, web_login, settings):
    _, csrf = web_login("admin")
    page = client.get("/admin/ivr", headers=HTML).get_data(as_text=True)
    assert "主菜单" in page and "语音合成" in page
    form = {
        "csrf_token": csrf,
        "op": "save",
        "title": "出租汽车",
        "prompt": "出租汽车投诉请按1，返回请按9。",
        "timeout_s": "8",
        "max_retries": "2",
        "action_0": "queue",
        "label_0": "出租投诉",
        "param_0": "1",
        "action_8": "back",
        "label_8": "返回",
    }
    assert client.post("/admin/ivr/taxi", data=form).status_code == 302
    assert service.load_menus()["taxi"].options["1"] == {
        "action": "queue",
        "business": "1",
        "label": "出租投诉",
    }
    bad = {**form, "action_0": "menu", "param_0": "nowhere"}
    resp = client.post("/admin/ivr/taxi", data=bad, headers=HTML)
    assert resp.status_code == 422 and "子菜单不存在" in resp.get_data(as_text=True)
    resp = client.post(
        "/admin/ivr/taxi",
        data={"csrf_token": csrf, "op": "upload", "recording": (io.BytesIO(b"not a wav"), "a.wav")},
        content_type="multipart/form-data",
        headers=HTML,
    )
    assert resp.status_code == 422 and "WAV" in resp.get_data(as_text=True)
    resp = client.post(
        "/admin/ivr/taxi",
        data={"csrf_token": csrf, "op": "upload", "recording": (io.BytesIO(_wav()), "a.wav")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302
    audio = client.get("/admin/ivr/taxi/audio.wav")
    assert audio.status_code == 200 and audio.mimetype == "audio/wav"
    data = audio.data
    audio.close()
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
    assert AuditEntry.select().where(AuditEntry.target == "ivr:taxi").count() >= 2


def test_ivr_screen_refused_to_others(client, web_login):
    _, csrf = web_login("supervisor")
    assert client.get("/admin/ivr", headers=HTML).status_code == 403
    assert client.post("/admin/ivr/main", data={"csrf_token": csrf, "op": "remove"}).status_code == 403
