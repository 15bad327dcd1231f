# Stubs for swiftcnn.optim. See optim.py for the documentation.
import os
from typing import Any, Dict, Tuple, Union

from . import _swiftcnn
from .models import Model

PathLike = Union[str, bytes, os.PathLike[str], os.PathLike[bytes]]
KINDS: Dict[str, int]

class Optimizer(_swiftcnn.Optimizer):
    kind: str
    def __new__(cls, model: Model, kind: str, lr: float, momentum: float = ..., nesterov: bool = ...,
                weight_decay: float = ..., betas: Tuple[float, float] = ..., eps: float = ...) -> "Optimizer": ...
    def set_schedule(self, schedule: str = ..., steps: int = ..., value: float = ...) -> None: ...
    def save_checkpoint(self, path: PathLike) -> None: ...
    def load_checkpoint(self, path: PathLike) -> None: ...

class SGD(Optimizer):
    def __new__(cls, model: Model, lr: float, momentum: float = ..., nesterov: bool = ...,
                weight_decay: float = ...) -> "SGD": ...

class Adam(Optimizer):
    def __new__(cls, model: Model, lr: float = ..., betas: Tuple[float, float] = ..., weight_decay: float = ...,
                eps: float = ...) -> "Adam": ...

class AdamW(Optimizer):
    def __new__(cls, model: Model, lr: float = ..., betas: Tuple[float, float] = ..., weight_decay: float = ...,
                eps: float = ...) -> "AdamW": ...
