"""swiftcnn.profile -- where a forward pass's time goes, per layer.

``model.profile(x, runs=10, warmup=2)`` runs the model's compiled forward pass ``warmup``
times, then ``runs`` times with a clock around each step, and returns a :class:`Profile`:
one :class:`ProfileRow` per graph node (the layers fused into a convolution -- its batch
norm, ReLU, residual add -- count with it), in the order the plan runs them::

    prof = model.profile(np.zeros((1, 3, 224, 224), np.float32), runs=20)
    print(prof)              # a table, slowest node first
    prof.top(5)              # the five slowest rows
    prof.total_ms            # median of the whole forward, without the per-step clocks
    print(model.summary(profile=prof))   # the summary with kernel / ms / share columns

Times are medians over the runs at the current thread count (:func:`swiftcnn.set_num_threads`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, List, Tuple, overload


@dataclass(frozen=True)
class ProfileRow:
    """One node of a :class:`Profile`.

    node: module path (``layer1.0.conv1``; ``(output)`` is the final copy into the result).
    op: layer type (``Conv2d``, ``Linear``, ``Add+ReLU``, ...). kernel: what ran it --
    for convolutions ``winograd`` (F(4x4, 3x3)), ``winograd2x2`` (F(2x2, 3x3), small maps),
    ``small``, ``byPositions``, ``direct``, ``gemv``, ``gemm`` or ``depthwise``; otherwise a short name (``linear``, ``maxpool``, ``concat``, ``copy``, ...).
    fused: the layers computed in its kernel (``("bn", "relu")``). steps: plan steps of the
    node. ms: median milliseconds. share: ms over the sum of every row's ms. macs: multiply-
    accumulates of the whole batch (flops = 2 * macs). gflops, gbps: rates at the median time
    (gflops 0 without FLOPs). bytes: float32 bytes moved (inputs, outputs, weights read).
    """

    node: str
    op: str
    kernel: str
    fused: Tuple[str, ...]
    steps: int
    ms: float
    share: float
    macs: int
    flops: int
    gflops: float
    bytes: int
    gbps: float

    def as_dict(self) -> dict:
        """The row as a plain dict."""
        return {"node": self.node, "op": self.op, "kernel": self.kernel, "fused": self.fused, "steps": self.steps,
                "ms": self.ms, "share": self.share, "macs": self.macs, "flops": self.flops, "gflops": self.gflops,
                "bytes": self.bytes, "gbps": self.gbps}


class Profile:
    """A per-layer profile (see :meth:`swiftcnn.models.Model.profile`): a read-only sequence of
    :class:`ProfileRow` in plan order, with ``total_ms`` (median of the whole forward pass,
    measured without the per-step clocks), ``node_ms`` (sum of the rows' ms), ``model_name``,
    ``input_shape``, ``threads`` and ``runs``. ``str(profile)`` is a table, slowest first."""

    __slots__ = ("_capsule", "_model", "_rows", "total_ms", "model_name", "input_shape", "threads", "runs")

    def __init__(self, capsule: Any, model: Any, total_ms: float, rows: List[tuple], input_shape: Tuple[int, ...],
                 threads: int, runs: int) -> None:
        self._capsule = capsule
        self._model = model
        self._rows = [ProfileRow(r[0], r[1], r[2], tuple(f for f in r[3].split(",") if f), *r[4:]) for r in rows]
        self.total_ms = float(total_ms)
        self.model_name = model.name
        self.input_shape = tuple(input_shape)
        self.threads = int(threads)
        self.runs = int(runs)

    @property
    def node_ms(self) -> float:
        """Sum of the rows' median ms (what ``share`` divides by)."""
        return float(sum(r.ms for r in self._rows))

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, i: int) -> ProfileRow: ...
    @overload
    def __getitem__(self, i: slice) -> List[ProfileRow]: ...

    def __getitem__(self, i: Any) -> Any:
        return self._rows[i]

    def __iter__(self) -> Iterator[ProfileRow]:
        return iter(self._rows)

    @property
    def rows(self) -> List[ProfileRow]:
        """The rows in plan order (a new list)."""
        return list(self._rows)

    def top(self, n: int = 5) -> List[ProfileRow]:
        """The ``n`` slowest rows, slowest first (ties in plan order)."""
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"n: expected an int, got {type(n).__name__}")
        if n < 0:
            raise ValueError(f"n must be >= 0; got {n}")
        order = sorted(range(len(self._rows)), key=lambda i: (-self._rows[i].ms, i))
        return [self._rows[i] for i in order[:n]]

    def table(self, limit: int = 0) -> str:
        """The table, slowest node first: at most ``limit`` rows (0: all)."""
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise TypeError(f"limit: expected an int, got {type(limit).__name__}")
        if limit < 0:
            raise ValueError(f"limit must be >= 0 (0 = all); got {limit}")
        return self._model._profile_text(self._capsule, limit)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return (f"<Profile {self.model_name} input {list(self.input_shape)}: {len(self._rows)} nodes, "
                f"forward {self.total_ms:.3f} ms, {self.threads} thread(s), {self.runs} runs>\n" + self.table(10))
