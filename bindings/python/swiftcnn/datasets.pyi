# Stubs for swiftcnn.datasets. See datasets.py for the documentation.
from typing import NamedTuple, Tuple

import numpy as np
import numpy.typing as npt

class Digits(NamedTuple):
    x_train: npt.NDArray[np.float32]
    y_train: npt.NDArray[np.int64]
    x_test: npt.NDArray[np.float32]
    y_test: npt.NDArray[np.int64]
    mean: float
    std: float
    train_index: npt.NDArray[np.int64]
    test_index: npt.NDArray[np.int64]

def load_digits(seed: int = ..., size: int = ..., test_fraction: float = ...) -> Digits: ...
def upsample_bilinear(images: npt.ArrayLike, size: int = ...) -> npt.NDArray[np.float64]: ...
def permutation(n: int, name: str, seed: int) -> npt.NDArray[np.int64]: ...
def epoch_order(n: int, seed: int, epoch: int) -> npt.NDArray[np.int64]: ...
def split_indices(n: int, seed: int, test_fraction: float = ...) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
