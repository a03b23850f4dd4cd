"""Administration of the IVR (语音导航): menus edited on a screen, prompts recorded by an operator
(uploaded WAV, converted to 8 kHz mono) or synthesised with espeak-ng. Every change is validated
(the whole menu tree must stay playable), audited, and bumps the "ivr" counter; the engines read
the counter and swap the menus in for new calls within seconds (no restart)."""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path
from typing import Any

from node.audit import service as audit
from node.auth.service import Actor
from node.config import service as config
from node.db import write_tx
from node.errors import NotFound, ValidationError
from node.telephony import config as tconfig
from node.telephony import ivr, service
from node.telephony.models import IvrMenu
from node.telephony.prompts import Prompt, PromptLibrary

MAX_UPLOAD = 5 * 1024 * 1024
MAX_SECONDS = 120


def library(settings: Any) -> PromptLibrary:
    return PromptLibrary(tconfig.load(settings).prompts_dir)


def menu(key: str) -> ivr.MenuSpec:
    menus = service.load_menus()
    if key not in menus:
        raise NotFound(f"菜单不存在：{key}")
    return menus[key]


def options_from_rows(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    """Screen rows (key, action, label, param) → the menu's options; `param` is the business type
    of a queue, the target of a sub-menu, or the text a `say` speaks."""
    out: dict[str, dict[str, str]] = {}
    for r in rows:
        action = (r.get("action") or "").strip()
        if not action:
            continue
        opt = {"action": action, "label": (r.get("label") or "").strip()[:30]}
        param = (r.get("param") or "").strip()
        if action == "queue":
            opt["business"] = param
        elif action == "menu":
            opt["target"] = param
        elif action == "say":
            opt["text"] = param[:300]
        out[str(r.get("key", ""))] = opt
    return out


def save(actor: Actor, key: str, values: dict[str, Any]) -> IvrMenu:
    """Create or change one menu (validated as part of the whole tree), audited."""
    before = {m.key: m for m in service.load_menus().values()}.get(key)
    row = service.save_menu(actor, key, values)
    with write_tx():
        config.bump("ivr")
        audit.record(
            actor,
            "config.changed",
            target=f"ivr:{key}",
            details={"title": row.title, "created": before is None, "options": sorted(row.options)},
        )
    return row


def store_recording(actor: Actor, settings: Any, key: str, data: bytes) -> Path:
    """An operator's recording for a menu's prompt: any PCM WAV up to 5 MB / 2 minutes, converted to
    8 kHz mono 16-bit into prompts/custom/, where it takes precedence over synthesis."""
    actor.require("node.manage")
    spec = menu(key)
    if not data:
        raise ValidationError("请选择录音文件", details={"file": "空文件"})
    if len(data) > MAX_UPLOAD:
        raise ValidationError("录音文件不能超过 5 MB", details={"file": "过大"})
    try:
        with wave.open(io.BytesIO(data)) as w:
            seconds = w.getnframes() / float(w.getframerate() or 1)
    except (wave.Error, EOFError):
        raise ValidationError("录音须为 WAV 格式（PCM）", details={"file": "格式不符"}) from None
    if not 0.3 <= seconds <= MAX_SECONDS:
        raise ValidationError(f"录音时长应在 0.3-{MAX_SECONDS} 秒之间", details={"file": "时长不符"})
    sox = shutil.which("sox")
    if sox is None:
        raise ValidationError("缺少 sox（apt-get install sox）")
    lib = library(settings)
    name = spec.prompt_file or f"menu_{key}"
    dest = lib.custom / f"{name}.wav"
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(suffix=".wav", dir=dest.parent, delete=False) as tmp:
        tmp.write(data)
        src = Path(tmp.name)
    out = dest.with_suffix(".tmp.wav")
    try:
        done = subprocess.run(
            [sox, "-q", str(src), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", str(out)],
            capture_output=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise ValidationError("录音转换失败：" + done.stderr.decode(errors="replace")[:200])
        out.replace(dest)
    finally:
        src.unlink(missing_ok=True)
        out.unlink(missing_ok=True)
    if not spec.prompt_file:
        save(actor, key, {"prompt_file": name})
    else:
        with write_tx():
            config.bump("ivr")
    audit.record(
        actor,
        "config.changed",
        target=f"ivr:{key}",
        details={"recording": dest.name, "seconds": round(seconds, 1)},
    )
    return dest


def _recording(settings: Any, spec: ivr.MenuSpec) -> Path:
    return library(settings).custom / f"{spec.prompt_file or 'menu_' + spec.key}.wav"


def remove_recording(actor: Actor, settings: Any, key: str) -> None:
    actor.require("node.manage")
    path = _recording(settings, menu(key))
    if path.exists():
        path.unlink()
        with write_tx():
            config.bump("ivr")
        audit.record(actor, "config.changed", target=f"ivr:{key}", details={"recording": "removed"})


def audio(settings: Any, key: str) -> Path:
    """The file callers hear for the menu's prompt (the recording, else synthesised now)."""
    spec = menu(key)
    return library(settings).ensure(Prompt(spec.prompt_file or f"menu_{key}", spec.prompt))


def has_recording(settings: Any, spec: ivr.MenuSpec) -> bool:
    return _recording(settings, spec).exists()
