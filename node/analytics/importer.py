"""Historical import (历史工单导入): orders of an older system from CSV or Excel through a mapping file.

    hotline import orders --file F.csv|F.xlsx --mapping M.toml [--check] [--strict]

The mapping (TOML, see docs/INDICATORS.md "Historical import" and mappings/boston311.toml) names
the columns that give the number, the times (accepted, due, closed), type, domain, channel,
region, title and text, status and ratings, and maps values through `[values.<field>]` tables
(`"*"` = any other value). Every row is validated first; rejected rows are reported with their
reasons and never imported. The accepted rows are written in ONE transaction (nothing
half-imported). An order already imported from the same source (key = mapping `name` + number)
is skipped, so re-running the same file changes nothing. Imported orders are accepted at this
node, marked by an `ImportedOrder` row, and count in statistics like any other order.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node import clock
from node.errors import ValidationError

FIELDS = {
    "number": "原工单编号",
    "accepted_at": "受理时间",
    "due_at": "办理时限",
    "closed_at": "办结时间",
    "type": "业务类型",
    "domain": "业务领域",
    "sub_business": "子业务",
    "channel": "受理渠道",
    "region": "行政区划",
    "title": "标题",
    "text": "诉求内容",
    "status": "状态",
    "result_rating": "结果满意度",
    "service_rating": "服务满意度",
}
MAPPED = ("type", "domain", "sub_business", "channel", "region", "status", "result_rating", "service_rating")
STATES = {"closed", "handling", "archived", "rejected"}
CHUNK = 2000
MAX_REPORTED = 1000
_NUMBER_RE = re.compile(r"^[0-9A-Za-z_-]{1,19}$")


@dataclass
class Mapping:
    name: str
    columns: dict[str, str | list[str]]
    values: dict[str, dict[str, str]]
    defaults: dict[str, str]
    time_formats: list[str]
    encoding: str = "utf-8"
    sheet: str = ""


@dataclass
class Result:
    total: int = 0
    imported: int = 0
    skipped: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    rejected_count: int = 0
    batch_id: int | None = None
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.total / self.seconds if self.seconds else 0.0


def load_mapping(path: str | Path) -> Mapping:
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"无法读取映射文件：{exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"映射文件格式错误：{exc}") from None
    name = str(raw.get("name", "")).strip()
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,20}", name):
        raise ValidationError("映射文件须有 name（1–20 位字母、数字、下划线），作为来源系统的标识")
    columns = raw.get("columns", {})
    unknown = set(columns) - set(FIELDS)
    if unknown:
        raise ValidationError(f"映射文件 [columns] 中有未知字段：{'、'.join(sorted(unknown))}")
    for required in ("number", "accepted_at"):
        if required not in columns:
            raise ValidationError(f"映射文件 [columns] 缺少 {required}（{FIELDS[required]}）")
    values = {k: {str(a): str(b) for a, b in v.items()} for k, v in raw.get("values", {}).items()}
    file = raw.get("file", {})
    return Mapping(
        name=name,
        columns=columns,
        values=values,
        defaults={k: str(v) for k, v in raw.get("defaults", {}).items()},
        time_formats=list(
            file.get("time_formats", ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d"])
        ),
        encoding=str(file.get("encoding", "utf-8")),
        sheet=str(file.get("sheet", "")),
    )


def read_rows(path: str | Path, mapping: Mapping) -> Iterator[dict[str, str]]:
    """Rows of a .csv, .csv.gz or .xlsx file as {header: text}."""
    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"文件不存在：{p}")
    suffixes = "".join(p.suffixes[-2:]).lower()
    if suffixes.endswith(".xlsx"):
        from openpyxl import load_workbook

        wb = load_workbook(p, read_only=True, data_only=True)
        ws = wb[mapping.sheet] if mapping.sheet else wb.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header = [str(h or "").strip() for h in next(rows, ())]
        for values in rows:
            yield {h: _cell(v) for h, v in zip(header, values, strict=False)}
        wb.close()
        return
    opener: Callable[..., Any] = gzip.open if suffixes.endswith(".gz") else open
    try:
        with opener(p, "rt", encoding=mapping.encoding, newline="") as f:
            yield from csv.DictReader(f)
    except UnicodeDecodeError:
        raise ValidationError(
            f"文件不是 {mapping.encoding} 编码，请在映射文件 [file] encoding 中指定"
        ) from None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


class _Validator:
    def __init__(self, mapping: Mapping, me: str):
        from node.catalog import service as catalog

        self.m = mapping
        self.me = me
        self.types = set(catalog.business_types())
        self.channels = set(catalog.channels())
        self.domains = set(catalog.domains(include_inactive=True))
        self.subs = set(catalog.sub_businesses(include_inactive=True))
        self._regions: dict[str, bool] = {}

    def raw(self, row: dict[str, str], name: str) -> str:
        col = self.m.columns.get(name)
        if col is None:
            return ""
        if isinstance(col, list):
            return " ".join(row.get(c, "") or "" for c in col).strip()
        return (row.get(col) or "").strip()

    def mapped(self, row: dict[str, str], name: str, reasons: list[str]) -> str:
        raw = self.raw(row, name)
        table = self.m.values.get(name)
        if (raw == "" and name not in self.m.columns) or raw == "":
            return self.m.defaults.get(name, "")
        if table is None:
            return raw
        if raw in table:
            return table[raw]
        if "*" in table:
            return table["*"]
        reasons.append(f"{FIELDS[name]}“{raw[:30]}”不在映射表中")
        return ""

    def time(self, row: dict[str, str], name: str, reasons: list[str]) -> dt.datetime | None:
        raw = self.raw(row, name)
        if not raw:
            return None
        try:
            return dt.datetime.fromisoformat(raw)
        except ValueError:
            pass
        for fmt in self.m.time_formats:
            try:
                return dt.datetime.strptime(raw, fmt)
            except ValueError:
                continue
        reasons.append(f"{FIELDS[name]}“{raw[:30]}”不是有效时间")
        return None

    def region_ok(self, code: str) -> bool:
        if code not in self._regions:
            from node.catalog import service as catalog

            try:
                catalog.check_region(code)
                self._regions[code] = True
            except ValidationError:
                self._regions[code] = False
        return self._regions[code]

    def order(self, row: dict[str, str]) -> tuple[str, dict[str, Any], list[str]]:
        reasons: list[str] = []
        number = self.raw(row, "number")
        if not number or len(number) > 40 or "\x00" in number:
            reasons.append("原工单编号为空或过长")
        accepted = self.time(row, "accepted_at", reasons)
        if accepted is None and not any("受理时间" in r for r in reasons):
            reasons.append("缺少受理时间")
        due = self.time(row, "due_at", reasons)
        closed = self.time(row, "closed_at", reasons)
        btype = self.mapped(row, "type", reasons) or "1"
        channel = self.mapped(row, "channel", reasons) or "09"
        domain = self.mapped(row, "domain", reasons)
        sub = self.mapped(row, "sub_business", reasons)
        region = self.mapped(row, "region", reasons) or self.me
        state = self.mapped(row, "status", reasons) or ("closed" if closed else "handling")
        result = self.mapped(row, "result_rating", reasons)
        service = self.mapped(row, "service_rating", reasons)
        if btype not in self.types:
            reasons.append(f"业务类型代码“{btype}”无效")
        if channel not in self.channels:
            reasons.append(f"受理渠道代码“{channel}”无效")
        if domain and domain not in self.domains:
            reasons.append(f"业务领域代码“{domain}”无效")
        if sub and sub not in self.subs:
            reasons.append(f"子业务代码“{sub}”无效")
        if not self.region_ok(region):
            reasons.append(f"行政区划代码“{region[:10]}”无效")
        if state not in STATES:
            reasons.append(f"状态“{state}”无效（可为 {'、'.join(sorted(STATES))}）")
        if state in ("closed", "archived") and closed is None:
            reasons.append("状态为已办结但缺少办结时间")
        for label, value in (("结果满意度", result), ("服务满意度", service)):
            if value and value not in ("1", "2", "3"):
                reasons.append(f"{label}“{value}”无效（应映射为 1/2/3）")
        title = self.raw(row, "title") or self.raw(row, "text")[:30] or "历史工单"
        text = self.raw(row, "text") or title
        if "\x00" in title or "\x00" in text:
            reasons.append("内容含有空字符")
        if reasons:
            return number, {}, reasons
        assert accepted is not None
        key = f"{self.m.name}:{number}"
        digest = hashlib.sha1(key.encode()).hexdigest()
        local = number if _NUMBER_RE.match(number) else digest[:16].upper()
        values = {
            "number": ("LS" + local)[:21],
            "origin_node": self.me,
            "external_number": number[:40],
            "channel": channel,
            "business_type": btype,
            "domain": domain,
            "sub_business": sub,
            "region_code": region,
            "title": title[:100],
            "content": text,
            "query_code": str(int(digest[:8], 16) % 1_000_000).zfill(6),
            "state": state,
            "accepted_at": accepted,
            "due_at": due,
            "dispatched_at": accepted if state != "rejected" else None,
            "closed_at": closed if state in ("closed", "archived") else None,
            "replied_at": closed if state in ("closed", "archived") else None,
            "callback_at": closed if result else None,
            "callback_result_satisfaction": result,
            "callback_service_satisfaction": service,
            "search_text": f"{title} {text}"[:2000],
            "created_at": accepted,
            "updated_at": accepted,
        }
        return key, values, []


def run(
    file: str | Path,
    mapping_path: str | Path,
    *,
    me: str,
    check_only: bool = False,
    strict: bool = False,
    by: str = "命令行",
    progress: Callable[[int], None] | None = None,
) -> Result:
    """Validate every row, then (unless `check_only`, or `strict` with rejections) import the valid,
    not yet imported rows in one transaction."""
    import time

    import peewee as pw

    from federation import bulk
    from node.analytics.models import ImportBatch, ImportedOrder
    from node.db import write_tx
    from node.workflow.models import WorkOrder

    started = time.perf_counter()
    mapping = load_mapping(mapping_path)
    validator = _Validator(mapping, me)
    digest = hashlib.sha256(Path(file).read_bytes()).hexdigest() if Path(file).is_file() else ""
    result = Result()
    prefix = mapping.name + ":"
    known = {
        k
        for (k,) in ImportedOrder.select(ImportedOrder.source_key)
        .where(ImportedOrder.source_key.startswith(prefix))
        .tuples()
    }
    seen: set[str] = set()
    pending: list[tuple[str, dict[str, Any]]] = []
    numbers: set[str] = set()
    for index, row in enumerate(read_rows(file, mapping), start=2):  # row 1 is the header
        result.total += 1
        key, values, reasons = validator.order(row)
        if not reasons and key in seen:
            reasons = ["文件中重复的原工单编号"]
        if not reasons and values["number"] in numbers:
            reasons = [f"工单编号 {values['number']} 与文件中另一行冲突"]
        if reasons:
            result.rejected_count += 1
            if len(result.rejected) < MAX_REPORTED:
                result.rejected.append({"row": index, "key": key[:40], "reasons": reasons})
        elif key in known:
            seen.add(key)
            result.skipped += 1
        else:
            seen.add(key)
            numbers.add(values["number"])
            pending.append((key, values))
        if progress and result.total % 1000 == 0:
            progress(1000)
    if progress:
        progress(result.total % 1000)
    if check_only or (strict and result.rejected_count):
        result.seconds = time.perf_counter() - started
        return result
    clash = _existing_numbers([v["number"] for _, v in pending])
    if clash:
        raise ValidationError(f"本节点已有 {len(clash)} 张同号工单（如 {sorted(clash)[0]}），未导入任何数据")
    now = clock.now()
    with write_tx():
        batch = ImportBatch.create(
            file_name=Path(file).name[:200],
            file_sha256=digest,
            mapping_name=mapping.name,
            started_at=now,
            by=by[:40],
            rows_total=result.total,
            rows_skipped=result.skipped,
            rows_rejected=result.rejected_count,
            rejected=result.rejected[:MAX_REPORTED],
        )
        # every column (a raw INSERT applies no model defaults)
        defaults = {
            f.name: (f.default() if callable(f.default) else f.default)
            for f in WorkOrder._meta.sorted_fields
            if f.name != "id" and not f.null
        }
        fields = sorted({*defaults, *(pending[0][1] if pending else {})})
        for _, v in pending:
            for name in fields:
                v.setdefault(name, defaults.get(name))
        # one writer holds the transaction: the new rows are those above the highest id before it
        before = WorkOrder.select(pw.fn.MAX(WorkOrder.id)).scalar() or 0
        for start in range(0, len(pending), CHUNK):
            chunk = pending[start : start + CHUNK]
            bulk.insert_rows(WorkOrder, fields, [tuple(v[f] for f in fields) for _, v in chunk])
        ids = dict(WorkOrder.select(WorkOrder.number, WorkOrder.id).where(WorkOrder.id > before).tuples())
        bulk.insert_rows(
            ImportedOrder,
            ("order", "batch", "source_key"),
            [(ids[v["number"]], batch.id, key) for key, v in pending],
        )
        result.imported = len(pending)
        ImportBatch.update(rows_imported=result.imported, finished_at=clock.now()).where(
            ImportBatch.id == batch.id
        ).execute()
        result.batch_id = batch.id
    if result.imported:
        from node.db import planner_statistics

        planner_statistics(force=True)  # many new orders: the planner's statistics are stale
    result.seconds = time.perf_counter() - started
    return result


def _existing_numbers(numbers: list[str]) -> set[str]:
    """Numbers of `numbers` already taken at this node (imported numbers all start with LS)."""
    from node.workflow.models import WorkOrder

    taken = {
        n for (n,) in WorkOrder.select(WorkOrder.number).where(WorkOrder.number.startswith("LS")).tuples()
    }
    return taken.intersection(numbers)


def report_text(result: Result, limit: int = 20) -> str:
    """The validation report as people read it."""
    lines = [
        f"共 {result.total:,} 行：导入 {result.imported:,}，已导入过（跳过）{result.skipped:,}，拒绝 {result.rejected_count:,}"
    ]
    for item in result.rejected[:limit]:
        lines.append(f"  第 {item['row']} 行（{item['key']}）：{'；'.join(item['reasons'])}")
    if result.rejected_count > limit:
        lines.append(f"  ……其余 {result.rejected_count - limit:,} 行见 --report 文件")
    return "\n".join(lines)


def report_csv(result: Result) -> str:
    out = io.StringIO()
    out.write("\ufeff")
    w = csv.writer(out)
    w.writerow(["行号", "原工单编号", "拒绝原因"])
    for item in result.rejected:
        w.writerow([item["row"], item["key"], "；".join(item["reasons"])])
    return out.getvalue()
