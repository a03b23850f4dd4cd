"""Keyword rules built from the catalog (关键词规则), used until the node has its own history.

Each domain and sub-business contributes its own name plus the everyday words callers use for
it; business types are recognised by how the caller phrases the request. Codes come from the
catalog's code tables (`node.catalog.data`), so the rules follow a catalog update.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from node.errors import ValidationError
from node.text.normalize import normalize

# Everyday words per domain name (领域常用词).
DOMAIN_WORDS: dict[str, list[str]] = {
    "公路": [
        "公路",
        "高速",
        "高速公路",
        "国道",
        "省道",
        "县道",
        "收费站",
        "服务区",
        "路面",
        "路灯",
        "护栏",
        "隧道",
        "桥梁",
        "ETC",
        "通行费",
        "过路费",
        "绿色通道",
        "施工",
        "坑",
        "塌方",
        "养护",
        "超限",
        "路政",
    ],
    "水路": ["水路", "港口", "码头", "航道", "客船", "货船", "船票", "渡口", "内河", "航运", "水运", "船闸"],
    "道路运输": [
        "客运站",
        "汽车站",
        "长途",
        "班车",
        "大巴",
        "客车",
        "货车",
        "货运",
        "物流",
        "驾校",
        "学车",
        "驾照",
        "教练",
        "维修",
        "修车",
        "4S店",
        "租车",
        "租赁",
        "挂靠",
        "营运证",
        "道路运输证",
        "危险品",
        "超载",
    ],
    "城市客运": [
        "公交",
        "公交车",
        "站台",
        "地铁",
        "轻轨",
        "出租车",
        "的士",
        "网约车",
        "滴滴",
        "拒载",
        "绕路",
        "打表",
        "轮渡",
        "乘车码",
        "线路",
        "巴士",
    ],
    "海上搜救": ["海上", "落水", "遇险", "求救", "失联", "搜救", "沉船", "翻船", "漂流"],
    "海事": [
        "海事",
        "船舶",
        "船员",
        "渔船",
        "适任证",
        "船检",
        "航标",
        "污染",
        "溢油",
        "危险货物",
        "通航",
        "签证",
    ],
    "救助打捞": ["打捞", "沉船打捞", "潜水", "潜水员", "救捞", "水下工程"],
    "铁路": ["火车", "高铁", "动车", "铁路", "12306", "列车", "火车站", "车次"],
    "民航": ["飞机", "航班", "机场", "民航", "机票", "航空公司", "登机", "行李"],
    "邮政": ["快递", "邮政", "包裹", "邮件", "快递员", "物流", "寄件", "邮局"],
}

# Everyday words per sub-business name (子业务常用词).
SUB_WORDS: dict[str, list[str]] = {
    "公路收费": ["收费站", "通行费", "过路费", "ETC", "收费", "扣费", "绿色通道"],
    "养护保通": ["路面", "坑", "坑洼", "坑槽", "破损", "养护", "积水", "路灯", "护栏", "塌方", "落石"],
    "路网服务": ["服务区", "路况", "拥堵", "封路", "绕行", "导航", "指示牌"],
    "路政执法": ["路政", "占道", "超限", "违法建筑", "执法"],
    "工程建设": ["施工", "工程", "修路", "改扩建", "工地"],
    "道路旅客运输": ["客运", "班车", "大巴", "长途", "客车", "车票", "乘客"],
    "道路货物运输": ["货运", "货车", "物流", "拉货", "货拉拉"],
    "枢纽场站": ["客运站", "汽车站", "车站", "售票", "候车"],
    "汽车维修": ["维修", "修车", "4S店", "维修厂", "配件"],
    "机动车驾驶员培训": ["驾校", "学车", "教练", "驾照", "考试", "培训费"],
    "汽车租赁": ["租车", "租赁", "押金"],
    "公共汽电车": ["公交", "公交车", "站台", "公交站", "乘车码", "刷卡", "首末班", "候车亭"],
    "城市轨道": ["地铁", "轻轨", "号线", "地铁站"],
    "出租汽车": ["出租车", "的士", "网约车", "滴滴", "拒载", "绕路", "打表", "议价", "司机", "顺风车"],
    "城市轮渡": ["轮渡", "渡轮", "渡口"],
    "人命救助": ["落水", "求救", "遇险", "失联", "溺水", "人员"],
    "财产救助": ["货物", "财产", "船舶搁浅"],
    "环境救助": ["溢油", "污染", "泄漏"],
    "船员管理": ["船员", "适任证", "船员证", "培训"],
    "船舶检验": ["船检", "检验"],
    "危管防污": ["污染", "溢油", "危险货物", "防污"],
    "潜水员管理": ["潜水员", "潜水"],
}

# How a caller phrases a request decides the business type (业务类型).
TYPE_WORDS: dict[str, list[str]] = {
    "投诉举报": [
        "投诉",
        "举报",
        "拒载",
        "绕路",
        "宰客",
        "态度恶劣",
        "乱收费",
        "多收",
        "违规",
        "违法",
        "不文明",
        "骂人",
        "欺骗",
        "不退",
        "扣分",
        "要求处理",
        "严肃处理",
        "曝光",
        "黑车",
        "非法营运",
    ],
    "信息咨询": [
        "咨询",
        "请问",
        "怎么",
        "如何",
        "是否",
        "能否",
        "多少",
        "什么时候",
        "几点",
        "哪里",
        "查询",
        "想问",
        "需要什么",
        "办理",
        "电话",
    ],
    "意见建议": [
        "建议",
        "希望增加",
        "希望开通",
        "增设",
        "增开",
        "优化",
        "改进",
        "提议",
        "呼吁",
        "能不能增加",
        "是否可以考虑",
    ],
}


@dataclass(frozen=True)
class Label:
    code: str
    name: str


class KeywordRules:
    """A classifier made of keyword lists: the label whose words match most (longer words weigh
    more) wins; confidence is its share of the matched weight, damped when little matched."""

    def __init__(self, rules: dict[Label, list[str]]):
        if not rules:
            raise ValidationError("关键词规则不能为空")
        self.rules = {
            label: sorted({normalize(w).lower() for w in words if w}) for label, words in rules.items()
        }

    @property
    def labels(self) -> list[Label]:
        return list(self.rules)

    def scores(self, text: str) -> dict[Label, float]:
        low = normalize(text).lower()
        out: dict[Label, float] = {}
        for label, words in self.rules.items():
            score = sum(min(len(w), 4) * low.count(w) for w in words)
            if score:
                out[label] = float(score)
        return out

    def predict(self, text: str, top: int = 3) -> list[tuple[Label, float]]:
        scores = self.scores(text)
        total = sum(scores.values())
        if not total:
            return []
        damp = min(1.0, total / 8.0)
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0].code))
        return [(label, round(score / total * damp, 4)) for label, score in ranked[:top]]


@cache
def catalog_rules(kind: str) -> KeywordRules:
    """Rules for `business_type`, `domain` or `sub_business`, with the catalog's codes (built
    once per process: the code tables are constants of the release)."""
    from node.catalog import data

    rules: dict[Label, list[str]] = {}
    if kind == "business_type":
        for code, name in data.BUSINESS_TYPES:
            rules[Label(code, name)] = [name, *TYPE_WORDS.get(name, [])]
    elif kind == "domain":
        for code, name, *_ in data.DOMAINS:
            subs = data.SUB_BUSINESSES.get(code, [])
            rules[Label(code, name)] = [name, *subs, *DOMAIN_WORDS.get(name, [])]
    elif kind == "sub_business":
        for dcode, subs in data.SUB_BUSINESSES.items():
            for i, name in enumerate(subs, start=1):
                rules[Label(f"{dcode}{i:02d}", name)] = [name, *SUB_WORDS.get(name, [])]
    else:
        raise ValidationError(f"未知的分类类型：{kind}")
    return KeywordRules(rules)
