"""统计分析: the indicator engine (`engine.compute`), periods, report forms and historical import.

from node.analytics import compute, drill, parse_period
rows = compute(["volume", "on_time_rate"], parse_period("2026-11"), group_by=["business_type"])
"""

from node.analytics.engine import DIMENSIONS, INDICATORS, MEASURES, compute, describe, drill, measure_counts
from node.analytics.periods import Period, parse_period

__all__ = [
    "DIMENSIONS",
    "INDICATORS",
    "MEASURES",
    "Period",
    "compute",
    "describe",
    "drill",
    "measure_counts",
    "parse_period",
]
