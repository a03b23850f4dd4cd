"""Retrieval ranks the matching answer first."""

from __future__ import annotations

import pytest

from node.errors import ValidationError
from node.text.retrieval import TfidfRetriever


def test_ranks_matching_answer_first() -> None:
    answers = [
        "关于出租车拒载的投诉，已责令出租汽车公司对驾驶员进行教育并处罚款。",
        "关于高速公路收费站ETC重复扣费，经核实已退还多扣的通行费。",
        "关于公交线路调整，公交集团将于下月增开班次。",
    ]
    r = TfidfRetriever(answers)
    assert r.search("ETC在收费站被扣了两次通行费")[0][0] == 1
    assert r.search("出租车司机拒载")[0][0] == 0
    with pytest.raises(ValidationError):
        r.search("")
    with pytest.raises(ValidationError):
        TfidfRetriever([])
