"""WAV helpers for recordings: read PCM16 / A-law / µ-law WAVs into samples, measure their
length, and repair the header of a recording whose writer died before closing it."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported lazily: the engine process only inspects and repairs headers
    import numpy as np

FORMAT_PCM, FORMAT_ALAW, FORMAT_ULAW = 1, 6, 7


@dataclass(frozen=True)
class WavInfo:
    format_tag: int
    channels: int
    rate: int
    bits: int
    data_offset: int
    data_bytes: int

    @property
    def duration_s(self) -> float:
        frame = max(1, self.channels * self.bits // 8)
        return self.data_bytes / frame / self.rate if self.rate else 0.0


class WavError(ValueError):
    pass


def inspect(path: Path, *, trust_sizes: bool = True) -> WavInfo:
    """Parse the RIFF chunks. With `trust_sizes=False` the data chunk runs to the end of file."""
    raw = path.read_bytes()
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise WavError(f"不是 WAV 文件：{path.name}")
    pos, fmt = 12, None
    while pos + 8 <= len(raw):
        cid, size = raw[pos : pos + 4], struct.unpack("<I", raw[pos + 4 : pos + 8])[0]
        body = pos + 8
        if cid == b"fmt ":
            tag, ch, rate, _, _, bits = struct.unpack("<HHIIHH", raw[body : body + 16])
            fmt = (tag, ch, rate, bits)
        elif cid == b"data":
            if fmt is None:
                raise WavError("WAV 缺少 fmt 块")
            available = len(raw) - body
            data = available if (not trust_sizes or size == 0 or size > available) else size
            return WavInfo(fmt[0], fmt[1], fmt[2], fmt[3], body, data)
        pos = body + size + (size & 1)
    raise WavError(f"WAV 缺少 data 块：{path.name}")


def _alaw_table() -> np.ndarray:
    import numpy as np

    out = np.zeros(256, dtype=np.int16)
    for i in range(256):
        a = i ^ 0x55
        t = (a & 0x0F) << 4
        seg = (a & 0x70) >> 4
        if seg == 0:
            t += 8
        elif seg == 1:
            t += 0x108
        else:
            t = (t + 0x108) << (seg - 1)
        out[i] = t if a & 0x80 else -t
    return out


def _ulaw_table() -> np.ndarray:
    import numpy as np

    out = np.zeros(256, dtype=np.int16)
    for i in range(256):
        u = ~i & 0xFF
        t = ((u & 0x0F) << 3) + 0x84
        t <<= (u & 0x70) >> 4
        out[i] = (0x84 - t) if u & 0x80 else (t - 0x84)
    return out


def read_samples(path: Path) -> tuple[int, np.ndarray]:
    """(sample rate, mono int16 samples) of a PCM16, A-law or µ-law WAV."""
    import numpy as np

    info = inspect(path, trust_sizes=False)
    raw = path.read_bytes()[info.data_offset : info.data_offset + info.data_bytes]
    if info.format_tag == FORMAT_PCM and info.bits == 16:
        samples = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2").astype(np.int16)
    elif info.format_tag == FORMAT_ALAW:
        samples = _alaw_table()[np.frombuffer(raw, dtype=np.uint8)]
    elif info.format_tag == FORMAT_ULAW:
        samples = _ulaw_table()[np.frombuffer(raw, dtype=np.uint8)]
    else:
        raise WavError(f"不支持的 WAV 编码：{info.format_tag}/{info.bits}")
    if info.channels > 1:
        samples = samples[: len(samples) // info.channels * info.channels].reshape(-1, info.channels)[:, 0]
    return info.rate, samples


def band_level(samples: np.ndarray, rate: int, freq: float, width: float = 30.0) -> float:
    """Share of the signal's spectral energy within ±width Hz of `freq` (0..1)."""
    import numpy as np

    if len(samples) < 64:
        return 0.0
    x = samples.astype(np.float64) * np.hanning(len(samples))
    spec = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1.0 / rate)
    total = float(spec.sum())
    if total <= 0:
        return 0.0
    return float(spec[(freqs >= freq - width) & (freqs <= freq + width)].sum() / total)


def repair(path: Path) -> WavInfo:
    """Rewrite the RIFF and data sizes from the file length (a writer killed mid-call leaves 0)."""
    info = inspect(path, trust_sizes=False)
    frame = max(1, info.channels * info.bits // 8)
    data = info.data_bytes - info.data_bytes % frame
    with path.open("r+b") as fh:
        fh.seek(4)
        fh.write(struct.pack("<I", info.data_offset + data - 8))
        fh.seek(info.data_offset - 4)
        fh.write(struct.pack("<I", data))
        fh.truncate(info.data_offset + data)
    return inspect(path)


def needs_repair(path: Path) -> bool:
    """True while the RIFF size in the header does not match the file (the writer has not
    closed it yet, or died before it could)."""
    with path.open("rb") as fh:
        raw = fh.read(8)
    return len(raw) < 8 or struct.unpack("<I", raw[4:8])[0] != path.stat().st_size - 8
