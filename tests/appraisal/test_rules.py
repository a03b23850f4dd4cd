"""Scoring rules and periods as pure functions (no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from node.appraisal import periods, rules
from node.errors import ValidationError

IND = {"on_time_rate": "限时办结率", "urges_received": "被催办次数", "aht": "平均处理时长"}


def item(**kw: object) -> rules.Item:
    base = {"key": "k", "indicator": "on_time_rate", "label": "x", "weight": 20.0, "rule": "linear"}
    return rules.Item(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.5, 0.0), (0.6, 0.0), (0.8, 10.0), (0.9, 15.0), (1.0, 20.0), (1.2, 20.0)],
)
def test_linear_between_floor_and_target(value: float, expected: float) -> None:
    assert rules.linear(value, 0.6, 1.0, 20) == pytest.approx(expected)


def test_linear_lower_is_better_when_target_below_floor() -> None:
    # handling time: 600 s gets 0, 240 s full marks
    assert rules.linear(600, 600, 240, 10) == 0
    assert rules.linear(420, 600, 240, 10) == pytest.approx(5)
    assert rules.linear(200, 600, 240, 10) == 10
    assert rules.linear(900, 600, 240, 10) == 0


def test_thresholds_take_the_best_band_reached() -> None:
    bands = ((95.0, 35.0), (90.0, 30.0), (80.0, 24.0))
    assert rules.thresholds(96, bands) == 35
    assert rules.thresholds(95, bands) == 35
    assert rules.thresholds(94.9, bands) == 30
    assert rules.thresholds(80, bands) == 24
    assert rules.thresholds(79.99, bands) == 0
    low = ((1.0, 10.0), (3.0, 5.0))  # at most 1 return: 10; at most 3: 5
    assert rules.thresholds(0, low, higher_better=False) == 10
    assert rules.thresholds(2, low, higher_better=False) == 5
    assert rules.thresholds(4, low, higher_better=False) == 0


def test_deduction_per_event_with_cap() -> None:
    assert rules.deduction(0, 2, 10) == 10
    assert rules.deduction(3, 2, 10) == 4
    assert rules.deduction(9, 2, 10) == 0  # never below zero
    assert rules.deduction(9, 2, 10, cap=5) == 5  # at most 5 taken off
    assert rules.deduction(-3, 2, 10) == 10


def test_missing_values_and_rescaled_total() -> None:
    a = item(key="a", weight=60.0, floor=0.0, target=1.0)
    b = item(key="b", weight=40.0, floor=0.0, target=1.0)
    assert rules.score(a, None) is None
    assert rules.score(item(missing="full"), None) == 20
    assert rules.score(item(missing="zero"), None) == 0
    # b excluded: a's 30 of 60 scales to 50 of 100
    assert rules.total([a, b], [30.0, None]) == 50
    assert rules.total([a, b], [30.0, 40.0]) == 70
    assert rules.total([a, b], [None, None]) == 0


def test_score_dispatches_on_the_rule() -> None:
    assert rules.score(item(floor=0.6, target=1.0), 0.8) == 10
    assert rules.score(item(rule="thresholds", bands=((0.9, 20.0), (0.8, 12.0))), 0.85) == 12
    assert rules.score(item(rule="deduction", per_event=3.0), 4) == 8


def test_parse_items_accepts_every_rule_and_names_each_problem() -> None:
    items = rules.parse_items(
        [
            {"indicator": "on_time_rate", "weight": 50, "rule": "linear", "floor": 0.6, "target": 1},
            {
                "indicator": "aht",
                "weight": 20,
                "rule": "thresholds",
                "bands": [[240, 20], [300, 10]],
                "higher_better": False,
            },
            {
                "indicator": "urges_received",
                "weight": 30,
                "rule": "deduction",
                "per_event": 2,
                "cap": 10,
                "missing": "full",
            },
        ],
        IND,
    )
    assert [i.label for i in items] == ["限时办结率", "平均处理时长", "被催办次数"]
    assert items[1].higher_better is False and items[2].cap == 10
    assert items[2].describe() == "每次扣 2 分，最多扣 10 分"
    assert rules.items_from_json([i.as_dict() for i in items]) == items

    with pytest.raises(ValidationError) as err:
        rules.parse_items(
            [
                {"indicator": "nope", "weight": -1, "rule": "linear", "floor": 1, "target": 1},
                {"indicator": "aht", "weight": 5, "rule": "thresholds", "bands": [[1, 9]]},
                {"indicator": "aht", "weight": "1e999", "rule": "deduction", "per_event": "x"},
                "junk",
            ],
            IND,
        )
    details = err.value.details
    assert "第1项.指标" in details and "第1项.权重" in details and "第1项.目标" in details
    assert details["第2项.第1档得分"] == "得分不能超过权重"
    assert details["第3项.代码"].startswith("考核项重复")
    assert details["第3项.权重"] == "数值超出范围" and details["第3项.每次扣分"] == "应为数字"
    assert details["第4项"] == "应为对象"
    with pytest.raises(ValidationError):
        rules.parse_items([], IND)
    with pytest.raises(ValidationError):
        rules.parse_items(
            [{"indicator": "aht", "label": "a\x00b", "weight": 1, "rule": "deduction", "per_event": 1}], IND
        )


def test_periods() -> None:
    nov = periods.parse("2026-11")
    assert (nov.start, nov.end, nov.label) == (
        dt.datetime(2026, 11, 1),
        dt.datetime(2026, 12, 1),
        "2026年11月",
    )
    assert periods.parse("2026-12").end == dt.datetime(2027, 1, 1)
    assert periods.parse("2026-01").previous().code == "2025-12"
    q = periods.parse("2026-Q1")
    assert (q.start, q.end, q.previous().code, q.label) == (
        dt.datetime(2026, 1, 1),
        dt.datetime(2026, 4, 1),
        "2025-Q4",
        "2026年第1季度",
    )
    assert periods.just_ended("month", dt.datetime(2026, 12, 1, 2)).code == "2026-11"
    assert periods.just_ended("quarter", dt.datetime(2026, 10, 1)).code == "2026-Q3"
    for bad in ("2026-13", "2026-00", "2026-Q5", "26-11", "", "2026-11\x00", "9999-01"):
        with pytest.raises(ValidationError):
            periods.parse(bad)
