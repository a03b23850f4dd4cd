"""What a file is, from its bytes (magic numbers, via `filetype`), never from its name or the
browser's Content-Type; the name's extension must agree with the bytes."""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass

import filetype

from node.errors import ValidationError


@dataclass(frozen=True)
class FileType:
    kind: str  # pdf / docx / image
    mime: str
    extension: str  # canonical, without the dot
    label: str


# Accepted types by the extension `filetype` reports. SVG, HTML, old .doc (macros) and archives
# are never accepted: nothing that a browser could run or that hides other files.
TYPES: dict[str, FileType] = {
    "pdf": FileType("pdf", "application/pdf", "pdf", "PDF 文档"),
    "docx": FileType(
        "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx", "Word 文档"
    ),
    "jpg": FileType("image", "image/jpeg", "jpg", "JPEG 图片"),
    "png": FileType("image", "image/png", "png", "PNG 图片"),
    "gif": FileType("image", "image/gif", "gif", "GIF 图片"),
    "webp": FileType("image", "image/webp", "webp", "WebP 图片"),
}
# Extensions a name may carry for each detected type.
ALIASES: dict[str, set[str]] = {"jpg": {"jpg", "jpeg"}}
KINDS: dict[str, str] = {"pdf": "PDF", "docx": "Word", "image": "图片"}

MAX_DOCX_UNPACKED = 200 * 1024 * 1024  # a .docx whose parts unpack to more than this is refused
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


def safe_filename(name: str) -> str:
    """The name as it may be shown and offered for download: no directories, no control or
    reserved characters, at most 120 characters (the extension kept)."""
    if not isinstance(name, str):
        raise ValidationError("文件名应为文本")
    base = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    base = _UNSAFE.sub("_", base).strip(" .")
    if not base:
        raise ValidationError("文件名不能为空")
    if len(base) > 120:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 119 - len(ext)] + dot + ext) if dot and len(ext) <= 10 else base[:120]
    return base


def _is_word_zip(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return "word/document.xml" in zf.namelist()
    except zipfile.BadZipFile:
        return False


def _check_docx(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
            if "word/document.xml" not in names or "[Content_Types].xml" not in names:
                raise ValidationError("Word 文件已损坏或不是 .docx 文档")
            if any(n.lower().endswith("vbaproject.bin") for n in names):
                raise ValidationError("不接受含宏的 Word 文档")
            if sum(i.file_size for i in infos) > MAX_DOCX_UNPACKED:
                raise ValidationError("Word 文档解压后过大")
    except zipfile.BadZipFile:
        raise ValidationError("Word 文件已损坏或不是 .docx 文档") from None


def detect(data: bytes, filename: str, allowed_kinds: frozenset[str] | set[str] | None = None) -> FileType:
    """The type of `data`, refusing what is not an accepted type, what `allowed_kinds` (pdf /
    docx / image) excludes, and a name whose extension contradicts the bytes."""
    if not data:
        raise ValidationError("文件为空")
    guess = filetype.guess(data)
    extension = guess.extension if guess is not None else ""
    if extension in ("zip", "") and data[:4] == b"PK\x03\x04" and _is_word_zip(data):
        extension = "docx"  # filetype reads 8 KiB: a .docx whose word/ parts come later looks like a zip
    ftype = TYPES.get(extension)
    if ftype is None:
        kinds = "、".join(KINDS[k] for k in sorted(allowed_kinds or KINDS))
        raise ValidationError(f"不支持的文件类型（仅接受 {kinds}）", details={"file": "类型不支持"})
    if allowed_kinds is not None and ftype.kind not in allowed_kinds:
        kinds = "、".join(KINDS[k] for k in sorted(allowed_kinds))
        raise ValidationError(f"此处仅接受 {kinds} 文件", details={"file": "类型不支持"})
    ext = filename.rpartition(".")[2].lower() if "." in filename else ""
    if ext and ext not in ALIASES.get(ftype.extension, {ftype.extension}):
        raise ValidationError(
            f"文件内容（{ftype.label}）与扩展名 .{ext} 不符", details={"file": "扩展名与内容不符"}
        )
    if ftype.kind == "docx":
        _check_docx(data)
    return ftype
