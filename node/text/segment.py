"""Chinese word segmentation (分词) with jieba and the transport dictionary.

One jieba `Tokenizer` per process, built lazily on first use (never at import), quiet, loaded
with `transport_dict.txt` (shipped beside this module) and with the admin's extra dictionaries
(`[text] user_dict = "..."` in node.toml, or `configure()`). Licence plates, bus/metro routes and
road numbers are recognised by pattern before jieba sees the text, so 苏A12345, K301路 and G42
stay whole. `search_tokens()` produces the string the order full-text index stores.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from node.errors import ValidationError
from node.text.normalize import normalize

if TYPE_CHECKING:
    from node.settings import Settings

BUILTIN_DICT = Path(__file__).with_name("transport_dict.txt")
DEFAULT_EXTRA_DICT = Path("text") / "userdict.txt"  # relative to the node home

_lock = threading.RLock()
_tokenizer: Any = None
_extra_dicts: list[Path] = []
_extra_words: list[tuple[str, int | None]] = []

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
# Plates: province + letter + 5 (classic) or 6 (new energy) characters, optional 挂/学/警 suffix.
PLATE_RE = re.compile(rf"[{PROVINCES}][A-Za-z][·•\s]?[A-Za-z0-9]{{5,6}}(?:[挂学警港澳])?(?![A-Za-z0-9])")
_ROUTE = r"(?<![0-9A-Za-z])[A-Za-z]?\d{1,4}(?:路|号线|路车)"
_ROAD = r"(?<![0-9A-Za-z])[GS]\d{1,4}(?![0-9A-Za-z])"
_SPECIAL_RE = re.compile(rf"{PLATE_RE.pattern}|{_ROUTE}|{_ROAD}")
_KEEP_RE = re.compile(r"[0-9A-Za-z\u3400-\u9fff]")
_PLATE_SEP_RE = re.compile(r"[·•\s]")

STOPWORDS = frozenset(
    [
        "的",
        "了",
        "在",
        "是",
        "我",
        "有",
        "和",
        "就",
        "不",
        "人",
        "都",
        "一",
        "一个",
        "上",
        "也",
        "很",
        "到",
        "说",
        "要",
        "去",
        "你",
        "会",
        "着",
        "没有",
        "看",
        "好",
        "自己",
        "这",
        "那",
        "他",
        "她",
        "它",
        "们",
        "我们",
        "你们",
        "他们",
        "请",
        "您",
        "啊",
        "吧",
        "呢",
        "吗",
        "及",
        "与",
        "或",
        "等",
        "对",
        "把",
        "被",
        "从",
        "为",
        "以",
        "而",
        "但",
        "并",
        "又",
        "则",
        "其",
        "之",
        "于",
        "该",
        "此",
        "这个",
        "那个",
        "什么",
        "怎么",
        "为什么",
        "因为",
        "所以",
        "如果",
        "已经",
        "还",
        "再",
        "才",
        "能",
        "可以",
        "给",
        "让",
        "得",
        "地",
        "过",
        "后",
        "前",
        "时",
        "中",
        "里",
        "下",
        "来",
        "多",
        "个",
        "次",
        "没",
        "无",
        "年",
        "月",
        "日",
        "号",
        "点",
        "分",
        "元",
        "位",
        "名",
        "些",
        "这些",
        "那些",
        "这样",
        "那样",
        "现在",
        "今天",
        "昨天",
        "一直",
        "还是",
        "就是",
        "但是",
        "而且",
        "并且",
        "然后",
        "以及",
        "非常",
        "比较",
        "进行",
        "相关",
        "有关",
        "问题",
        "情况",
        "反映",
        "希望",
        "要求",
        "请求",
        "尊敬",
        "领导",
        "你好",
        "您好",
        "谢谢",
        "一下",
        "之后",
        "以后",
        "已",
        "将",
        "the",
        "a",
        "an",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "and",
        "or",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "this",
        "that",
        "with",
        "as",
        "by",
        "from",
    ]
)


def _build() -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    for path in [BUILTIN_DICT, *_extra_dicts]:
        if path.is_file():
            with path.open("rb") as fh:  # jieba leaves files it opens itself unclosed
                tokenizer.load_userdict(fh)
    for word, freq in _extra_words:
        tokenizer.add_word(word, freq)
    return tokenizer


def tokenizer() -> Any:
    """The process's jieba tokenizer, built on first use."""
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                _tokenizer = _build()
    return _tokenizer


