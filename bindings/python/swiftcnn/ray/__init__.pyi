# Stubs for swiftcnn.ray (batch inference over Ray Data). See __init__.py for the documentation.
import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

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
