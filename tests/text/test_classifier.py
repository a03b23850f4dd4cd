"""The classifier learns a toy task; evaluation figures, CSV reading, keyword rules."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import pytest

from node.errors import ValidationError
from node.text import classifier as C

TAXI = ["出租车司机拒载", "的士不打表还绕路", "网约车司机乱收费", "出租车司机态度恶劣", "打车被拒载"]
BUS = ["公交车晚点一小时", "公交站台没有站牌", "公交司机急刹车", "公交车不停站", "公交线路调整没有通知"]
ROAD = ["高速公路收费站排队", "ETC重复扣费", "收费站多收过路费", "高速收费标准不合理", "通行费扣了两次"]


def toy() -> tuple[list[str], list[str]]:
    docs, labels = [], []
    for label, texts in (("taxi", TAXI), ("bus", BUS), ("road", ROAD)):
        for a, b in itertools.product(texts, repeat=2):
            if a != b:
                docs.append(C.make_document(a, b + "，请尽快处理"))
                labels.append(label)
    return docs, labels


@pytest.fixture(scope="module")
def trained() -> C.TextClassifier:
    docs, labels = toy()
    return C.TextClassifier().fit(docs, labels)


def test_learns_toy_task(trained: C.TextClassifier) -> None:
    assert trained.calibrated
    assert trained.predict(C.make_document("", "出租车司机拒载还绕路"))[0][0] == "taxi"
    assert trained.predict(C.make_document("", "公交车不停站"))[0][0] == "bus"
    label, confidence = trained.predict(C.make_document("ETC扣费", "收费站多收钱"))[0]
    assert label == "road" and 0.5 < confidence <= 1.0
    probs = [p for _, p in trained.predict(C.make_document("", "公交站台"), top=3)]
    assert probs == sorted(probs, reverse=True) and abs(sum(probs) - 1) < 1e-6


def test_fast_path_matches_pipeline(trained: C.TextClassifier) -> None:
    docs = [C.make_document("", t) for t in ["出租车拒载", "公交晚点", "收费站", "完全无关的话"]]
    batch = trained.pipeline_proba(docs)
    single = np.vstack([trained.predict_proba([d]) for d in docs])
    assert np.allclose(batch, single, atol=1e-9)


def test_dumps_and_loads(trained: C.TextClassifier) -> None:
    again = C.TextClassifier.loads(trained.dumps())
    doc = C.make_document("", "的士绕路")
    assert again.predict(doc) == trained.predict(doc)


def test_uncalibrated_when_classes_are_tiny() -> None:
    clf = C.TextClassifier().fit(["出租车拒载", "的士绕路", "公交晚点", "公交不停站"], ["t", "t", "b", "b"])
    assert not clf.calibrated
    assert clf.predict("出租车绕路")[0][0] == "t"
    docs = ["出租车绕路", "公交晚点了", "完全无关的话"]  # a binary model: the fast path matches too
    single = np.vstack([clf.predict_proba([d]) for d in docs])
    assert np.allclose(clf.pipeline_proba(docs), single, atol=1e-9)


def test_evaluate_reports_per_class(trained: C.TextClassifier) -> None:
    docs = [
        C.make_document("", "出租车拒载"),
        C.make_document("", "公交晚点"),
        C.make_document("", "ETC扣费"),
    ]
    report = C.evaluate(trained, docs, ["taxi", "bus", "bus"])  # the last label is deliberately wrong
    assert report.accuracy == pytest.approx(2 / 3)
    assert report.per_class["road"]["precision"] == 0.0
    assert report.per_class["bus"]["recall"] == 0.5
    assert "宏平均F1" in report.format()
    with pytest.raises(ValidationError):
        C.evaluate(trained, [], [])


def test_fit_validation() -> None:
    with pytest.raises(ValidationError):
        C.TextClassifier().fit(["a", "b"], ["x", "x"])
    with pytest.raises(ValidationError):
        C.TextClassifier().fit(["a"], ["x", "y"])
    with pytest.raises(ValidationError):
        C.TextClassifier().predict("未训练")


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_csv_training_dedupes_and_holds_out(tmp_path: Path) -> None:
    docs, labels = toy()
    rows = [{"body": d.replace("\n", "。"), "cat": lab} for d, lab in zip(docs, labels, strict=True)]
    rows += [rows[0], {"body": rows[0]["body"], "cat": "bus"}]  # a repeat and a conflicting label
    path = write_csv(tmp_path / "toy.csv", rows)
    _, report, data = C.train_from_csv(path, "body", "cat", holdout=0.3)
    assert data.dropped_duplicates == 2 and data.conflicting == 1
    assert data.labels[data.docs.index(C.make_document("", rows[0]["body"]))] == "taxi"
    assert report is not None and report.samples > 0 and report.accuracy > 0.8
    train, test = C.split(data, 0.3)
    assert not set(train.docs) & set(test.docs)


def test_copies_of_a_message_stay_on_one_side() -> None:
    a = C.make_document("出租车拒载", "今天上午在南京南站，出租车司机拒载，态度恶劣！")
    b = C.make_document(
        "", "今天上午在南京南站 出租车司机拒载 态度恶劣"
    )  # same message, no title, other punctuation
    c = C.make_document("", "今天上午在南京南站出租车司机拒载，态度恶劣，还骂人")
    assert C.split_key(a) == C.split_key(b) != C.split_key(c)
    assert C.split_key(C.make_document("只有标题", "")) == "只有标题"
    # a short content does not identify a message: the title counts too
    assert C.split_key(C.make_document("公交晚点", "请处理")) != C.split_key(
        C.make_document("出租车拒载", "请处理")
    )
    for salt in map(str, range(50)):
        assert C.is_holdout(a, 0.5, salt) == C.is_holdout(b, 0.5, salt)
    assert {C.is_holdout(a, 0.5, s) for s in map(str, range(50))} == {True, False}


def test_cross_validation_tests_every_document_once() -> None:
    docs, labels = toy()
    data = C.Dataset(docs, labels)
    reports = C.cross_validate(data, folds=3)
    assert len(reports) == 3
    assert sum(r.samples for r in reports) == len(docs)
    assert all(r.samples > 0 for r in reports)
    assert sum(r.accuracy * r.samples for r in reports) / len(docs) > 0.8
    with pytest.raises(ValidationError, match="折数"):
        C.cross_validate(data, folds=1)
    with pytest.raises(ValidationError, match="太少"):
        C.cross_validate(C.Dataset(["出租车拒载", "公交晚点"], ["t", "b"]), folds=2)


def test_csv_errors(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="找不到文件"):
        C.read_csv(tmp_path / "none.csv", "a", "b")
    path = write_csv(tmp_path / "x.csv", [{"a": "文本", "b": "标签"}])
    with pytest.raises(ValidationError, match="没有列"):
        C.read_csv(path, "text", "b")
    empty = write_csv(tmp_path / "e.csv", [{"a": "", "b": "标签"}])
    with pytest.raises(ValidationError, match="没有可用"):
        C.read_csv(empty, "a", "b")
    with pytest.raises(ValidationError):
        C.split(C.Dataset(["a"], ["b"]), 1.5)


def test_explain_names_the_words_that_decided(trained: C.TextClassifier) -> None:
    doc = C.make_document("", "出租车司机拒载，公交车也晚点")
    taxi = trained.explain(doc, "taxi")
    bus = trained.explain(doc, "bus")
    assert "拒载" in taxi and "拒载" not in bus and any("公交" in w for w in bus)
    assert trained.explain(doc, "ferry") == []
    binary = C.TextClassifier().fit(
        [C.make_document("", t) for t in ["出租车拒载", "的士绕路", "公交晚点", "公交不停站"]],
        ["taxi", "taxi", "bus", "bus"],
    )
    assert not binary.calibrated
    assert "公交" in binary.explain(C.make_document("", "公交晚点"), "bus")
    assert "公交" not in binary.explain(C.make_document("", "公交晚点"), "taxi")


def test_evaluate_predictions_of_anything() -> None:
    report = C.evaluate_predictions(["a", "a", "b"], ["a", "b", "b"])
    assert report.samples == 3 and abs(report.accuracy - 2 / 3) < 1e-9
    with pytest.raises(ValidationError):
        C.evaluate_predictions(["a"], [])