def configure(user_dicts: Iterable[str | Path] = ()) -> None:
    """Set the admin's extra dictionaries (jieba format: `词 [词频] [词性]` per line).

    Takes effect at once: an already built tokenizer is rebuilt on next use."""
    global _tokenizer
    paths = [Path(p) for p in user_dicts]
    for path in paths:
        if path.exists() and not path.is_file():
            raise ValidationError(f"用户词典不是文件：{path}")
    with _lock:
        _extra_dicts[:] = paths
        _tokenizer = None


def configure_from_settings(settings: Settings) -> list[Path]:
    """Read `[text] user_dict` (a path or a list, relative to the node home); default
    `<home>/text/userdict.txt` when it exists. Returns the dictionaries in use."""
    raw = settings.section("text").get("user_dict")
    if raw is None:
        names: list[str] = [str(DEFAULT_EXTRA_DICT)]
    elif isinstance(raw, str):
        names = [raw]
    elif isinstance(raw, list) and all(isinstance(x, str) for x in raw):
        names = list(raw)
    else:
        raise ValidationError("配置项 [text] user_dict 应为路径或路径列表")
    paths = [p if p.is_absolute() else settings.home / p for p in map(Path, names)]
    configure(paths)
    return paths


def add_word(word: str, freq: int | None = None) -> None:
    """Add one word for this process (kept across `configure()` rebuilds)."""
    word = normalize(word)
    if not word or any(ch.isspace() for ch in word):
        raise ValidationError("词语不能为空或包含空白")
    with _lock:
        _extra_words.append((word, freq))
        if _tokenizer is not None:
            _tokenizer.add_word(word, freq)


def _pieces(text: str) -> Iterable[tuple[bool, str]]:
    """Split normalised text into (is_special, piece) runs."""
    pos = 0
    for match in _SPECIAL_RE.finditer(text):
        if match.start() > pos:
            yield False, text[pos : match.start()]
        yield True, _PLATE_SEP_RE.sub("", match.group(0)).upper()
        pos = match.end()
    if pos < len(text):
        yield False, text[pos:]


def cut(text: str, *, for_search: bool = False, normalized: bool = False, hmm: bool = True) -> list[str]:
    """Words of `text` (normalised, punctuation and spaces dropped, case kept). `hmm=False` skips
    jieba's new-word discovery: about 40 % faster, for callers that also read character n-grams."""
    if not isinstance(text, str):
        raise ValidationError("分词内容必须是文本")
    if not normalized:
        text = normalize(text)
    tok = tokenizer()
    words: list[str] = []
    for special, piece in _pieces(text):
        if special:
            words.append(piece)
            continue
        parts = tok.cut_for_search(piece, HMM=hmm) if for_search else tok.cut(piece, HMM=hmm)
        words.extend(w for w in parts if _KEEP_RE.search(w))
    return words


def terms(text: str, *, normalized: bool = False) -> list[str]:
    """Content words for similarity and hot topics: lower-case, stopwords and lone digits dropped."""
    out = []
    for word in cut(text, normalized=normalized):
        low = word.lower()
        if low in STOPWORDS or (low.isdigit() and len(low) < 3):
            continue
        out.append(low)
    return out


def search_tokens(text: str) -> str:
    """The space-joined, lower-case `cut_for_search` tokens stored in a `search_text` column."""
    if text is None:
        return ""
    return " ".join(w.lower() for w in cut(text, for_search=True))


def query_tokens(text: str) -> list[str]:
    """Distinct lower-case words of a search query (precise mode: each must match)."""
    seen: dict[str, None] = {}
    for word in cut(text):
        seen.setdefault(word.lower(), None)
    return list(seen)


def plates(text: str) -> list[str]:
    """Licence plates mentioned in `text`, upper-case without separators."""
    found = (_PLATE_SEP_RE.sub("", m.group(0)).upper() for m in PLATE_RE.finditer(normalize(text)))
    return list(dict.fromkeys(found))
