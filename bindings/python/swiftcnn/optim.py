"""swiftcnn.optim -- optimizers for training a zoo model (PyTorch's torch.optim semantics).

    import swiftcnn
    from swiftcnn import models, optim

    m = models.lenet5()
    opt = optim.SGD(m, lr=0.05, momentum=0.9)
    for x, y in batches:                    # x float32 [N, 1, 32, 32], y class indices [N]
        loss = m.train_step(x, y, opt)      # forward (training mode), cross-entropy, backward, step
    opt.save_checkpoint("run.safetensors")  # weights + optimizer state + fit progress
    opt.load_checkpoint("run.safetensors")  # resume exactly

Data-parallel training splits a step in two: ``model.compute_gradients(x, y, opt)`` (forward,
loss, backward; the weights do not change) leaves the gradients pending in the optimizer,
:meth:`Optimizer.gradients` reads them as one flat float32 vector (layout:
:meth:`Optimizer.gradient_layout`), :meth:`Optimizer.set_gradients` replaces them (e.g. by
the average over workers, weighted by shard size) and :meth:`Optimizer.step` applies them.
``compute_gradients`` then ``step`` equals one ``train_step`` bit for bit::

    loss = m.compute_gradients(x_shard, y_shard, opt)
    g = opt.gradients() * (len(x_shard) / batch)      # summed over workers: the batch's gradient
    opt.set_gradients(all_reduce_sum(g))
    opt.step()

An optimizer belongs to the model it was created for (it keeps it alive) and updates its
trainable parameters (batch-norm running statistics are buffers, not trained). Its state --
momentum buffers, Adam moments, the step count, the learning-rate schedule and the progress
of :meth:`swiftcnn.models.Model.fit` (epoch and batch reached) -- lives in libswiftcnn.

- :class:`SGD` as ``torch.optim.SGD``: ``v = momentum*v + (g + weight_decay*w)``, ``w -= lr*v``
  (Nesterov: ``w -= lr*(g' + momentum*v)``); the first step sets ``v = g'``.
- :class:`Adam` as ``torch.optim.Adam`` (weight decay added to the gradient) and
  :class:`AdamW` as ``torch.optim.AdamW`` (decoupled: ``w -= lr*weight_decay*w`` first), with
  bias-corrected moments.

Errors raise :class:`swiftcnn.SwiftCNNError` subclasses with the library's message (a
learning rate, momentum, weight decay or eps that is negative or not finite, betas outside
[0, 1), ... raise ValueError; PyTorch's domains, so lr=0 is accepted).
"""
from __future__ import annotations

import os
from typing import Any, List, Tuple, Union

import numpy as np

from . import _swiftcnn as _c
from ._core import as_f32, as_int

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "KINDS"]

# scnn_optimizer_kind
KINDS = {"sgd": 0, "adam": 1, "adamw": 2}
# scnn_lr_schedule
_SCHEDULES = {"constant": 0, "step": 1, "cosine": 2}

PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


def _number(v: Any, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) and not hasattr(v, "__float__"):
        raise TypeError(f"{name}: expected a number, got {type(v).__name__}")
    return float(v)


