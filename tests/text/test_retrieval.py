"""Retrieval: TF-IDF cosine weighted as scikit-learn's TfidfVectorizer, ranking, and the incremental
index (add, replace, remove, merge, refit) giving what a fresh index over the same documents gives."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from node.errors import ValidationError
from node.text import retrieval
from node.text.normalize import normalize
from node.text.retrieval import Retriever, TfidfIndex, article_text, features

ANSWERS = [
    "关于出租车拒载的投诉，已责令出租汽车公司对驾驶员进行教育并处罚款。",
    "关于高速公路收费站ETC重复扣费，经核实已退还多扣的通行费。",
    "关于公交线路调整，公交集团将于下月增开班次。",
    "网约车平台应当公示计程计价方式，乘客可拨打12328投诉。",
    "地铁2号线延伸段正在规划论证，建成后将方便沿线居民出行。",
]
QUERIES = ["ETC在收费站被扣了两次通行费", "出租车司机拒载", "网约车怎么计价", "地铁什么时候延伸"]


def fresh_scores(docs: list[str], query: str) -> Any:
    return TfidfIndex(enumerate(docs)).scores(query)


def test_weights_are_scikit_learns_tfidf_cosine() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(analyzer=features, sublinear_tf=True)
    matrix = vec.fit_transform([normalize(d) for d in ANSWERS])
    index = TfidfIndex(enumerate(ANSWERS))
    for q in QUERIES:
        expected = (matrix @ vec.transform([normalize(q)]).T).toarray().ravel()
        assert np.allclose(index.scores(q), expected)


def test_ranks_matching_answer_first_and_checks_input() -> None:
    r = Retriever([("", a) for a in ANSWERS])
    assert r.search("ETC在收费站被扣了两次通行费")[0][0] == 1
    assert r.search("出租车司机拒载")[0][0] == 0
    assert r.search("完全无关的内容ＸＹＺ")[:1] != [(1, 1.0)]
    for bad in ("", "   ", None):
        with pytest.raises(ValidationError):
            r.search(bad)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        r.search("出租车", k=0)
    with pytest.raises(ValidationError):
        Retriever([])
    with pytest.raises(ValidationError):
        Retriever([("a", "b")], keys=[1, 2])


def test_title_counts_twice_and_keys_are_the_callers() -> None:
    body = "请携带身份证到服务网点办理。"
    r = Retriever([("", f"公交卡挂失。{body}"), ("公交卡挂失", body)], keys=[80, 70])
    assert article_text("T", "B") == "T\nT\nB"
    assert [k for k, _ in r.search("公交卡挂失")] == [70, 80], "the same words weigh more in the title"


def test_ties_rank_by_insertion_order() -> None:
    r = Retriever([("", "出租车拒载投诉"), ("", "出租车拒载投诉"), ("", "公交")], keys=[9, 3, 5])
    ranked = r.search("出租车拒载")
    assert [k for k, _ in ranked] == [9, 3] and ranked[0][1] == ranked[1][1]


def test_added_replaced_and_removed_documents(monkeypatch: Any) -> None:
    monkeypatch.setattr(retrieval, "REFIT_SHARE", 10.0)  # no automatic refit: the delta path
    index = TfidfIndex(enumerate(ANSWERS[:3]))
    index.add(3, ANSWERS[3])
    assert index.search("网约车怎么计价")[0][0] == 3, "a new document (new words too) is found at once"
    index.add(0, "关于驾校退费，驾校应按合同约定退还未学部分的费用。")
    assert 0 not in [k for k, _ in index.search("出租车司机拒载")], "the old text of a replaced key is gone"
    assert index.search("驾校退费")[0][0] == 0
    index.remove(1)
    index.remove(1)  # removing an absent key does nothing
    assert 1 not in index and len(index) == 3
    assert all(k != 1 for k, _ in index.search("ETC收费站通行费", k=10))
    docs = {0: "关于驾校退费，驾校应按合同约定退还未学部分的费用。", 2: ANSWERS[2], 3: ANSWERS[3]}
    index.refit()
    expected = TfidfIndex(docs.items())
    for q in [*QUERIES, "驾校退费"]:
        got, want = index.search(q, k=5), expected.search(q, k=5)
        assert [k for k, _ in got] == [k for k, _ in want]
        assert np.allclose([s for _, s in got], [s for _, s in want])


def test_merged_rows_keep_their_scores_and_refit_is_automatic(monkeypatch: Any) -> None:
    monkeypatch.setattr(retrieval, "MERGE_ROWS", 2)
    monkeypatch.setattr(retrieval, "REFIT_SHARE", 10.0)
    index = TfidfIndex(enumerate(ANSWERS[:2]))
    fitted = index._main.toarray()  # rows 0 and 1 as weighted by the fit
    index.add(2, ANSWERS[2])
    index.add(3, ANSWERS[3])  # the second delta row: both move to the main matrix
    assert not index._delta and index._main.shape[0] == 4
    assert np.allclose(index._main[:2].toarray()[:, : fitted.shape[1]], fitted)
    assert index.search("公交线路调整")[0][0] == 2 and index.search("网约车计价")[0][0] == 3
    index.remove(2)
    assert index.scores("公交线路调整")[2] == 0.0
    monkeypatch.setattr(retrieval, "REFIT_SHARE", 0.5)
    index.add(4, ANSWERS[4])  # 4 changes since the fit ≥ 0.5 × 4 documents: refit
    assert index._changed == 0 and index.keys == [0, 1, 3, 4]
    for q in QUERIES:
        assert np.allclose(index.scores(q), fresh_scores([ANSWERS[i] for i in (0, 1, 3, 4)], q))


def test_an_index_emptied_and_filled_again() -> None:
    index = TfidfIndex([(1, ANSWERS[0])])
    index.remove(1)
    assert len(index) == 0 and index.search("出租车拒载") == []
    index.add(2, ANSWERS[2])
    assert index.search("公交线路调整")[0][0] == 2
