"""The cold-start categoriser (冷启动自动归类): business type, domain and sub-business from a lexicon.

A lexicon is a list of (term, target, weight): a term is a word callers use (门铃, 拒载, ETC) or a
token a recogniser put in for a licence plate, a bus or metro line, a road, train or flight number,
or a question mark (`RECOGNISERS`); a target is a business type code (one digit), a domain code
(two digits, `00` = outside the transport authorities) or a sub-business code (four digits).

Scoring reads the normalised title and content once, left to right, longest term first, so 公交车
counts once and not also as 公交 (a weight-0 term only stops a shorter one: 机动车 is not 动车).
Each term's weight grows a little with repetition (at most double).
- Business type: P(t) ∝ exp(β·Σ weights for t). A cue in the title counts 2.5 times (the title
  states the purpose); question cues in a sentence that also complains count 0.3 times (为什么还要
  另外收费？ is not a question), and in every sentence once three sentences complain. Proposal
  words are proposals only in the optative mood: in the title or after a mood word (希望, 建议,
  请求, 能否, 应该 … `OPTATIVE`) up to the end of its sentence (to the end of the text when the mood
  word opens a list: 建议如下：). Elsewhere they describe (车流量增加, 规划滞后) and count half.
- Category, two levels: P(domain) ∝ exp(β·D) where D sums, per matched term, its strongest
  weight within the domain (domain-level or any of its sub-businesses); P(sub | domain) ∝
  exp(β·S) with S the sub-business's own weights. A leaf is a sub-business, or the domain itself
  where the domain has none (铁路, 民航, 邮政, 00). Category words count 1.5 times in the title.
  Domains without evidence take part in the
  normalisation (each with exp(0)), so a single weak word gives a low confidence; only domains
  with evidence are suggested, and nothing at all when no category word matched. The first leaf
  is the best sub-business of the first domain, so the pair an agent accepts agrees.
`〈先验〉` is a term every text contains: it carries a target's prior leaning and is never shown
as a deciding word, and at the category level it leans the sub-business inside its domain only.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from node.errors import ValidationError
from node.text.normalize import normalize

PRIOR = "〈先验〉"
OUTSIDE = "00"
OUTSIDE_NAME = "非交通运输行业（交警、市政等）"
TYPE_BETA = 0.8
CATEGORY_BETA = 0.7
TITLE_FACTOR = 1.5
# The title states the caller's purpose (关于…的投诉 / 建议… / 咨询…): type cues there count more.
TYPE_TITLE_FACTOR = 2.5
COMPLAINT, CONSULTATION = "1", "2"  # business type codes (node.catalog.data.BUSINESS_TYPES)
# A question in the same sentence as a complaint cue is rhetorical (为什么还要另外收费？), so its
# question words count this much towards 信息咨询.
RHETORICAL = 0.3
COMPLAINING_SENTENCES = 3
PROPOSAL = "3"  # 意见建议
# Mood words (a closed class, grammar rather than vocabulary): what follows them up to the end of
# the sentence is wished for, asked for or proposed. A proposal word outside such a span (and
# outside the title) is read as description and counts `REALIS` times.
OPTATIVE = re.compile(
    r"希望|建议|提议|倡议|呼吁|恳请|恳求|请求|盼望|期盼|能否|可否|可不可以|是否可以|能不能|如果能|若能|"
    r"应该|应当|最好|不妨|何不|需要|要求|(?<![申邀聘])请|望|盼"
)
REALIS = 0.5
# a mood word followed by a colon opens a list of proposals: its span runs to the end of the text
_OPENS_LIST = re.compile(r"[^。！？!?；;\n]{0,4}?[：:]")
_SENTENCE_END = re.compile(r"[。！？!?；;\n]")
MAX_WORDS = 6
MAX_TERM_CHARS = 20
MIN_WEIGHT, MAX_WEIGHT = -5.0, 10.0

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_AIRLINES = "CA|MU|CZ|HU|3U|ZH|MF|SC|FM|HO|9C|KN|GS|JD|8L|PN|EU|G5|TV|QW|DZ|NS|BK|KY|DR|Y8|GJ|A6|JR|GX|UQ|RY|OQ|GT|9H|LT"
_CN_NUM = "一二三四五六七八九十"
# Recognisers: (token, description shown to administrators, pattern). Run on the normalised text
# before the words; what they match is not read again as words (320国道 counts once).
RECOGNISERS: list[tuple[str, str, re.Pattern[str]]] = [
    (
        "〈教练车牌〉",
        "教练车号牌（末位“学”）",
        re.compile(rf"[{_PROVINCES}][A-HJ-NP-Z][·•\- ]?[A-HJ-NP-Z0-9]{{4}}学"),
    ),
    (
        "〈挂车牌〉",
        "挂车号牌（末位“挂”）",
        re.compile(rf"[{_PROVINCES}][A-HJ-NP-Z][·•\- ]?[A-HJ-NP-Z0-9]{{4}}挂"),
    ),
    (
        "〈车牌〉",
        "机动车号牌，如 苏A12345、苏AD12345",
        re.compile(rf"[{_PROVINCES}][A-HJ-NP-Z][·•\- ]?[A-HJ-NP-Z0-9]{{5,6}}(?![A-Za-z0-9])"),
    ),
    (
        "〈地铁线路〉",
        "地铁线路，如 2号线、地铁三号线",
        re.compile(rf"(?<![0-9])(?:\d{{1,2}}|[{_CN_NUM}]{{1,3}})号线"),
    ),
    (
        "〈公交线路〉",
        "公交线路，如 65路、K2路、游1路、夜8路",
        re.compile(
            r"(?<![0-9A-Za-z.\-])(?:[KBYkby]|夜|游|专|快|支|高峰)?\d{1,3}路(?![口段面况灯政基桥边旁费网])"
        ),
    ),
    (
        "〈国省道编号〉",
        "国道、省道、县道编号，如 G312、320国道、X205",
        re.compile(
            r"\d{3}(?:国道|省道|县道|乡道)|(?:国道|省道|县道|乡道)[GSXY]?\d{3}|"
            r"(?<![0-9A-Za-z])[GSXY]\d{3}(?:国道|省道|县道|乡道|线|公路)|(?<![0-9A-Za-z])[XY]\d{3}(?![0-9])"
        ),
    ),
    (
        "〈高速编号〉",
        "高速公路编号，如 G4高速、S38高速",
        re.compile(
            r"(?<![0-9A-Za-z])[GS]\d{1,4}(?=[\u4e00-\u9fff]{0,6}高速)|高速(?:公路)?[GS]\d{1,4}(?![0-9])"
        ),
    ),
    (
        "〈列车车次〉",
        "火车车次，如 G1234次、D301次列车",
        re.compile(r"(?<![0-9A-Za-z])[GDCZTKL]\d{1,4}(?=次|列车|动车|高铁)|车次[GDCZTKL]?\d{1,4}"),
    ),
    (
        "〈航班号〉",
        "航班号，如 CA1234、MU5101",
        re.compile(rf"(?<![0-9A-Za-z])(?:{_AIRLINES})\d{{3,4}}(?![0-9])"),
    ),
    ("〈问号〉", "问号（？）", re.compile(r"\?")),
]
TOKENS: dict[str, str] = {token: desc for token, desc, _ in RECOGNISERS} | {PRIOR: "先验倾向（每条文本都有）"}

_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def fold(text: str) -> str:
    """How terms and texts are compared: normalised (half width, simplified), ASCII letters in lower case."""
    return normalize(text).translate(_ASCII_LOWER)


@dataclass(frozen=True)
class Entry:
    term: str
    target: str
    weight: float


@dataclass
class Ranked:
    """One suggested category: code, name, confidence and the words that decided it."""

    code: str
    name: str
    confidence: float
    words: list[str] = field(default_factory=list)
    domain: str = ""
    label: str = ""  # the full path shown to agents, e.g. 城市客运 › 出租汽车


@dataclass
class Suggestion:
    business_type: list[Ranked]
    domain: list[Ranked]
    sub_business: list[Ranked]  # leaves: a sub-business, or a domain that has none


@dataclass(frozen=True)
class Taxonomy:
    """Codes and names the categoriser suggests, from the catalog's code tables."""

    types: dict[str, str]
    domains: dict[str, str]
    subs: dict[str, tuple[str, str]]  # code → (domain code, name)

    def leaf_name(self, code: str) -> str:
        """A leaf's own name: 出租汽车, or 邮政 for a domain without sub-businesses."""
        return self.subs[code][1] if code in self.subs else self.domains.get(code, code)

    def leaf_label(self, code: str) -> str:
        """A leaf's full path: 城市客运 › 出租汽车, or 邮政."""
        if code in self.subs:
            dcode, name = self.subs[code]
            return f"{self.domains[dcode]} › {name}"
        return self.domains.get(code, code)

    def kind_of(self, target: str) -> str:
        """`type` or `category`; unknown codes are refused."""
        if target in self.types:
            return "type"
        if target in self.domains or target in self.subs:
            return "category"
        raise ValidationError(f"归类目标代码无效：{target}（应为业务类型、业务领域或子业务代码）")

    def has_subs(self, dcode: str) -> bool:
        return any(d == dcode for d, _ in self.subs.values())


