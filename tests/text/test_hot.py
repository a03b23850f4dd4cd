"""Burst detection: a rising topic is reported, a flat series is not."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from node.errors import ValidationError
from node.text.hot import TopicDoc, hot_topics

START = dt.datetime(2024, 6, 3)
WEEK = dt.timedelta(weeks=1)
ROUTINE = ["12路公交车晚点", "出租车拒载", "收费站排队太长", "驾校不退学费", "地铁电梯故障"]
STORM = ["暴雨导致G42高速封闭，车辆滞留", "G42高速封路，滞留车辆无人管", "暴雨封闭高速，大量车辆滞留服务区"]


def weekly(weeks: int, per_week: int, texts: list[str], first_id: int = 1) -> list[TopicDoc]:
    ids = itertools.count(first_id)
    cycle = itertools.cycle(texts)
    return [
        TopicDoc(
            next(ids),
            START - (weeks - w) * WEEK + dt.timedelta(hours=3 * k),
            next(cycle),
            region_code="320102",
        )
        for w in range(weeks + 1)
        for k in range(per_week)
    ]


def test_burst_is_detected() -> None:
    docs = weekly(4, 30, ROUTINE)
    storm = [
        TopicDoc(1000 + k, START + dt.timedelta(hours=5 * k), STORM[k % 3], f"S{k}", "320102")
        for k in range(12)
    ]
    result = hot_topics(docs + storm, START, START + WEEK)
    top_terms = [t.term for t in result.terms]
    assert "滞留" in top_terms[:3]
    assert result.terms[0].growth is None  # new this week
    assert result.terms[0].examples[0] == "S11"
    assert result.clusters and any("滞留" in c.terms for c in result.clusters)
    assert sum(c.volume for c in result.clusters) <= 12
    assert result.volume == 42


def test_flat_series_is_not_hot() -> None:
    result = hot_topics(weekly(4, 30, ROUTINE), START, START + WEEK)
    assert result.terms == []
    assert result.clusters == []


def test_growth_against_earlier_periods() -> None:
    docs = weekly(4, 20, ROUTINE)
    extra = [TopicDoc(500 + k, START + dt.timedelta(hours=k), "出租车拒载还绕路") for k in range(20)]
    result = hot_topics(docs + extra, START, START + WEEK)
    term = next(t for t in result.terms if t.term == "拒载")
    assert term.count == 24 and term.baseline == 4.0 and term.growth == 5.0


def test_region_and_domain_filters() -> None:
    storm = [
        TopicDoc(k, START + dt.timedelta(hours=k), STORM[k % 3], region_code="320500", domain="01")
        for k in range(12)
    ]
    docs = weekly(4, 30, ROUTINE) + storm
    assert hot_topics(docs, START, START + WEEK, region="3201").terms == []
    assert hot_topics(docs, START, START + WEEK, region="3205", domain="01").terms
    assert hot_topics(docs, START, START + WEEK, domain="04").terms == []


def test_validation() -> None:
    with pytest.raises(ValidationError):
        hot_topics([], START, START)
    with pytest.raises(ValidationError):
        hot_topics([], START, START + WEEK, periods=0)
    with pytest.raises(ValidationError):
        hot_topics([], START, START + WEEK, similarity=1.5)