class Optimizer(_c.Optimizer):
    """Base of the optimizers: an ``scnn_optimizer`` bound to ``model``.

    Attributes: ``model`` (read-only), ``lr`` (the learning rate of the next step; setting it
    sets the schedule's base rate), ``progress`` (``(steps taken, epoch, batch)``: where the
    next :meth:`~swiftcnn.models.Model.fit` starts).
    """

    __slots__ = ()
    kind = ""

    def __new__(cls, model: Any, kind: str, lr: float, momentum: float = 0.0, nesterov: bool = False,
                weight_decay: float = 0.0, betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        if kind not in KINDS:
            raise ValueError(f"optimizer: expected one of {', '.join(KINDS)}, got {kind!r}")
        try:
            b1, b2 = betas
        except (TypeError, ValueError):
            raise TypeError(f"betas: expected a pair of numbers, got {betas!r}") from None
        self = super().__new__(cls, model, KINDS[kind], _number(lr, "lr"), _number(momentum, "momentum"),
                               bool(nesterov), _number(weight_decay, "weight_decay"), _number(b1, "betas[0]"),
                               _number(b2, "betas[1]"), _number(eps, "eps"))
        return self

    def __repr__(self) -> str:
        steps, epoch, batch = self.progress
        return (f"<swiftcnn.optim.{type(self).__name__} for {self.model.name}: lr {self.lr:g}, "
                f"{steps} steps, next epoch {epoch} batch {batch}>")

    def set_schedule(self, schedule: str = "constant", steps: int = 1, value: float = 1.0) -> None:
        """Learning-rate schedule from the base rate, per optimizer step:
        ``"constant"``; ``"step"``: multiplied by ``value`` (gamma, >= 0) every ``steps``
        steps; ``"cosine"``: cosine annealing to ``value`` (the minimum) over ``steps`` steps."""
        if schedule not in _SCHEDULES:
            raise ValueError(f"schedule: expected one of {', '.join(_SCHEDULES)}, got {schedule!r}")
        self._set_schedule(_SCHEDULES[schedule], as_int(steps, "steps"), _number(value, "value"))

    def gradient_layout(self) -> List[Tuple[str, Tuple[int, ...]]]:
        """The tensors of the flat gradient vector, in order: ``(state_dict key, shape)`` of
        each trainable parameter (the model's :meth:`~swiftcnn.models.Model.parameter_names`
        without buffers, and without frozen parameters), each flattened row-major."""
        return self._gradient_layout()

    def gradients(self) -> np.ndarray:
        """The pending gradients (from :meth:`~swiftcnn.models.Model.compute_gradients` or
        :meth:`set_gradients`) as a new flat float32 array in :meth:`gradient_layout`'s
        order. ValueError (InvalidArgumentError) when none are pending."""
        out = np.empty(self._gradient_size(), dtype=np.float32)
        self._get_gradients(out)
        return out

    def set_gradients(self, values: Any) -> None:
        """Makes ``values`` (any real array-like or torch tensor, converted to float32 and flattened; its
        size must be the layout's total) the pending gradients, replacing any. ValueError
        (ShapeMismatchError, the library's message) for a wrong size. Values are not
        checked: NaN reaches the weights as it would from a backward pass."""
        self._set_gradients(as_f32(values, "gradients").reshape(-1))

    def step(self) -> None:
        """Applies the pending gradients to the model's weights (the update a
        :meth:`~swiftcnn.models.Model.train_step` makes, at the current learning rate),
        advances ``progress[0]`` and drops them. ValueError when none are pending; on error
        the weights are unchanged. The GIL is released."""
        self._apply_gradients()

    def zero_grad(self) -> None:
        """Drops the pending gradients (none pending: nothing happens)."""
        self._clear_gradients()

    def save_checkpoint(self, path: PathLike) -> None:
        """Writes the model's weights, this optimizer's state and the fit progress to one
        safetensors file, atomically (for a plain weights file use ``Model.save``)."""
        self._checkpoint(_fspath(path), False)

    def load_checkpoint(self, path: PathLike) -> None:
        """Restores a checkpoint of :meth:`save_checkpoint` into the model and this optimizer:
        training then continues exactly as the saved run would have. On error (OSError,
        ValueError) both are unchanged."""
        self._checkpoint(_fspath(path), True)


def _fspath(path: Any) -> Union[str, bytes]:
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(f"path: expected str, bytes or os.PathLike, got {type(path).__name__}") from None


class SGD(Optimizer):
    """``SGD(model, lr, momentum=0, nesterov=False, weight_decay=0)``, as torch.optim.SGD."""

    __slots__ = ()
    kind = "sgd"

    def __new__(cls, model: Any, lr: float, momentum: float = 0.0, nesterov: bool = False,
                weight_decay: float = 0.0) -> "SGD":
        return super().__new__(cls, model, "sgd", lr, momentum=momentum, nesterov=nesterov,
                               weight_decay=weight_decay)


class Adam(Optimizer):
    """``Adam(model, lr, betas=(0.9, 0.999), weight_decay=0, eps=1e-8)``, as torch.optim.Adam."""

    __slots__ = ()
    kind = "adam"

    def __new__(cls, model: Any, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                weight_decay: float = 0.0, eps: float = 1e-8) -> "Adam":
        return super().__new__(cls, model, "adam", lr, betas=betas, weight_decay=weight_decay, eps=eps)


class AdamW(Optimizer):
    """``AdamW(model, lr, betas=(0.9, 0.999), weight_decay=0.01, eps=1e-8)``, as torch.optim.AdamW."""

    __slots__ = ()
    kind = "adamw"

    def __new__(cls, model: Any, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                weight_decay: float = 0.01, eps: float = 1e-8) -> "AdamW":
        return super().__new__(cls, model, "adamw", lr, betas=betas, weight_decay=weight_decay, eps=eps)
