"""IVR prompts: Chinese speech made with espeak-ng (voice cmn-latn-pinyin) and sox at 8 kHz,
cached by text, and replaceable by operator-recorded files in `<prompts>/custom/<name>.wav`."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

from node.errors import ValidationError

VOICE = "cmn-latn-pinyin"
DIGITS = "零幺二三四五六七八九"

# Fixed system prompts; menu prompts come from the editable IvrMenu rows.
SYSTEM_PROMPTS: dict[str, str] = {
    "invalid": "您的输入有误，请重新选择。",
    "too_many_errors": "您的输入有误次数较多，正在为您转接人工服务。",
    "queue": "正在为您转接人工服务，请稍候。",
    "callback_offer": "当前等候时间较长。如需我们稍后给您回电，请按1。",
    "callback_number": "请输入您的联系电话，以井号键结束。",
    "callback_thanks": "已记录您的回电号码，我们将尽快与您联系。感谢您的来电，再见。",
    "rating": "请您对本次服务进行评价。非常满意请按1，满意请按2，不满意请按3。",
    "rating_thanks": "感谢您的评价，再见。",
    "goodbye": "感谢您的来电，再见。",
    "order_number": "请输入工单编号，以井号键结束。",
    "query_code": "请输入查询码，以井号键结束。",
    "order_not_found": "没有查询到该工单，请核对工单编号和查询码。",
    "query_rating": "该工单已办结。请您对办理结果进行评价：非常满意请按1，满意请按2，不满意请按3。"
    "不评价请按0返回主菜单。",
    "query_rating_thanks": "感谢您的评价。",
    "click_connecting": "正在为您呼叫市民，请稍候。",
    "callback_greeting": "您好，这里是交通运输服务监督热线，您此前留言需要回电。"
    "需要人工服务请按1，无需回电请按2。",
    "lines_busy": "您好，交通运输服务监督热线当前线路全忙，请您稍后再拨。感谢您的来电，再见。",
}


def spell_digits(number: str) -> str:
    """'12306' → '幺二三零六' so espeak reads a phone number digit by digit."""
    return "".join(DIGITS[int(c)] if c.isdigit() else c for c in number)


def position_text(n: int) -> str:
    return f"您前面还有{n}位来电者在等候，请耐心等待。" if n > 0 else "您是下一位，请稍候。"


def state_text(label: str) -> str:
    return f"您查询的工单当前状态为：{label}。"


@dataclass(frozen=True)
class Prompt:
    """A prompt to play: `name` selects an operator-recorded override, `text` is spoken otherwise."""

    name: str
    text: str


class PromptLibrary:
    """Resolves prompts to 8 kHz mono 16-bit WAV files, generating missing ones."""

    def __init__(self, root: Path):
        self.root = root
        self.custom = root / "custom"
        self.tts = root / "tts"

    def path_for(self, prompt: Prompt) -> Path:
        if prompt.name:
            custom = self.custom / f"{prompt.name}.wav"
            if custom.exists():
                return custom
        digest = hashlib.sha1(f"{VOICE}\0{prompt.text}".encode()).hexdigest()[:20]
        return self.tts / f"{digest}.wav"

    def ensure(self, prompt: Prompt) -> Path:
        path = self.path_for(prompt)
        if not path.exists():
            synthesize(prompt.text, path)
        return path

    def hold_music(self) -> Path:
        custom = self.custom / "hold.wav"
        if custom.exists():
            return custom
        path = self.tts / "hold-music.wav"
        if not path.exists():
            make_hold_music(path)
        return path


def _require(tool: str) -> str:
    found = shutil.which(tool)
    if not found:
        raise ValidationError(f"缺少语音工具 {tool}（apt-get install espeak-ng sox）")
    return found


def synthesize(text: str, dest: Path) -> None:
    """Speak `text` in Mandarin into an 8 kHz mono s16 WAV (written atomically)."""
    if not text.strip():
        raise ValidationError("提示语内容不能为空")
    espeak, sox = _require("espeak-ng"), _require("sox")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".wav", dir=dest.parent)
    os.close(fd)
    try:
        speech = subprocess.run(
            [espeak, "-v", VOICE, "-s", "165", "--stdout", text], check=True, capture_output=True, timeout=30
        ).stdout
        subprocess.run(
            [sox, "-q", "-t", "wav", "-", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", tmp],
            input=speech,
            check=True,
            capture_output=True,
            timeout=30,
        )
        os.replace(tmp, dest)
    except subprocess.CalledProcessError as exc:
        raise ValidationError(f"提示语生成失败：{exc.stderr.decode(errors='replace')[:200]}") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def make_hold_music(dest: Path) -> None:
    """A quiet 8-second arpeggio (C-E-G-E) for callers waiting in the queue."""
    sox = _require("sox")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".wav", dir=dest.parent)
    os.close(fd)
    notes = [262, 330, 392, 330]
    parts: dict[int, Path] = {}
    try:
        for f in dict.fromkeys(notes):
            part = dest.parent / f".hold-{os.getpid()}-{f}.wav"
            subprocess.run(
                [
                    sox,
                    "-q",
                    "-n",
                    "-r",
                    "8000",
                    "-c",
                    "1",
                    "-b",
                    "16",
                    "-e",
                    "signed-integer",
                    str(part),
                    "synth",
                    "0.5",
                    "sine",
                    str(f),
                    "vol",
                    "0.15",
                    "fade",
                    "0.05",
                    "0.5",
                    "0.05",
                ],
                check=True,
                capture_output=True,
                timeout=30,
            )
            parts[f] = part
        sequence = [str(parts[f]) for f in notes * 4]
        subprocess.run([sox, "-q", *sequence, tmp], check=True, capture_output=True, timeout=30)
        os.replace(tmp, dest)
    finally:
        for part in parts.values():
            part.unlink(missing_ok=True)
        if os.path.exists(tmp):
            os.unlink(tmp)


def wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())
