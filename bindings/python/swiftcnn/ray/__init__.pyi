# Stubs for swiftcnn.ray (Ray Data inference, data-parallel training); see __init__.py and _fit.py.
import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from ..models import Model
from ..retrieval import Index

PathLike = Union[str, "os.PathLike[str]"]
ModelSpec = Union[PathLike, Model]
Preprocess = Callable[[npt.NDArray[np.uint8]], npt.NDArray[np.float32]]

OUTPUTS: Tuple[str, ...]
DEFAULT_RETRIES: int
KILL_MARKER_ENV: str
KILL_ID_ENV: str

def open_model(model: ModelSpec, weights: Optional[PathLike] = ...) -> Model: ...

class Predictor:
    model: Model
    def __init__(self, model: ModelSpec, *, weights: Optional[PathLike] = ..., output: str = ..., k: int = ...,
                 threads: int = ..., image_column: str = ..., id_column: str = ...,
                 preprocess: Optional[Preprocess] = ..., node: Optional[str] = ..., normalize: bool = ...,
                 detect_options: Optional[Dict[str, Any]] = ..., label_column: Optional[str] = ...,
                 keep_columns: Sequence[str] = ..., warmup_batch: Optional[int] = ...,
                 batch_size: Optional[int] = ...) -> None: ...
    def __call__(self, batch: Dict[str, Any]) -> Dict[str, Any]: ...

# numpy / paths in: an array [N, K] / [N, D], (classes, scores) for "topk", a list of dicts for
# "detections" and "masks"; a ray.data.Dataset in: a Dataset.
def predict(data: Any, model: ModelSpec, *, batch_size: int = ..., output: str = ..., k: int = ...,
            num_workers: int = ..., threads_per_worker: int = ..., weights: Optional[PathLike] = ...,
            preprocess: Optional[Preprocess] = ..., node: Optional[str] = ..., normalize: bool = ...,
            detect_options: Optional[Dict[str, Any]] = ..., image_column: str = ..., id_column: str = ...,
            on_error: str = ..., ray_remote_args: Optional[Dict[str, Any]] = ...) -> Any: ...
def evaluate(data: Any, labels: Optional[npt.ArrayLike], model: ModelSpec, *, batch_size: int = ...,
             num_workers: int = ..., threads_per_worker: int = ..., weights: Optional[PathLike] = ...,
             preprocess: Optional[Preprocess] = ..., image_column: str = ..., id_column: str = ...,
             label_column: str = ..., ray_remote_args: Optional[Dict[str, Any]] = ...) -> Tuple[float, float]: ...
def embed(data: Any, model: ModelSpec, index_path: PathLike, *, ids: Optional[npt.ArrayLike] = ...,
          metric: str = ..., batch_size: int = ..., node: Optional[str] = ..., normalize: bool = ...,
          num_workers: int = ..., threads_per_worker: int = ..., weights: Optional[PathLike] = ...,
          preprocess: Optional[Preprocess] = ..., image_column: str = ..., id_column: str = ...,
          ray_remote_args: Optional[Dict[str, Any]] = ...) -> Index: ...

class FitResult:
    history: Dict[str, List[float]]
    steps: int
    restarts: int
    checkpoint: Optional[str]
    def __getitem__(self, key: str) -> List[float]: ...

def fit(model: Model, x: npt.ArrayLike, y: npt.ArrayLike, *, epochs: int = ..., batch_size: int = ...,
        optimizer: str = ..., lr: float = ..., momentum: float = ..., weight_decay: float = ...,
        optimizer_options: Optional[Mapping[str, Any]] = ..., schedule: Optional[Tuple[str, int, float]] = ...,
        num_workers: int = ..., threads_per_worker: int = ..., seed: int = ..., shuffle: bool = ...,
        checkpoint: Optional[PathLike] = ..., checkpoint_every: Optional[int] = ..., resume: bool = ...,
        max_failures: int = ..., on_step: Optional[Callable[[Dict[str, Any]], Any]] = ...,
        ray_remote_args: Optional[Mapping[str, Any]] = ...) -> FitResult: ...
