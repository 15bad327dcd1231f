"""Retrieval: the nearest stored vectors to a query, by cosine similarity or Euclidean distance.

An :class:`Index` holds vectors of one dimension (image features from
:meth:`swiftcnn.models.Model.embed`, say) with an int64 id each, and finds the ``k`` nearest
to each query exactly (brute force): for each block of the database one matrix product with
the queries through the library's GEMM, then a bounded top-k selection per query, so memory
stays bounded for a large database. The GIL is released while it searches.

Metrics
    ``"cosine"``: vectors and queries are scaled to unit length (a zero vector stays zero and
    has similarity 0 with everything); scores are cosine similarities, higher is nearer.
    ``"l2"``: scores are squared Euclidean distances ``|q - x|^2`` (computed as
    ``|q|^2 - 2 q.x + |x|^2``, clamped at 0), lower is nearer.

Results
    ``search`` returns ``(ids, scores)``, int64 and float32 arrays ``[Q, k]``, best first;
    equal scores come in the order the vectors were added. When the index holds fewer than
    ``k`` vectors, each row ends with id -1 and score NaN.

Ids
    ``add(vectors, ids)`` stores the given ids (int64, each >= 0, uniqueness not checked);
    without ids, each vector gets its running number: how many vectors (with ids or not) were
    added before it since the index was made or reset (0, 1, 2, ...; removals free no numbers).

Threads
    Searches and saves may run from several threads at once; ``add``, ``remove`` and ``reset``
    need the index alone (a conflicting call raises RuntimeError instead of racing).

The file written by :meth:`Index.save` is a safetensors file: ``vectors`` (F32 ``[count, dim]``,
unit length for cosine), ``ids`` (I64 ``[count]``) and metadata ``format`` =
``"swiftcnn-retrieval-index"``, ``version`` = ``"1"``, ``metric``, ``dimension``, ``next_id``.
"""
from __future__ import annotations

import os
from typing import Any, Optional, Tuple, Union

import numpy as np

from . import _swiftcnn as _c
from ._core import as_int

__all__ = ["Index", "precision_at_k"]

_METRICS = {"cosine": 0, "l2": 1}
_REAL_KINDS = "fiu"


def _rows(x: Any, dim: int, name: str) -> np.ndarray:
    """`x` as a C-contiguous float32 [n, dim] array (a 1-D array of dim values is one row)."""
    a = np.asarray(x)
    if a.dtype.kind not in _REAL_KINDS:
        raise TypeError(f"{name}: expected real numbers, got dtype {a.dtype}")
    if a.ndim == 1 and a.shape[0] == dim:
        a = a.reshape(1, dim)
    if a.ndim != 2 or a.shape[1] != dim:
        raise ValueError(f"{name}: expected an array [n, {dim}], got shape {list(a.shape)}")
    return np.ascontiguousarray(a, dtype=np.float32)


class Index(_c.Index):
    """A flat index of ``dim``-long vectors searched by ``metric`` ("cosine" or "l2")."""

    def __new__(cls, dim: int, metric: str = "cosine") -> "Index":
        if not isinstance(metric, str) or metric not in _METRICS:
            raise ValueError(f"metric: expected 'cosine' or 'l2', got {metric!r}")
        dim = as_int(dim, "dim")
        if not 1 <= dim < 2 ** 63:
            raise ValueError(f"dimension must be 1 to 2**63 - 1; got {dim}")
        return super().__new__(cls, dim, _METRICS[metric])

    def __init__(self, dim: int, metric: str = "cosine") -> None:  # arguments taken by __new__
        pass

    @property
    def metric(self) -> str:
        """"cosine" or "l2"."""
        return "cosine" if self._metric == 0 else "l2"

    def __len__(self) -> int:
        return int(self.count)

    def __repr__(self) -> str:
        return f"swiftcnn.retrieval.Index(dim={self.dimension}, metric={self.metric!r}, count={self.count})"

    def add(self, vectors: Any, ids: Any = None) -> None:
        """Adds ``vectors`` (``[n, dim]``, or one ``[dim]`` vector) with ``ids`` (``n``
        integers >= 0) or, when None, the running numbers. NaN or infinite values are
        refused (ValueError naming the row); nothing is added then."""
        v = _rows(vectors, self.dimension, "vectors")
        i = None
        if ids is not None:
            raw = np.asarray(ids)
            if raw.dtype.kind not in "iu":
                raise TypeError(f"ids: expected integers, got dtype {raw.dtype}")
            if raw.ndim != 1 or raw.shape[0] != v.shape[0]:
                raise ValueError(f"ids: expected {v.shape[0]} ids, got shape {list(raw.shape)}")
            if raw.dtype.kind == "u" and raw.size and raw.max() > np.iinfo(np.int64).max:
                raise ValueError("ids: values must fit in int64")
            i = np.ascontiguousarray(raw, dtype=np.int64)
        self._add(v, v.shape[0], i)

    def search(self, queries: Any, k: int = 5) -> Tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest vectors to each query (``[Q, dim]`` or one ``[dim]`` vector):
        ``(ids, scores)``, int64 and float32 arrays ``[Q, k]``, best first (see the module
        docstring for scores, ties and the -1 / NaN fill past the index's count)."""
        k = as_int(k, "k")
        if not 1 <= k < 2 ** 63:
            raise ValueError(f"k must be 1 to 2**63 - 1; got {k}")
        q = _rows(queries, self.dimension, "queries")
        ids = np.empty((q.shape[0], int(k)), dtype=np.int64)
        scores = np.empty((q.shape[0], int(k)), dtype=np.float32)
        self._search(q, q.shape[0], int(k), ids, scores)
        return ids, scores

    def remove(self, ids: Any) -> int:
        """Removes the vectors whose id is in ``ids``; returns how many were removed."""
        raw = np.asarray(ids).reshape(-1)
        if raw.dtype.kind not in "iu" and raw.size:
            raise TypeError(f"ids: expected integers, got dtype {raw.dtype}")
        return int(self._remove(np.ascontiguousarray(raw, dtype=np.int64)))

    def save(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Writes the index to ``path`` (safetensors, atomically)."""
        self._save(os.fspath(path))

    @classmethod
    def load(cls, path: Union[str, "os.PathLike[str]"]) -> "Index":
        """Reads an index written by :meth:`save`."""
        return cls._load(os.fspath(path))


def precision_at_k(neighbor_labels: Any, query_labels: Any, k: Optional[int] = None) -> float:
    """The mean over queries of the fraction of the first ``k`` neighbours whose label equals
    the query's: ``neighbor_labels`` ``[Q, >=k]`` (e.g. ``train_labels[ids]``), ``query_labels``
    ``[Q]``; ``k`` defaults to the number of columns."""
    n = np.asarray(neighbor_labels)
    q = np.asarray(query_labels).reshape(-1)
    if n.ndim != 2 or n.shape[0] != q.shape[0]:
        raise ValueError(f"neighbor_labels: expected [{q.shape[0]}, k], got shape {list(n.shape)}")
    k = n.shape[1] if k is None else as_int(k, "k")
    if k < 1 or k > n.shape[1]:
        raise ValueError(f"k must be 1 to {n.shape[1]}; got {k}")
    if q.shape[0] == 0:
        raise ValueError("precision_at_k: no queries")
    return float(np.mean(n[:, :k] == q[:, None]))
