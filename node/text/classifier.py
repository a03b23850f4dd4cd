"""Text classifier (自动归类): TF-IDF on jieba words, character n-grams and title words, a linear
SVM with calibrated confidences (scikit-learn). Trained from a labelled CSV or from the node's
archived orders; evaluation prints accuracy, macro-F1 and per-class precision/recall/F1.

A document is `title + "\\n" + content` (the title may be empty); texts are normalised first.
Held-out splits and cross-validation folds go by a hash of the content's letters and digits
(`split_key`), so copies of one message (with or without a title, other punctuation) never sit
on both sides.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node.errors import ValidationError
from node.text.normalize import normalize
from node.text.segment import cut

ALGORITHM = "tfidf(word+char1-3+title)+linearsvc"
# Content beyond this many characters is not read: it bounds inference time on very long texts
# and barely changes accuracy (held-out macro-F1 on the Teddy messages moved by < 0.002).
MAX_CONTENT_CHARS = 800


def _words(doc: str) -> list[str]:
    return [w.lower() for w in cut(doc, normalized=True, hmm=False)]


def _title_words(doc: str) -> list[str]:
    title, sep, _ = doc.partition("\n")
    return _words(title) if sep and title else []


def make_document(title: str, content: str) -> str:
    """The normalised document the classifier reads."""
    title = normalize(title or "").replace("\n", " ")
    return f"{title}\n{normalize(content or '')[:MAX_CONTENT_CHARS]}"


@dataclass
class Report:
    """Evaluation figures (评估结果)."""

    samples: int
    accuracy: float
    macro_f1: float
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "per_class": self.per_class,
        }

    def format(self) -> str:
        lines = [
            f"样本数：{self.samples}",
            f"准确率（accuracy）：{self.accuracy:.4f}",
            f"宏平均F1（macro-F1）：{self.macro_f1:.4f}",
            f"{'类别':<12}\t精确率\t召回率\tF1\t样本数",
        ]
        for label, m in sorted(self.per_class.items()):
            lines.append(
                f"{label:<12}\t{m['precision']:.4f}\t{m['recall']:.4f}\t{m['f1']:.4f}\t{int(m['support'])}"
            )
        return "\n".join(lines)


class TextClassifier:
    """Fit on documents and labels; `predict(doc)` gives the top labels with confidences."""

    def __init__(self, c: float = 1.0):
        self.c = c
        self.pipeline: Any = None
        self.labels: list[str] = []
        self.calibrated = False
        self.train_seconds = 0.0
        self._compiled: _Compiled | None = None

    def fit(self, docs: Sequence[str], labels: Sequence[str]) -> TextClassifier:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import FeatureUnion, Pipeline
        from sklearn.svm import LinearSVC

        if len(docs) != len(labels):
            raise ValidationError("训练文本与标签数量不一致")
        counts = Counter(labels)
        if len(counts) < 2:
            raise ValidationError("训练数据至少需要两个类别")
        if any(not d.strip() for d in docs):
            raise ValidationError("训练文本不能为空")
        started = time.perf_counter()
        blocks: list[tuple[str, Any]] = [("words", TfidfVectorizer(analyzer=_words, sublinear_tf=True))]
        if any(_title_words(d) for d in docs):
            blocks.append(("title", TfidfVectorizer(analyzer=_title_words, sublinear_tf=True)))
        min_df = 2 if len(docs) >= 200 else 1
        blocks.append(
            ("chars", TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=min_df))
        )
        features = FeatureUnion(blocks)
        svm = LinearSVC(C=self.c, class_weight="balanced")
        self.calibrated = min(counts.values()) >= 3
        model = (
            CalibratedClassifierCV(svm, cv=3, method="sigmoid", ensemble=False) if self.calibrated else svm
        )
        self.pipeline = Pipeline([("features", features), ("model", model)])
        self.pipeline.fit(list(docs), list(labels))
        self.labels = [str(x) for x in self.pipeline.classes_]
        self._compiled = None
        self.train_seconds = time.perf_counter() - started
        return self

    def _require(self) -> None:
        if self.pipeline is None:
            raise ValidationError("分类模型尚未训练")

    def _compile(self) -> _Compiled:
        if self._compiled is None:
            self._require()
            self._compiled = _Compiled(self.pipeline, self.calibrated)
        return self._compiled

    def predict_proba(self, docs: Sequence[str]) -> Any:
        """Probabilities per class (columns in `labels` order); single documents take the fast path."""
        import numpy as np

        self._require()
        if len(docs) == 1:
            return np.atleast_2d(self._compile().proba(docs[0]))
        return self.pipeline_proba(docs)

    def pipeline_proba(self, docs: Sequence[str]) -> Any:
        import numpy as np

        if self.calibrated:
            return self.pipeline.predict_proba(list(docs))
        # a binary model gives one score per document: one column, not one row
        return _svm_proba(np.reshape(self.pipeline.decision_function(list(docs)), (len(docs), -1)))

    def predict(self, doc: str, top: int = 3) -> list[tuple[str, float]]:
        probs = self.predict_proba([doc])[0]
        order = probs.argsort()[::-1][:top]
        return [(self.labels[i], round(float(probs[i]), 4)) for i in order]

    def explain(self, doc: str, label: str, k: int = 6) -> list[str]:
        """The words of `doc` that pushed it most towards `label` (deciding words shown to agents)."""
        if label not in self.labels:
            return []
        return self._compile().explain(doc, self.labels.index(label), k)

    def predict_labels(self, docs: Sequence[str]) -> list[str]:
        probs = self.predict_proba(docs)
        return [self.labels[i] for i in probs.argmax(axis=1)]

    def dumps(self) -> bytes:
        import joblib

        self._require()
        buf = io.BytesIO()
        joblib.dump(
            {
                "pipeline": self.pipeline,
                "labels": self.labels,
                "calibrated": self.calibrated,
                "c": self.c,
                "algorithm": ALGORITHM,
            },
            buf,
            compress=3,
        )
        return buf.getvalue()

    @classmethod
    def loads(cls, blob: bytes) -> TextClassifier:
        """Load a model this node wrote (joblib pickle: only ever from the node's own database or files)."""
        import joblib

        data = joblib.load(io.BytesIO(blob))
        clf = cls(c=data["c"])
        clf.pipeline, clf.labels, clf.calibrated = data["pipeline"], data["labels"], data["calibrated"]
        return clf


def _svm_proba(scores: Any) -> Any:
    """Confidences of an uncalibrated LinearSVC from its decision scores (last axis: classes; a
    binary model has one column, for the second class): a softmax at temperature 1/3."""
    import numpy as np

    if scores.shape[-1] == 1:
        scores = np.concatenate([-scores, scores], axis=-1)
    exp = np.exp(3.0 * (scores - scores.max(axis=-1, keepdims=True)))
    return exp / exp.sum(axis=-1, keepdims=True)


class _Compiled:
    """The fitted pipeline unrolled into dictionaries and one weight matrix: a single document is
    scored without scikit-learn's per-call overhead (same numbers as the pipeline, see the tests)."""

    def __init__(self, pipeline: Any, calibrated: bool):
        import numpy as np

        features = pipeline.named_steps["features"]
        model = pipeline.named_steps["model"]
        self.blocks: list[tuple[Any, dict[str, int], Any, int]] = []
        offset = 0
        for _, vec in features.transformer_list:
            self.blocks.append((vec.build_analyzer(), vec.vocabulary_, vec.idf_.astype(np.float64), offset))
            offset += len(vec.vocabulary_)
        if calibrated:
            inner = model.calibrated_classifiers_[0]
            svm = inner.estimator
            self.a = np.array([c.a_ for c in inner.calibrators], dtype=np.float64)
            self.b = np.array([c.b_ for c in inner.calibrators], dtype=np.float64)
        else:
            svm = model
            self.a = self.b = None
        self.weights = np.ascontiguousarray(svm.coef_.T, dtype=np.float64)  # features × classes
        self.intercept = np.asarray(svm.intercept_, dtype=np.float64)
        self.n_classes = len(model.classes_)

    def explain(self, doc: str, column: int, k: int) -> list[str]:
        """Word and title-word features by their contribution (tf-idf × weight) to one class."""
        import numpy as np

        sign = 1.0
        if self.weights.shape[1] == 1:  # a binary SVM has one weight column, positive = second class
            sign, column = (1.0 if column == 1 else -1.0), 0
        best: dict[str, float] = {}
        for analyzer, vocab, idf, offset in self.blocks[:-1]:  # the last block is character n-grams
            counts: dict[str, int] = {}
            for gram in analyzer(doc):
                if gram in vocab:
                    counts[gram] = counts.get(gram, 0) + 1
            if not counts:
                continue
            grams = list(counts)
            idx = np.array([vocab[g] for g in grams], dtype=np.int64)
            vals = (np.log(np.array([counts[g] for g in grams], dtype=np.float64)) + 1.0) * idf[idx]
            vals /= np.sqrt(vals @ vals)
            contrib = sign * vals * self.weights[idx + offset, column]
            for gram, c in zip(grams, contrib, strict=True):
                if c > 0 and len(gram.strip()) > 0:
                    best[gram] = max(best.get(gram, 0.0), float(c))
        return [g for g, _ in sorted(best.items(), key=lambda kv: -kv[1])[:k]]

    def proba(self, doc: str) -> Any:
        import numpy as np

        scores = self.intercept.copy()
        for analyzer, vocab, idf, offset in self.blocks:
            counts: dict[int, int] = {}
            for gram in analyzer(doc):
                j = vocab.get(gram)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            if not counts:
                continue
            idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
            vals = (np.log(tf) + 1.0) * idf[idx]
            vals /= np.sqrt(vals @ vals)
            scores += vals @ self.weights[idx + offset]
        if self.a is None:
            return _svm_proba(scores)
        proba = 1.0 / (1.0 + np.exp(self.a * scores + self.b))
        if self.n_classes == 2:
            return np.array([1.0 - proba[0], proba[0]])
        total = proba.sum()
        return proba / total if total > 0 else np.full(self.n_classes, 1.0 / self.n_classes)


def evaluate(clf: TextClassifier, docs: Sequence[str], labels: Sequence[str]) -> Report:
    """Accuracy, macro-F1 and per-class precision/recall/F1 of `clf` on labelled documents."""
    if not docs or len(docs) != len(labels):
        raise ValidationError("评估数据为空或文本与标签数量不一致")
    started = time.perf_counter()
    report = evaluate_predictions(labels, clf.predict_labels(docs))
    report.seconds = time.perf_counter() - started
    return report


def evaluate_predictions(labels: Sequence[str], predicted: Sequence[str]) -> Report:
    """The same figures for predictions made by anything (e.g. the keyword rules)."""
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    if not labels or len(labels) != len(predicted):
        raise ValidationError("评估数据为空或预测与标签数量不一致")
    classes = sorted(set(labels) | set(predicted))
    p, r, f, s = precision_recall_fscore_support(labels, predicted, labels=classes, zero_division=0)
    per_class = {
        c: {
            "precision": round(float(p[i]), 4),
            "recall": round(float(r[i]), 4),
            "f1": round(float(f[i]), 4),
            "support": int(s[i]),
        }
        for i, c in enumerate(classes)
    }
    present = sorted(set(labels))
    return Report(
        samples=len(labels),
        accuracy=float(accuracy_score(labels, predicted)),
        macro_f1=float(f1_score(labels, predicted, labels=present, average="macro", zero_division=0)),
        per_class=per_class,
    )


# ---- CSV data -----------------------------------------------------------------------------------


@dataclass
class Dataset:
    docs: list[str]
    labels: list[str]
    dropped_duplicates: int = 0
    conflicting: int = 0


def read_csv(path: str | Path, text_col: str, label_col: str, title_col: str | None = None) -> Dataset:
    """Labelled documents from a CSV (UTF-8, header row). Identical texts are kept once with their
    most frequent label (ties: first seen); `conflicting` counts texts seen with several labels."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"找不到文件：{path}")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        for col in filter(None, [text_col, label_col, title_col]):
            if col not in header:
                raise ValidationError(f"CSV 中没有列“{col}”（现有列：{', '.join(header)}）")
        by_doc: dict[str, Counter[str]] = defaultdict(Counter)
        rows = 0
        for row in reader:
            label = (row.get(label_col) or "").strip()
            text = row.get(text_col) or ""
            title = row.get(title_col) or "" if title_col else ""
            if not label or not (text.strip() or title.strip()):
                continue
            rows += 1
            by_doc[make_document(title, text)][label] += 1
    if not by_doc:
        raise ValidationError("CSV 中没有可用的带标签文本")
    docs = list(by_doc)
    labels = [by_doc[d].most_common(1)[0][0] for d in docs]
    conflicting = sum(1 for d in docs if len(by_doc[d]) > 1)
    return Dataset(docs, labels, dropped_duplicates=rows - len(docs), conflicting=conflicting)


_SPLIT_DROP_RE = re.compile(r"[^0-9a-z\u3400-\u9fff]+")


def split_key(doc: str) -> str:
    """What decides a document's side of a split: the letters, digits and Chinese characters of
    the content, or of title and content when the content is short (under 20 of them) and so
    does not identify a message by itself."""
    title, _, content = doc.partition("\n")
    key = _SPLIT_DROP_RE.sub("", content.lower())
    if len(key) < 20:
        key = _SPLIT_DROP_RE.sub("", title.lower()) + key
    return key or doc


def _unit(doc: str, salt: str) -> float:
    digest = hashlib.sha1((salt + split_key(doc)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def is_holdout(doc: str, holdout: float, salt: str = "") -> bool:
    """Deterministic split by a hash of `split_key(doc)`, so copies of a message fall on one side."""
    return _unit(doc, salt) < holdout


def split(data: Dataset, holdout: float, salt: str = "") -> tuple[Dataset, Dataset]:
    if not 0.0 <= holdout < 1.0:
        raise ValidationError("留出比例应在0到1之间")
    train, test = Dataset([], []), Dataset([], [])
    for doc, label in zip(data.docs, data.labels, strict=True):
        part = test if is_holdout(doc, holdout, salt) else train
        part.docs.append(doc)
        part.labels.append(label)
    return train, test


def cross_validate(data: Dataset, folds: int = 5, *, c: float = 1.0, salt: str = "cv") -> list[Report]:
    """k-fold cross-validation (folds by `split_key` hash): one report per fold, each on documents
    the fold's model never saw; every document is tested exactly once."""
    if not isinstance(folds, int) or not 2 <= folds <= 20:
        raise ValidationError("交叉验证折数应在2至20之间")
    fold_of = [min(int(_unit(d, salt) * folds), folds - 1) for d in data.docs]
    reports = []
    for k in range(folds):
        train = [(d, y) for d, y, f in zip(data.docs, data.labels, fold_of, strict=True) if f != k]
        test = [(d, y) for d, y, f in zip(data.docs, data.labels, fold_of, strict=True) if f == k]
        if not test or len({y for _, y in train}) < 2:
            raise ValidationError("数据太少，无法做交叉验证")
        clf = TextClassifier(c=c).fit([d for d, _ in train], [y for _, y in train])
        reports.append(evaluate(clf, [d for d, _ in test], [y for _, y in test]))
    return reports


def format_cv(reports: Sequence[Report]) -> str:
    """One line for a cross-validation: mean ± standard deviation of macro-F1 and accuracy, and
    each fold's macro-F1."""
    import statistics

    f1 = [r.macro_f1 for r in reports]
    acc = [r.accuracy for r in reports]
    return (
        f"{len(reports)} 折交叉验证（{sum(r.samples for r in reports)} 条）：宏平均F1 = "
        f"{statistics.fmean(f1):.4f} ± {statistics.pstdev(f1):.4f}；准确率 = {statistics.fmean(acc):.4f} ± "
        f"{statistics.pstdev(acc):.4f}；各折宏平均F1 " + " ".join(f"{x:.4f}" for x in f1)
    )


def train_from_csv(
    path: str | Path, text_col: str, label_col: str, *, title_col: str | None = None, holdout: float = 0.2
) -> tuple[TextClassifier, Report | None, Dataset]:
    """Train on the CSV minus a held-out share (by text hash); report on the held-out part."""
    data = read_csv(path, text_col, label_col, title_col)
    train, test = split(data, holdout)
    clf = TextClassifier().fit(train.docs, train.labels)
    report = evaluate(clf, test.docs, test.labels) if test.docs else None
    return clf, report, data
