"""Ranked retrieval of documents for a query text (TF-IDF cosine on jieba words and character
bigrams), for suggesting answers; `scripts/eval_text.py` measures it by MRR@10 (nothing in the
node calls it yet)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from node.errors import ValidationError
from node.text.normalize import normalize
from node.text.segment import terms


def _features(text: str) -> list[str]:
    words = terms(text, normalized=True)
    chars = [c for c in text if not c.isspace()]
    return words + [a + b for a, b in pairwise(chars)]


class TfidfRetriever:
    """Index `docs` once; `search(query, k)` gives (document index, cosine) best first."""

    def __init__(self, docs: Sequence[str]):
        from sklearn.feature_extraction.text import TfidfVectorizer

        if not docs:
            raise ValidationError("检索文档集不能为空")
        self.vectorizer = TfidfVectorizer(analyzer=_features, sublinear_tf=True, min_df=1)
        self.matrix: Any = self.vectorizer.fit_transform([normalize(d) for d in docs])

    def search(self, query: str, k: int = 10) -> list[tuple[int, float]]:
        import numpy as np

        if not isinstance(query, str) or not query.strip():
            raise ValidationError("检索内容不能为空")
        if not 1 <= k <= 1000:
            raise ValidationError("检索结果数量应在1至1000之间")
        scores = (self.matrix @ self.vectorizer.transform([normalize(query)]).T).toarray().ravel()
        k = min(k, scores.size)
        top = np.argpartition(-scores, k - 1)[:k]
        ranked = sorted(top, key=lambda i: (-scores[i], i))
        return [(int(i), float(scores[i])) for i in ranked if scores[i] > 0]


class Retriever:
    """Ranked retrieval over (title, body) documents — knowledge articles for the workstation's
    suggestions. The title is added to the body once more so words of the question weigh more;
    ranking is TfidfRetriever's (see docs/KNOWLEDGE.md for the measured alternatives)."""

    def __init__(self, docs: Sequence[tuple[str, str]]):
        self.tfidf = TfidfRetriever([f"{title}\n{title}\n{body}" for title, body in docs])

    def search(self, query: str, k: int = 10) -> list[tuple[int, float]]:
        return self.tfidf.search(query, k)
