"""Data-parallel training of a swiftcnn model on a Ray cluster: :func:`fit`.

Each of ``num_workers`` Ray actors holds a replica of the model and its optimizer. Every
step the driver cuts the step's batch (the same batches, in the same order, as
:meth:`swiftcnn.models.Model.fit` with this ``batch_size`` and ``seed``) into one shard per
worker; each worker computes the gradients of its shard (:meth:`Model.compute_gradients`,
weights unchanged); the driver averages them, weighted by shard size and summed in float64
in worker order, and every worker applies the same average with its own optimizer
(:meth:`Optimizer.set_gradients` + :meth:`Optimizer.step`). The replicas therefore stay
identical, and the result equals one process training on the whole batch, to float
tolerance (the per-shard sums round differently). Averaging and applying share one round
trip per step: a worker applies step k's average at the start of step k + 1's call.

Batch norm: each worker normalizes with its shard's statistics (as PyTorch's
DistributedDataParallel without SyncBatchNorm), and the running statistics are averaged
across workers, weighted by shard size, after every step. Models without batch norm and
dropout match the single-process run; with batch norm the shard statistics differ from the
batch's, as in any data-parallel run. Dropout masks are drawn per worker.

Faults: the driver keeps the last checkpoint (weights, optimizer state, step) taken every
``checkpoint_every`` steps, and writes it atomically to ``checkpoint`` when a path is given.
When a worker dies (its process is killed, its node is lost), every worker is replaced and
training resumes from that checkpoint; since every step is deterministic for a thread count,
the run then ends with the same weights as an uninterrupted one. ``resume=True`` continues
from the ``checkpoint`` file of an earlier run (same model, data and settings).
"""
from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

__all__ = ["fit", "FitResult"]

_OPTIMIZERS = ("sgd", "adam", "adamw")


@dataclass
class FitResult:
    """What :func:`fit` returns.

    history: ``{"loss": [...]}``: per epoch finished in this call, the mean training loss of
    the training forward passes over all workers' examples.
    steps: optimizer steps taken in total (across resumes). restarts: times the workers were
    replaced after a failure. checkpoint: the checkpoint file written, if any.
    """

    history: Dict[str, List[float]] = field(default_factory=lambda: {"loss": []})
    steps: int = 0
    restarts: int = 0
    checkpoint: Optional[str] = None

    def __getitem__(self, key: str) -> List[float]:
        return self.history[key]


def _worker_failures(ray: Any) -> Tuple[type, ...]:
    """The exceptions that mean a worker (or its objects) is gone, not that the work failed."""
    ex = ray.exceptions
    names = ("RayActorError", "ActorDiedError", "ActorUnavailableError", "WorkerCrashedError",
             "ObjectLostError", "OwnerDiedError", "NodeDiedError", "LocalRayletDiedError")
    return tuple(getattr(ex, n) for n in names if isinstance(getattr(ex, n, None), type))


class _Worker:
    """One replica: a model, its optimizer and the training data (zero-copy from Ray's
    object store). Runs as a Ray actor (see :func:`fit`)."""

    def __init__(self, model: Any, x: np.ndarray, y: np.ndarray, optimizer: str, options: Dict[str, Any],
                 schedule: Optional[Tuple[str, int, float]], threads: int):
        import swiftcnn
        from swiftcnn import optim

        swiftcnn.set_num_threads(threads)
        self.model = model
        self.x = x
        self.y = y
        cls = {"sgd": optim.SGD, "adam": optim.Adam, "adamw": optim.AdamW}[optimizer]
        self.optimizer = cls(model, **options)
        if schedule is not None:
            self.optimizer.set_schedule(*schedule)
        self.has_buffers = model.buffers().size > 0

    def pid(self) -> int:
        return os.getpid()

    def restore(self, data: Optional[bytes]) -> int:
        """Loads checkpoint bytes (None: keep the initial state); returns the steps taken."""
        if data is not None:
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, "checkpoint.safetensors")
                with open(path, "wb") as f:
                    f.write(data)
                self.optimizer.load_checkpoint(path)
        return int(self.optimizer.progress[0])

    def _apply(self, gradients: Optional[np.ndarray], buffers: Optional[np.ndarray]) -> None:
        if gradients is not None:
            self.optimizer.set_gradients(gradients)
            self.optimizer.step()
        if buffers is not None:
            self.model.set_buffers(buffers)

    def step(self, gradients: Optional[np.ndarray], buffers: Optional[np.ndarray],
             indices: np.ndarray, checkpoint: bool) -> Dict[str, Any]:
        """Applies the previous step's averages, optionally checkpoints, then computes the
        gradients of the shard ``indices`` (may be empty)."""
        self._apply(gradients, buffers)
        out: Dict[str, Any] = {"n": int(len(indices)), "checkpoint": self._checkpoint() if checkpoint else None}
        if len(indices):
            x = self.x[indices]
            y = self.y[indices]
            out["loss"] = float(self.model.compute_gradients(x, y, self.optimizer))
            out["gradients"] = self.optimizer.gradients()
            if self.has_buffers:
                out["buffers"] = self.model.buffers()
        return out

    def finish(self, gradients: Optional[np.ndarray], buffers: Optional[np.ndarray],
               checkpoint: bool) -> Dict[str, Any]:
        """Applies the last averages; returns the final state (and a checkpoint)."""
        self._apply(gradients, buffers)
        return {"state": self.model.state_dict(), "checkpoint": self._checkpoint() if checkpoint else None,
                "steps": int(self.optimizer.progress[0])}

    def _checkpoint(self) -> bytes:
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "checkpoint.safetensors")
            self.optimizer.save_checkpoint(path)
            with open(path, "rb") as f:
                return f.read()


