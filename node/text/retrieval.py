"""Ranked retrieval of documents for a query text: TF-IDF cosine over jieba words and character
bigrams (sublinear tf, smoothed idf, l2 norm — the same weighting as scikit-learn's
TfidfVectorizer), for the workstation's knowledge suggestions (`node.knowledge.suggest`).
`scripts/eval_text.py` measures it by MRR@10 against the alternatives (docs/KNOWLEDGE.md).

The index is incremental: `add()` and `remove()` change one document without re-reading the others.
New rows go to a small delta matrix, weighted with the current idf (new words get the idf of a word
seen once) and merged into the main matrix every `MERGE_ROWS` rows; the rows already merged keep
their weights until `refit()` recomputes every weight from the term counts the index keeps (no
re-segmentation), which happens by itself once the documents changed since the last fit reach
`REFIT_SHARE` of the index. So an edit costs the segmentation of one text.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from itertools import pairwise
from typing import Any

from node.errors import ValidationError
from node.text.normalize import normalize
from node.text.segment import terms

MERGE_ROWS = 256
REFIT_SHARE = 0.2


def features(text: str) -> list[str]:
    """The indexed terms of a (normalised) text: jieba words and character bigrams."""
    words = terms(text, normalized=True)
    chars = [c for c in text if not c.isspace()]
    return words + [a + b for a, b in pairwise(chars)]


def _check_query(query: Any, k: int) -> None:
    if not isinstance(query, str) or not query.strip():
        raise ValidationError("检索内容不能为空")
    if not isinstance(k, int) or not 1 <= k <= 1000:
        raise ValidationError("检索结果数量应在1至1000之间")


class TfidfIndex:
    """Documents under caller-chosen keys; `search(query, k)` gives (key, cosine) best first, ties by
    insertion order. Thread-safe: one lock around changes and searches."""

    def __init__(self, docs: Iterable[tuple[Hashable, str]] = ()):
        import numpy as np
        import scipy.sparse as sp

        self._lock = threading.RLock()
        self.vocab: dict[str, int] = {}
        self._df = np.zeros(1024, dtype=np.int64)  # document frequency by column (spare capacity)
        self.keys: list[Hashable] = []  # row -> key (None once removed)
        self._row: dict[Hashable, int] = {}
        self._alive = np.zeros(0, dtype=bool)
        self._counts: Any = sp.csr_matrix((0, 0), dtype=np.float32)  # term counts of the main rows
        self._main: Any = sp.csr_matrix((0, 0))  # their tf-idf weights, rows l2-normalised
        self._delta: list[tuple[list[int], list[float]]] = []  # counts of rows added since the merge
        self._delta_weights: Any = None
        self._changed = 0  # adds and removes since the last fit
        with self._lock:
            for key, text in docs:
                self._insert(key, text)
            self.refit()

    def __len__(self) -> int:
        return len(self._row)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._row

    def _idf(self, df: Any, n: int) -> Any:
        import numpy as np

        return np.log((1.0 + n) / (1.0 + np.asarray(df, dtype=float))) + 1.0

    def _vector(self, text: str, grow: bool) -> tuple[list[int], list[float]]:
        import numpy as np

        counts = Counter(features(normalize(text)))
        cols, values = [], []
        for term, c in counts.items():
            col = self.vocab.get(term)
            if col is None:
                if not grow:
                    continue
                col = self.vocab[term] = len(self.vocab)
                if col >= self._df.size:
                    self._df = np.concatenate([self._df, np.zeros(self._df.size, dtype=np.int64)])
            cols.append(col)
            values.append(float(c))
        return cols, values

    def _insert(self, key: Hashable, text: str) -> None:
        if key in self._row:
            self._delete(key)
        cols, values = self._vector(text, grow=True)
        self._df[cols] += 1  # each column once per document
        self._row[key] = len(self.keys)
        self.keys.append(key)
        self._delta.append((cols, values))
        self._delta_weights = None
        self._changed += 1

    def _delete(self, key: Hashable) -> None:
        import numpy as np

        row = self._row.pop(key)
        self.keys[row] = None
        base = self._counts.shape[0]
        if row < base:
            cols = self._counts.indices[self._counts.indptr[row] : self._counts.indptr[row + 1]]
            self._alive[row] = False
        else:
            cols = self._delta[row - base][0]
            self._delta[row - base] = ([], [])
            self._delta_weights = None
        self._df[np.asarray(cols, dtype=np.int64)] -= 1
        self._changed += 1

    def add(self, key: Hashable, text: str) -> None:
        """Index `text` under `key` (replacing what the key held)."""
        with self._lock:
            self._insert(key, text)
            self._maintain()

    def remove(self, key: Hashable) -> None:
        with self._lock:
            if key in self._row:
                self._delete(key)
                self._maintain()

    def _maintain(self) -> None:
        if self._changed >= max(1.0, REFIT_SHARE * max(len(self._row), 1)):
            self.refit()
        elif len(self._delta) >= MERGE_ROWS:
            self._merge()

    def _delta_matrix(self, weighted: bool) -> Any:
        import numpy as np
        import scipy.sparse as sp

        indptr, indices, data = [0], [], []
        for cols, values in self._delta:
            indices.extend(cols)
            data.extend(values)
            indptr.append(len(indices))
        counts = sp.csr_matrix(
            (np.asarray(data, dtype=np.float32), np.asarray(indices, dtype=np.int32), np.asarray(indptr)),
            shape=(len(self._delta), len(self.vocab)),
        )
        return self._weigh(counts) if weighted else counts

    def _weigh(self, counts: Any) -> Any:
        """Sublinear tf × current idf, rows l2-normalised."""
        import numpy as np
        import scipy.sparse as sp

        w = counts.copy().astype(float)
        w.data = (1.0 + np.log(w.data)) * self._idf(self._df[w.indices], len(self._row))
        norms = np.sqrt(np.asarray(w.multiply(w).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.diags(1.0 / norms) @ w

    def _stack(self) -> Any:
        import scipy.sparse as sp

        width = len(self.vocab)
        main = self._counts
        main = sp.csr_matrix((main.data, main.indices, main.indptr), shape=(main.shape[0], width))
        return sp.vstack([main, self._delta_matrix(weighted=False)], format="csr")

    def _merge(self) -> None:
        """Move the delta rows into the main matrices, keeping their weights."""
        import numpy as np
        import scipy.sparse as sp

        width = len(self.vocab)
        weights = (
            self._delta_weights if self._delta_weights is not None else self._delta_matrix(weighted=True)
        )
        main = self._main
        main = sp.csr_matrix((main.data, main.indices, main.indptr), shape=(main.shape[0], width))
        alive = np.array([self.keys[i] is not None for i in range(main.shape[0], len(self.keys))], dtype=bool)
        self._counts = self._stack()
        self._main = sp.vstack([main, weights], format="csr")
        self._alive = np.concatenate([self._alive, alive])
        self._delta, self._delta_weights = [], None

    def refit(self) -> None:
        """Recompute every weight with the idf of the documents indexed now; drop removed rows."""
        import numpy as np

        with self._lock:
            counts = self._stack()
            live = [i for i, key in enumerate(self.keys) if key is not None]
            counts = counts[live]
            df = (
                np.bincount(counts.indices, minlength=len(self.vocab))
                if counts.nnz
                else np.zeros(len(self.vocab))
            )
            used = np.flatnonzero(df)  # forget words no document holds any more
            new_col = np.full(len(self.vocab), -1, dtype=np.int64)
            new_col[used] = np.arange(used.size)
            moved = new_col.tolist()
            remap = {term: moved[col] for term, col in self.vocab.items() if moved[col] >= 0}
            counts = counts[:, used]
            self.vocab = remap
            self._df = np.concatenate([df[used].astype(np.int64), np.zeros(1024, dtype=np.int64)])
            self.keys = [self.keys[i] for i in live]
            self._row = {key: i for i, key in enumerate(self.keys)}
            self._counts = counts.tocsr()
            self._main = self._weigh(self._counts).tocsr()
            self._alive = np.ones(len(self.keys), dtype=bool)
            self._delta, self._delta_weights, self._changed = [], None, 0

    def scores(self, query: str) -> Any:
        """Cosine of `query` with every row (0 for removed rows), in row order (`keys`)."""
        import numpy as np

        with self._lock:
            cols, values = self._vector(query, grow=False)
            idf = self._idf(self._df[cols], len(self._row))
            q = np.zeros(len(self.vocab))
            if cols:
                q[cols] = (1.0 + np.log(values)) * idf
            q /= math.sqrt(float(q @ q)) or 1.0
            width = self._main.shape[1]
            main = self._main @ q[:width] if self._main.shape[0] else np.zeros(0)
            main = np.where(self._alive, main, 0.0)
            if not self._delta:
                return main
            if self._delta_weights is None:
                self._delta_weights = self._delta_matrix(weighted=True)
            delta = self._delta_weights @ q[: self._delta_weights.shape[1]]
            return np.concatenate([main, delta])

    def search(self, query: str, k: int = 10) -> list[tuple[Hashable, float]]:
        import numpy as np

        _check_query(query, k)
        with self._lock:
            scores = self.scores(query)
            keys = list(self.keys)
        if not scores.size:
            return []
        k = min(k, scores.size)
        top = np.argpartition(-scores, k - 1)[:k]
        ranked = sorted(top, key=lambda i: (-scores[i], i))
        return [(keys[i], float(scores[i])) for i in ranked if scores[i] > 0 and keys[i] is not None]


def article_text(title: str, body: str) -> str:
    """What is indexed for a (title, body) document: the title twice, so words of the question
    weigh more."""
    return f"{title}\n{title}\n{body}"


class Retriever:
    """Ranked retrieval over (title, body) documents — knowledge articles for the workstation's
    suggestions — under `keys` (default: the position in `docs`)."""

    def __init__(self, docs: Sequence[tuple[str, str]], keys: Sequence[Hashable] | None = None):
        if not docs:
            raise ValidationError("检索文档集不能为空")
        if keys is not None and len(keys) != len(docs):
            raise ValidationError("检索文档与编号数量不一致")
        names = list(keys) if keys is not None else list(range(len(docs)))
        self.index = TfidfIndex((key, article_text(t, b)) for key, (t, b) in zip(names, docs, strict=True))

    def add(self, key: Hashable, title: str, body: str) -> None:
        self.index.add(key, article_text(title, body))

    def remove(self, key: Hashable) -> None:
        self.index.remove(key)

    def __len__(self) -> int:
        return len(self.index)

    def search(self, query: str, k: int = 10) -> list[tuple[Hashable, float]]:
        return self.index.search(query, k)