@cache
def taxonomy() -> Taxonomy:
    """The catalog's code tables (constants of the release) plus `00` for matters outside transport."""
    from node.catalog import data

    domains = {code: name for code, name, *_ in data.DOMAINS}
    domains[OUTSIDE] = OUTSIDE_NAME
    subs = {
        f"{dcode}{i:02d}": (dcode, name)
        for dcode, names in data.SUB_BUSINESSES.items()
        for i, name in enumerate(names, start=1)
    }
    return Taxonomy(dict(data.BUSINESS_TYPES), domains, subs)


def check_term(term: str) -> str:
    """The folded form of an administrator's term, or a ValidationError saying what is wrong."""
    if not isinstance(term, str):
        raise ValidationError("词语必须是文本")
    folded = fold(term)
    if not folded:
        raise ValidationError("词语不能为空")
    if len(folded) > MAX_TERM_CHARS:
        raise ValidationError(f"词语不能超过{MAX_TERM_CHARS}个字")
    if folded.startswith("〈") and folded not in TOKENS:
        raise ValidationError(f"没有名为 {folded} 的识别项（可用：{'、'.join(TOKENS)}）")
    return folded


def check_weight(weight: object) -> float:
    if isinstance(weight, bool) or not isinstance(weight, int | float) or math.isnan(float(weight)):
        raise ValidationError("权重必须是数字")
    if not MIN_WEIGHT <= float(weight) <= MAX_WEIGHT:
        raise ValidationError(f"权重应在{MIN_WEIGHT:g}至{MAX_WEIGHT:g}之间")
    return float(weight)


