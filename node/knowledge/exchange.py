"""Import an existing FAQ from Excel (.xlsx, openpyxl) or Word (.docx, python-docx) with a preview
and a report of rejected rows, and export the whole base to Excel."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import secrets
import zipfile
from typing import Any

from node import clock
from node.auth.service import Actor
from node.errors import DomainError, NotFound, ValidationError
from node.knowledge import service
from node.knowledge.models import SOURCES, STATES, Article
from node.validation import parse

MAX_ROWS = 5000
# Column headings accepted in an Excel FAQ (first row), by field.
HEADINGS: dict[str, tuple[str, ...]] = {
    "title": ("标题", "问题", "问", "title"),
    "body": ("正文", "答案", "答复", "答", "答复口径", "body"),
    "keywords": ("关键词", "keywords"),
    "domain": ("业务领域", "领域代码", "domain"),
    "sub_business": ("子业务", "子业务代码", "sub_business"),
    "topic": ("主题", "topic"),
    "region_scope": ("适用范围", "区划", "region_scope"),
    "effective_date": ("生效日期", "effective_date"),
    "expiry_date": ("失效日期", "expiry_date"),
}
_QUESTION = re.compile(r"^\s*(?:问[:：]|Q[:：.、]|\d{1,4}[.、．]\s*)(.+)$")
_ANSWER = re.compile(r"^\s*(?:答[:：]|A[:：.、])\s*")


def _cell(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _rows_from_xlsx(data: bytes) -> list[tuple[int, dict[str, Any]]]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise ValidationError("无法读取 Excel 文件，请确认是 .xlsx 格式") from None
    sheet = wb.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = [str(h or "").strip() for h in next(rows, ())]
    columns: dict[int, str] = {}
    for i, h in enumerate(header):
        for name, names in HEADINGS.items():
            if h.lower() in names:
                columns[i] = name
    if "title" not in columns.values() or "body" not in columns.values():
        raise ValidationError("第一行须有“标题/问题”和“正文/答案”两列")
    out = []
    for n, row in enumerate(rows, start=2):
        if n > MAX_ROWS + 1:
            raise ValidationError(f"一次最多导入 {MAX_ROWS} 行")
        values = {columns[i]: _cell(v) for i, v in enumerate(row) if i in columns}
        if any(values.values()):
            for code in ("domain", "sub_business"):
                if values.get(code) and str(values[code]).isdigit():
                    values[code] = str(values[code]).zfill(2 if code == "domain" else 4)
            out.append((n, values))
    return out


def _rows_from_docx(data: bytes) -> list[tuple[int, dict[str, Any]]]:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError):
        raise ValidationError("无法读取 Word 文件，请确认是 .docx 格式") from None
    out: list[tuple[int, dict[str, Any]]] = []
    for table in document.tables:  # two-column tables: question | answer
        for n, row in enumerate(table.rows, start=1):
            cells = [c.text.strip() for c in row.cells]
            if len(cells) >= 2 and cells[0] and cells[0] not in HEADINGS["title"]:
                out.append((n, {"title": cells[0], "body": cells[1]}))
    current: dict[str, Any] | None = None
    start = 0
    for n, para in enumerate(document.paragraphs, start=1):
        text = para.text.strip()
        if not text:
            continue
        style = (para.style.name if para.style is not None else "") or ""
        question = _QUESTION.match(text)
        if style.lower().startswith("heading") or style.startswith("标题") or question:
            if current is not None:
                out.append((start, current))
            current, start = {"title": question.group(1).strip() if question else text, "body": ""}, n
        elif current is not None:
            current["body"] += ("\n" if current["body"] else "") + _ANSWER.sub("", text)
    if current is not None:
        out.append((start, current))
    return out


def preview_import(actor: Actor, filename: str, data: bytes) -> dict[str, Any]:
    """Parse and check every row; keep the good ones for `confirm_import` (token) and report the
    rejected ones with their reason."""
    actor.require("knowledge.edit")
    name = (filename or "").lower()
    if not data:
        raise ValidationError("文件为空")
    if data[:4] != b"PK\x03\x04":
        raise ValidationError("仅支持 Excel（.xlsx）或 Word（.docx）文件")
    if name.endswith(".xlsx"):
        rows = _rows_from_xlsx(data)
    elif name.endswith(".docx"):
        rows = _rows_from_docx(data)
    else:
        raise ValidationError("仅支持 Excel（.xlsx）或 Word（.docx）文件")
    accepted, rejected = [], []
    for line, values in rows:
        values = {k: v for k, v in values.items() if v not in ("", None)}
        try:
            data_in = parse(service.ArticleIn, values)
            service._check(data_in)
        except DomainError as exc:
            rejected.append({"line": line, "title": str(values.get("title", ""))[:60], "reason": exc.message})
            continue
        accepted.append({"line": line, **data_in.model_dump(mode="json")})
    if not accepted and not rejected:
        raise ValidationError("文件中没有可导入的问答")
    token = secrets.token_urlsafe(16)
    _pending_dir().mkdir(parents=True, exist_ok=True)
    (_pending_dir() / f"{token}.json").write_text(
        json.dumps({"user": actor.user_id, "rows": accepted, "filename": filename[:120]}, ensure_ascii=False)
    )
    return {"token": token, "accepted": accepted, "rejected": rejected, "filename": filename}


def _pending_dir() -> Any:
    from node.settings import current

    return current().data_dir / "knowledge-import"


def confirm_import(actor: Actor, token: str) -> dict[str, Any]:
    """Create the previewed rows as drafts (each goes through review like any other)."""
    from node.audit import service as audit

    actor.require("knowledge.edit")
    if not isinstance(token, str) or not re.match(r"^[A-Za-z0-9_-]{10,40}$", token):
        raise NotFound("导入预览已失效，请重新上传")
    path = _pending_dir() / f"{token}.json"
    if not path.exists():
        raise NotFound("导入预览已失效，请重新上传")
    pending = json.loads(path.read_text())
    if pending["user"] != actor.user_id:
        raise NotFound("导入预览已失效，请重新上传")
    created = 0
    for row in pending["rows"]:
        row.pop("line", None)
        row["note"] = f"导入自 {pending['filename']}"[:200]
        service.create(actor, row)
        created += 1
    path.unlink(missing_ok=True)
    audit.record(
        actor,
        "knowledge.imported",
        target="knowledge",
        details={"file": pending["filename"], "created": created},
    )
    return {"created": created}


EXPORT_COLUMNS = [
    "编号", "标题", "状态", "来源", "业务领域", "子业务", "主题", "适用范围", "生效日期", "失效日期",
    "关键词", "正文", "引用次数", "有用", "无用", "更新时间",
]  # fmt: skip


def export_xlsx(actor: Actor) -> tuple[bytes, str]:
    """Every article (its live version, else its draft) as one Excel sheet; audited as data.export."""
    import openpyxl

    from node.audit import service as audit

    actor.require("knowledge.edit")
    wb = openpyxl.Workbook(write_only=True)
    sheet = wb.create_sheet("知识库")
    sheet.append(EXPORT_COLUMNS)
    count = 0
    for a in Article.select().order_by(Article.id).iterator():
        v = service.live(a) or service.version(a)
        sheet.append(
            [
                a.id,
                v.title,
                STATES[a.state],
                SOURCES.get(a.source, a.source),
                v.domain,
                v.sub_business,
                v.topic,
                v.region_scope,
                v.effective_date,
                v.expiry_date,
                v.keywords,
                v.body_text,
                a.use_count,
                a.helpful,
                a.not_helpful,
                a.updated_at,
            ]
        )
        count += 1
    buf = io.BytesIO()
    wb.save(buf)
    today = clock.today()
    audit.record(actor, "data.export", target="knowledge", details={"articles": count})
    return buf.getvalue(), f"知识库导出_{today.year}年{today.month}月{today.day}日.xlsx"
