from dataclasses import dataclass
from typing import Any, Iterator, List, Tuple, overload

@dataclass(frozen=True)
class ProfileRow:
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
    def as_dict(self) -> dict: ...

class Profile:
    total_ms: float
    model_name: str
    input_shape: Tuple[int, ...]
    threads: int
    runs: int
    def __init__(self, capsule: Any, model: Any, total_ms: float, rows: List[tuple], input_shape: Tuple[int, ...],
                 threads: int, runs: int) -> None: ...
    @property
    def node_ms(self) -> float: ...
    def __len__(self) -> int: ...
    @overload
    def __getitem__(self, i: int) -> ProfileRow: ...
    @overload
    def __getitem__(self, i: slice) -> List[ProfileRow]: ...
    def __iter__(self) -> Iterator[ProfileRow]: ...
    @property
    def rows(self) -> List[ProfileRow]: ...
    def top(self, n: int = ...) -> List[ProfileRow]: ...
    def table(self, limit: int = ...) -> str: ...