def parse_block(target: str, block: str) -> list[Entry]:
    """`term weight, term weight, …` → entries (the format of `node.text.lexicon_data`)."""
    out = []
    for part in block.replace("\n", " ").split(","):
        part = part.strip()
        if not part:
            continue
        term, _, weight = part.rpartition(" ")
        out.append(Entry(term.strip(), target, float(weight)))
    return out


def builtin_entries() -> list[Entry]:
    """The lexicon shipped with the release."""
    from node.text import lexicon_data

    out: list[Entry] = []
    for blocks in (lexicon_data.TYPE_CUES, lexicon_data.CATEGORY_WORDS):
        for target, block in blocks.items():
            out.extend(parse_block(target, block))
    return out


@dataclass
class _Count:
    """How often a term was read: for categories (title 1.5×), for business types (title 2.5×),
    for 信息咨询 without questions asked in complaining sentences, for 意见建议 with readings
    outside the optative mood at `REALIS`."""

    surface: str
    category: float = 0.0
    type: float = 0.0
    asked: float = 0.0
    proposed: float = 0.0


@dataclass
class _Hit:
    term: str
    surface: str
    in_title: bool
    sentence: int
    optative: bool = False  # inside the span of a mood word (`OPTATIVE`)


def optative_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each mood word's span: from the word to the end of its sentence, or to the
    end of the text when a colon follows it (建议如下：1. … 2. …)."""
    spans = []
    for m in OPTATIVE.finditer(text):
        if _OPENS_LIST.match(text, m.end()):
            spans.append((m.start(), len(text)))
            continue
        end = _SENTENCE_END.search(text, m.end())
        spans.append((m.start(), end.start() if end else len(text)))
    return spans


class Categoriser:
    """Suggests business type, domain and sub-business for a text from a lexicon."""

    def __init__(self, entries: Iterable[Entry], tax: Taxonomy | None = None, version: int = 0):
        self.tax = tax or taxonomy()
        self.version = version
        self.targets: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for e in entries:
            term = fold(e.term)
            if term:  # weight 0 keeps the span from being read as a shorter word (机动车 is not 动车)
                self.targets[term].append((e.target, float(e.weight)))
        by_first: dict[str, set[str]] = defaultdict(set)
        for term in self.targets:
            if not term.startswith("〈"):
                by_first[term[0]].add(term)
        self.by_first = {c: sorted(ts, key=len, reverse=True) for c, ts in by_first.items()}
        self.recognisers = [(tok, pat) for tok, _, pat in RECOGNISERS if tok in self.targets]
        self.priors = self.targets.get(PRIOR, [])

    # ---- reading the text ----------------------------------------------------------------------

    def _scan(self, text: str, in_title: bool, hits: list[_Hit], first_sentence: int) -> int:
        """Append what `text` contains to `hits`; returns the next free sentence number."""
        ends = [m.start() for m in _SENTENCE_END.finditer(text)]

        def sentence(pos: int) -> int:
            return first_sentence + bisect.bisect_left(ends, pos)

        wished = bytearray(len(text))  # 1 where a mood word's span covers the text
        for a, b in optative_spans(text):
            wished[a:b] = b"\x01" * (b - a)
        taken = bytearray(len(text))
        for token, pattern in self.recognisers:
            for m in pattern.finditer(text):
                if not any(taken[m.start() : m.end()]):
                    hits.append(
                        _Hit(token, m.group(0), in_title, sentence(m.start()), bool(wished[m.start()]))
                    )
                    taken[m.start() : m.end()] = b"\x01" * (m.end() - m.start())
        low = text.translate(_ASCII_LOWER)
        i, n = 0, len(low)
        by_first = self.by_first
        while i < n:
            terms = by_first.get(low[i]) if not taken[i] else None
            if terms:
                for term in terms:
                    if low.startswith(term, i) and not any(taken[i : i + len(term)]):
                        hits.append(
                            _Hit(term, text[i : i + len(term)], in_title, sentence(i), bool(wished[i]))
                        )
                        i += len(term)
                        break
                else:
                    i += 1
            else:
                i += 1
        return first_sentence + len(ends) + 1

    def hits(self, title: str, content: str) -> dict[str, _Count]:
        """Matched terms with their counts (see `_Count`)."""
        found: list[_Hit] = []
        nxt = self._scan(normalize(title or ""), True, found, 0)
        self._scan(normalize(content or ""), False, found, nxt)
        complaining = {
            h.sentence for h in found if any(t == COMPLAINT and w > 0 for t, w in self.targets[h.term])
        }
        if len(complaining) >= COMPLAINING_SENTENCES:  # a message that keeps complaining asks rhetorically
            complaining = {h.sentence for h in found}
        out: dict[str, _Count] = {}
        for h in found:
            c = out.get(h.term)
            if c is None:
                c = out[h.term] = _Count(h.surface)
            rhetorical = RHETORICAL if h.sentence in complaining else 1.0
            c.category += TITLE_FACTOR if h.in_title else 1.0
            place = TYPE_TITLE_FACTOR if h.in_title else 1.0
            c.type += place
            c.asked += place * rhetorical
            c.proposed += place if h.in_title or h.optative else place * REALIS
        return out

    # ---- scoring -----------------------------------------------------------------------------

    @staticmethod
    def _repeat(count: float) -> float:
        """A term's multiplier: its count up to 1, then half a point per further reading, at most 2."""
        return min(count, 1.0) + 0.5 * min(max(count - 1.0, 0.0), 2.0)

    def suggest(self, title: str, content: str, top: int = 3) -> Suggestion:
        tax = self.tax
        found = self.hits(title, content)
        type_score: dict[str, float] = defaultdict(float)
        type_words: dict[str, list[tuple[float, str]]] = defaultdict(list)
        dom: dict[str, float] = defaultdict(float)
        dom_words: dict[str, list[tuple[float, str]]] = defaultdict(list)
        sub: dict[str, float] = defaultdict(float)
        sub_words: dict[str, list[tuple[float, str]]] = defaultdict(list)
        own_words: dict[str, list[tuple[float, str]]] = defaultdict(list)  # domain-level terms only
        for term, count in found.items():
            surface = count.surface
            best_in_domain: dict[str, float] = {}
            for target, weight in self.targets[term]:
                if target == CONSULTATION:
                    w = weight * self._repeat(count.asked)
                elif target == PROPOSAL:
                    w = weight * self._repeat(count.proposed)
                elif target in tax.types:
                    w = weight * self._repeat(count.type)
                else:
                    w = weight * self._repeat(count.category)
                if target in tax.types:
                    type_score[target] += w
                    type_words[target].append((w, surface))
                elif target in tax.subs:
                    sub[target] += w
                    sub_words[target].append((w, surface))
                    d = tax.subs[target][0]
                    best_in_domain[d] = max(best_in_domain.get(d, w), w)
                elif target in tax.domains:
                    best_in_domain[target] = max(best_in_domain.get(target, w), w)
                    own_words[target].append((w, surface))
            for d, w in best_in_domain.items():
                dom[d] += w
                dom_words[d].append((w, surface))
        prior_type: dict[str, float] = defaultdict(float)
        prior_dom: dict[str, float] = defaultdict(float)
        prior_sub: dict[str, float] = defaultdict(float)
        for target, weight in self.priors:
            if target in tax.types:
                prior_type[target] += weight
            elif target in tax.subs:
                prior_sub[target] += weight
            elif target in tax.domains:
                prior_dom[target] += weight

        types = _softmax({t: type_score[t] + prior_type[t] for t in tax.types}, TYPE_BETA)
        type_list = [
            Ranked(code, tax.types[code], round(p, 4), _words(type_words[code]))
            for code, p in _ranked(types)[:top]
        ]
        evidence = {d for d, s in dom.items() if s > 0}
        if not evidence:
            return Suggestion(type_list, [], [])
        p_dom = _softmax({d: dom[d] + prior_dom[d] for d in tax.domains}, CATEGORY_BETA)
        leaves: dict[str, float] = {}
        for d in evidence:
            subs = [s for s, (sd, _) in tax.subs.items() if sd == d]
            if not subs:
                leaves[d] = p_dom[d]
                continue
            p_sub = _softmax({s: sub[s] + prior_sub[s] for s in subs}, CATEGORY_BETA)
            for s in subs:
                leaves[s] = p_dom[d] * p_sub[s]
        domain_list = [
            Ranked(d, tax.domains[d], round(p, 4), _words(dom_words[d]), domain=d, label=tax.domains[d])
            for d, p in _ranked({d: p_dom[d] for d in evidence})[:top]
        ]
        # the first leaf lies in the first domain, so the pair an agent accepts is consistent;
        # the others follow by probability
        ranked = _ranked(leaves)
        first = next(kv for kv in ranked if _domain_of(kv[0], tax) == domain_list[0].code)
        ranked = [first, *(kv for kv in ranked if kv is not first)]
        leaf_list = []
        for code, p in ranked[:top]:
            d = tax.subs[code][0] if code in tax.subs else code
            words = _words(sub_words[code] + own_words[d]) if code in tax.subs else _words(dom_words[d])
            leaf_list.append(
                Ranked(code, tax.leaf_name(code), round(p, 4), words, domain=d, label=tax.leaf_label(code))
            )
        return Suggestion(type_list, domain_list, leaf_list)


def _domain_of(code: str, tax: Taxonomy) -> str:
    return tax.subs[code][0] if code in tax.subs else code


def _softmax(scores: dict[str, float], beta: float) -> dict[str, float]:
    if not scores:
        return {}
    peak = max(scores.values())
    exp = {k: math.exp(beta * (v - peak)) for k, v in scores.items()}
    total = sum(exp.values())
    return {k: v / total for k, v in exp.items()}


def _ranked(probs: dict[str, float]) -> list[tuple[str, float]]:
    return sorted(probs.items(), key=lambda kv: (-kv[1], kv[0]))


def _words(weighted: list[tuple[float, str]]) -> list[str]:
    """The deciding words, strongest first, each once (a surface can count for domain and sub)."""
    best: dict[str, float] = {}
    for w, surface in weighted:
        if w > 0:
            best[surface] = max(best.get(surface, 0.0), w)
    return [s for s, _ in sorted(best.items(), key=lambda kv: -kv[1])[:MAX_WORDS]]


@cache
def builtin_categoriser() -> Categoriser:
    """The categoriser on the shipped lexicon (evaluation, benchmarks; the node reads its own table)."""
    return Categoriser(builtin_entries())