def _average(parts: Sequence[Tuple[int, np.ndarray]]) -> np.ndarray:
    """The mean of per-shard means, weighted by shard size: sum(n_i * g_i) / sum(n_i), summed
    in float64 in worker order (the same bits whatever the timing), returned as float32."""
    total = sum(n for n, _ in parts)
    acc = np.zeros(parts[0][1].shape, dtype=np.float64)
    for n, g in parts:
        acc += np.float64(n) * g.astype(np.float64)
    return (acc / np.float64(total)).astype(np.float32)


def fit(model: Any, x: Any, y: Any, *, epochs: int = 1, batch_size: int = 64, optimizer: str = "sgd",
        lr: float = 0.01, momentum: float = 0.9, weight_decay: float = 0.0,
        optimizer_options: Optional[Mapping[str, Any]] = None,
        schedule: Optional[Tuple[str, int, float]] = None, num_workers: int = 2, threads_per_worker: int = 1,
        seed: int = 0, shuffle: bool = True, checkpoint: Optional[Any] = None,
        checkpoint_every: Optional[int] = None, resume: bool = False, max_failures: int = 3,
        on_step: Optional[Callable[[Dict[str, Any]], Any]] = None,
        ray_remote_args: Optional[Mapping[str, Any]] = None) -> FitResult:
    """Trains ``model`` on ``(x, y)`` with ``num_workers`` data-parallel Ray workers; the
    trained weights are loaded into ``model`` at the end.

    The batches are :meth:`swiftcnn.models.Model.fit`'s for ``batch_size``, ``seed`` and
    ``shuffle`` (:func:`swiftcnn.datasets.epoch_order`); each is split into ``num_workers``
    consecutive shards, one per worker, whose gradients are averaged (weighted by size)
    before every worker applies them. Without batch norm or dropout the weights equal those
    of ``model.fit`` with the same arguments, to float tolerance.

    x: ``[N, C, H, W]`` float images; y: N class indices (as for ``Model.fit``).
    optimizer: ``"sgd"`` (``lr``, ``momentum``, ``weight_decay``), ``"adam"`` or ``"adamw"``
    (``lr``, ``weight_decay``); ``optimizer_options`` adds or overrides keyword arguments of
    the :mod:`swiftcnn.optim` class (``nesterov``, ``betas``, ``eps``). schedule: an optional
    ``(kind, steps, value)`` for :meth:`Optimizer.set_schedule`.
    num_workers, threads_per_worker: actors and swiftcnn threads in each (each actor asks Ray
    for ``threads_per_worker`` CPUs unless ``ray_remote_args`` says otherwise).
    checkpoint: a path; the run's checkpoint (an :meth:`Optimizer.save_checkpoint` file:
    weights, optimizer state, step) is written there atomically every ``checkpoint_every``
    steps (default: every epoch) and at the end. resume: continue from that file (after a
    stopped or crashed run with the same arguments); a missing file starts afresh.
    max_failures: worker failures survived (each replaces all workers and resumes from the
    last checkpoint, kept in memory whether or not a path is given).
    on_step: called after every step with ``{"epoch", "step", "batch", "loss", "restarts",
    "worker_pids"}``; returning False stops the run after that step (the model then holds
    the weights reached, and a checkpoint is written if a path was given).

    Needs a running Ray (``ray.init()`` or ``ray.init(address="auto")``); one is started
    locally if none is. Returns a :class:`FitResult`.
    """
    from . import _ray
    from .._core import write_atomic
    ray = _ray()
    from .. import models as _models

    if not isinstance(model, _models.Model):
        raise TypeError(f"model: expected a swiftcnn.models.Model, got {type(model).__name__}")
    x = model._images(x, "x", can_scale=False)
    y32 = _models._labels(y, x.shape[0], "y")
    n = x.shape[0]
    if n < 1:
        raise ValueError("x: the training set is empty")
    epochs = _models._count(epochs, "epochs")
    batch_size = _models._count(batch_size, "batch_size")
    num_workers = _models._count(num_workers, "num_workers")
    threads_per_worker = _models._count(threads_per_worker, "threads_per_worker")
    max_failures = max(0, int(max_failures))
    if isinstance(optimizer, str) and optimizer.lower() in _OPTIMIZERS:
        kind = optimizer.lower()
    else:
        raise ValueError(f"optimizer: expected one of {', '.join(_OPTIMIZERS)}, got {optimizer!r}")
    options: Dict[str, Any] = {"lr": float(lr), "weight_decay": float(weight_decay)}
    if kind == "sgd":
        options["momentum"] = float(momentum)
    options.update(dict(optimizer_options or {}))
    from .. import optim as _optim
    # Check the optimizer's arguments here, where the error is readable, not in a worker.
    {"sgd": _optim.SGD, "adam": _optim.Adam, "adamw": _optim.AdamW}[kind](model, **options)
    batches = -(-n // batch_size)
    total_steps = epochs * batches
    every = batches if checkpoint_every is None else _models._count(checkpoint_every, "checkpoint_every")
    path = None if checkpoint is None else os.fspath(checkpoint)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    from ..datasets import epoch_order

    if not ray.is_initialized():
        ray.init()
    failures = _worker_failures(ray)
    remote_args = {"num_cpus": threads_per_worker, "max_restarts": 0}
    remote_args.update(dict(ray_remote_args or {}))
    wanted = num_workers * float(remote_args.get("num_cpus") or 0)
    have = float(ray.cluster_resources().get("CPU", 0))
    if wanted > have:
        warnings.warn(f"swiftcnn.ray.fit: {num_workers} workers ask for {wanted:g} CPUs but the cluster has {have:g} "
                      f"now; the workers wait until it has them (fewer workers, or "
                      f"ray_remote_args={{'num_cpus': ...}}, start sooner)", RuntimeWarning, stacklevel=2)
    actor_cls = ray.remote(**remote_args)(_Worker)
    x_ref, y_ref = ray.put(x), ray.put(y32)

    saved: Optional[bytes] = None
    if resume and path is not None and os.path.exists(path):
        with open(path, "rb") as f:
            saved = f.read()

    result = FitResult(checkpoint=path)
    workers: List[Any] = []

    def start() -> Tuple[List[Any], int]:
        ws = [actor_cls.remote(model, x_ref, y_ref, kind, options, schedule, threads_per_worker)
              for _ in range(num_workers)]
        steps = ray.get([w.restore.remote(saved) for w in ws])
        return ws, steps[0]

    def stop(ws: List[Any]) -> None:
        for w in ws:
            try:
                ray.kill(w, no_restart=True)
            except Exception:  # already gone
                pass

    losses: Dict[int, Tuple[float, int]] = {}   # step -> (mean loss, examples); recomputed steps overwrite
    stopped = False
    final: Dict[str, Any] = {}
    try:
        while True:
            try:
                workers, step = start()
                pids = ray.get([w.pid.remote() for w in workers])
                grads: Optional[np.ndarray] = None
                bufs: Optional[np.ndarray] = None
                order_epoch, order = -1, np.arange(n, dtype=np.int64)
                while step < total_steps and not stopped:
                    epoch, b = divmod(step, batches)
                    if shuffle and epoch != order_epoch:
                        order, order_epoch = epoch_order(n, seed, epoch), epoch
                    batch = order[b * batch_size:min((b + 1) * batch_size, n)]
                    shards = np.array_split(batch, num_workers)
                    take = step > 0 and step % every == 0
                    outs = ray.get([w.step.remote(grads, bufs, s, take and i == 0)
                                    for i, (w, s) in enumerate(zip(workers, shards))])
                    if take:
                        saved = outs[0]["checkpoint"]
                        if path is not None:
                            write_atomic(path, saved)
                    done = [o for o in outs if o["n"]]
                    grads = _average([(o["n"], o["gradients"]) for o in done])
                    bufs = _average([(o["n"], o["buffers"]) for o in done]) if "buffers" in done[0] else None
                    loss = sum(o["n"] * o["loss"] for o in done) / len(batch)
                    losses[step] = (loss, len(batch))
                    step += 1
                    if on_step is not None:
                        report = {"epoch": epoch, "step": step - 1, "batch": b, "loss": loss,
                                  "restarts": result.restarts, "worker_pids": list(pids)}
                        if on_step(report) is False:
                            stopped = True
                final = ray.get(workers[0].finish.remote(grads, bufs, path is not None))
                break
            except failures:
                stop(workers)
                workers = []
                if result.restarts >= max_failures:
                    raise RuntimeError(f"swiftcnn.ray.fit: workers failed {result.restarts + 1} times "
                                       f"(max_failures={max_failures})") from None
                result.restarts += 1
    finally:
        stop(workers)
    for epoch in range(epochs):
        steps = [losses.get(s) for s in range(epoch * batches, (epoch + 1) * batches)]
        if steps[-1] is None:
            continue                          # not finished in this call
        seen = [v for v in steps if v is not None]
        result.history["loss"].append(sum(l * k for l, k in seen) / sum(k for _, k in seen))
    model.load_state_dict(final["state"], strict=True)
    if path is not None and final["checkpoint"] is not None:
        write_atomic(path, final["checkpoint"])
    result.steps = final["steps"]
    return result
