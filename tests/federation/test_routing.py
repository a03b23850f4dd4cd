"""Hub-and-spoke routing by region code."""

from __future__ import annotations

import pytest

from federation import routing as R
from node.errors import ValidationError


def test_parents_and_levels() -> None:
    assert R.parent_of("320100") == "320000"
    assert R.parent_of("320000") == "000000"
    assert R.parent_of("000000") is None
    assert [R.level_of(n) for n in ("000000", "320000", "320100")] == ["ministry", "province", "city"]


def test_paths_go_up_to_the_common_ancestor_then_down() -> None:
    assert R.path("320100", "320200") == ["320100", "320000", "320200"]
    assert R.path("320100", "440300") == ["320100", "320000", "000000", "440000", "440300"]
    assert R.path("000000", "440300") == ["000000", "440000", "440300"]
    assert R.path("440300", "440000") == ["440300", "440000"]
    assert R.lowest_common_ancestor("320100", "320500") == "320000"
    assert R.lowest_common_ancestor("320100", "440300") == "000000"


def test_node_for_region_maps_counties_to_cities() -> None:
    assert R.node_for_region("320102") == "320100"
    assert R.node_for_region("440000") == "440000"
    with pytest.raises(ValidationError):
        R.node_for_region("12a456")


def test_relay_rule_is_the_reverse_route() -> None:
    at_ministry = R.relay_allowed("000000")
    assert at_ministry("320000", "320100")
    assert not at_ministry("440000", "320100")  # Guangdong cannot relay for a Jiangsu city
    at_city = R.relay_allowed("320200")
    assert at_city("320000", "440300") and at_city("320000", "320100")
    assert not at_city("320000", "320200")  # nobody relays our own messages back to us
    assert not at_city("320000", "bogus")


@pytest.mark.parametrize("bad", ["32010", "320101", "abcdef", "", "320001"])
def test_invalid_nodes(bad: str) -> None:
    with pytest.raises(ValidationError):
        R.next_hop("320100", bad)
    with pytest.raises(ValidationError):
        R.next_hop("320100", "320100")
