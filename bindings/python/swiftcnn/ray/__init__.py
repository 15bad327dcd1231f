"""swiftcnn on a Ray cluster: batch inference, evaluation and embedding over Ray Data.

Install the extra (``pip install 'swiftcnn[ray]'``), start or join a cluster
(``ray.init()`` locally, ``ray.init(address="auto")`` on a node of an existing one), then:

- :class:`Predictor` is the callable class for ``Dataset.map_batches(Predictor,
  fn_constructor_kwargs={...}, concurrency=N, batch_size=B)``: each actor opens the model
  once (a model file, an ONNX file or a zoo name), sets its threads, and turns batches of
  images (float ``[N, C, H, W]``, uint8 ``[N, H, W, C]`` pixels, image file paths or encoded
  bytes) into logits, probabilities, top-k classes, embeddings, detections or masks.
- :func:`predict` runs it over a numpy array, a list of image paths (both give numpy results
  in input order) or a ``ray.data.Dataset`` (gives a Dataset: write it with
  ``write_parquet``).
- :func:`evaluate` gives ``(loss, accuracy)`` as ``Model.evaluate`` does; :func:`embed`
  writes a :class:`swiftcnn.retrieval.Index`.
- :func:`fit` trains a model data-parallel on N Ray workers (gradients averaged every step;
  checkpoints; a dead worker resumes the job from the last one).

Faults: one unreadable or corrupt image gives its row an ``error`` string and an empty
output (NaN for float outputs, -1 for classes, empty arrays for detections and masks); the
batch and the job go on. A model that cannot be opened (corrupt file, unknown name) raises
at construction, so :func:`predict`, :func:`evaluate` and :func:`embed` open it once on the
driver first and raise its error (FormatError / ValueError / OSError with the library's
message) before any Ray work starts. A worker process that dies mid-run is restarted by
Ray (``max_restarts`` / ``max_task_retries``) and its batches run again; the helpers check
that every input id comes back exactly once.

Ray is imported only when a function that needs it runs; without Ray those raise
ImportError("swiftcnn.ray needs Ray: pip install 'swiftcnn[ray]'").
"""
import io
import os
import signal
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["Predictor", "predict", "evaluate", "embed", "open_model", "OUTPUTS", "fit", "FitResult"]

#: The output kinds of :class:`Predictor` and :func:`predict`.
OUTPUTS = ("logits", "probs", "topk", "embeddings", "detections", "masks")

# Default retries of a predictor actor that dies (its process killed, out of memory): the
# actor is restarted and its unfinished batches run again. Finite, so that an input that
# kills every process it touches does not loop forever.
DEFAULT_RETRIES = 4

# Test hook (fault injection): when SWIFTCNN_RAY_KILL_MARKER names a file that does not exist
# yet, the actor whose batch holds the id SWIFTCNN_RAY_KILL_ID (default 0) creates the file
# and kills its own process with SIGKILL before running the batch -- once per marker file.
KILL_MARKER_ENV = "SWIFTCNN_RAY_KILL_MARKER"
KILL_ID_ENV = "SWIFTCNN_RAY_KILL_ID"


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise ImportError("swiftcnn.ray needs Ray: pip install 'swiftcnn[ray]'") from e
    return ray


def open_model(model: Any, weights: Any = None) -> Any:
    """The model ``model`` names: a :class:`swiftcnn.models.Model` as it is, a path to a model
    file (``.onnx`` through :func:`swiftcnn.onnx.load`, anything else through
    :func:`swiftcnn.models.load`), or a zoo name (:func:`swiftcnn.models.create`), then
    ``weights`` (a safetensors file with PyTorch names) loaded into it when given. Errors
    are the library's: a corrupt file raises FormatError (ValueError), a missing one
    SwiftCNNIOError (OSError), an unknown name ValueError."""
    from .. import models
    if isinstance(model, models.Model):
        m = model
    elif isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if os.path.exists(path) or os.sep in path or path.endswith((".safetensors", ".onnx")):
            if path.lower().endswith(".onnx"):
                from .. import onnx as sonnx
                m = sonnx.load(path)
            else:
                m = models.load(path)
        else:
            m = models.create(path)
    else:
        raise TypeError(f"model: expected a model file path, a zoo name or a swiftcnn Model, "
                        f"got {type(model).__name__}")
    if weights is not None:
        m.load(weights)
    return m.eval()


def _error_text(e: BaseException) -> str:
    text = str(e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _kill_if_asked(ids: np.ndarray) -> None:
    """The fault-injection test hook (KILL_MARKER_ENV, KILL_ID_ENV: ids compared as text)."""
    marker = os.environ.get(KILL_MARKER_ENV)
    if not marker or os.path.exists(marker):
        return
    if os.environ.get(KILL_ID_ENV, "0") not in set(str(i) for i in ids):
        return
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)


class Predictor:
    """A callable class for ``ray.data.Dataset.map_batches``: one model per actor.

    Example::

        ds = ray.data.from_items([{"id": i, "path": p} for i, p in enumerate(paths)])
        out = ds.map_batches(Predictor, fn_constructor_kwargs=dict(model="resnet18.safetensors",
                             output="topk", k=5, image_column="path"),
                             batch_size=32, concurrency=4, max_restarts=4, max_task_retries=4)
        out.write_parquet("predictions/")

    Constructor arguments:

    - ``model``: a model file path (``.onnx`` or a swiftcnn model file), a zoo name, or a
      Model (pickled to each actor); ``weights``: a safetensors weights file for it.
      See :func:`open_model`. A model that cannot be opened raises here.
    - ``output``: one of :data:`OUTPUTS`. "logits" -> column ``logits`` float32 ``[K]``;
      "probs" -> ``probs`` (softmax of the logits); "topk" -> ``classes`` int64 ``[k]`` and
      ``scores`` float32 ``[k]`` (softmax probabilities, highest first, lower class first on
      ties); "embeddings" -> ``embedding`` float32 ``[D]`` (:meth:`Model.embed` with
      ``node``, ``normalize``); "detections" -> ``boxes`` ``[M, 4]``, ``scores`` ``[M]``,
      ``labels`` ``[M]`` per row (:meth:`Model.detect` with ``detect_options``);
      "masks" -> ``mask`` int64 ``[H, W]`` and ``mask_scores`` float32 ``[H, W]``
      (:meth:`Model.segment`).
    - ``threads``: ``swiftcnn.set_num_threads`` in the actor (default 1: one thread per
      actor, one actor per CPU).
    - ``image_column`` (default "image"): float ``[N, C, H, W]`` tensors go to the model as
      they are; uint8 pixels ``[N, H, W, C]`` (or a column of differently sized images),
      image file paths (str) and encoded image bytes are decoded one row at a time (Pillow,
      RGB; gray "L" for a 1-channel model) and run through ``preprocess`` (one uint8
      ``[H, W, C]`` image in, float32 ``[C, H, W]`` out; default
      :func:`swiftcnn.image.imagenet_preprocess` for 3-channel models,
      :func:`swiftcnn.image.to_tensor` otherwise). Detections and masks take the decoded
      pixels themselves (the model preprocesses) unless ``preprocess`` is given.
    - ``id_column`` (default "id"): copied to every output row (any type: ints, or the
      "path" column of ``read_images(..., include_paths=True)``); None: no id column;
      ``keep_columns``: other input columns to copy.
    - ``warmup_batch``: before its first batch the actor runs one forward of this many
      zero images (of the first batch's image shape) unless that batch has this size.
      Why: the library picks each convolution's kernel (Winograd or im2col + GEMM) at the
      model's first forward, partly by that forward's batch size, and keeps it; results
      differ in the last bits between the two kernels. With ``warmup_batch`` an actor makes
      the choices a single process makes when its first call has that many images, so the
      result does not depend on which actor got which batch first. :func:`predict` sets it.
    - ``batch_size``: the model runs on consecutive slices of this many rows of each Ray
      batch (None: the whole Ray batch at once). :func:`predict` gives each Ray block several
      model batches this way (fewer Ray tasks, the same model batches).
    - ``label_column``: used by :func:`evaluate` (output "evaluate": one row per batch
      with ``first_id``, ``count``, ``loss`` -- the batch's mean loss from
      :meth:`Model.evaluate` -- and ``correct``).

    Every output row has an ``error`` column: "" when the row ran, else why its image could
    not be read or preprocessed (that row's output is empty: NaN floats, -1 classes, empty
    detection and mask arrays). The rest of the batch runs on.
    """

    def __init__(self, model: Any, *, weights: Any = None, output: str = "logits", k: int = 5,
                 threads: int = 1, image_column: str = "image", id_column: str = "id",
                 preprocess: Optional[Callable[[np.ndarray], np.ndarray]] = None,
                 node: Optional[str] = None, normalize: bool = False,
                 detect_options: Optional[Dict[str, Any]] = None, label_column: Optional[str] = None,
                 keep_columns: Sequence[str] = (), warmup_batch: Optional[int] = None,
                 batch_size: Optional[int] = None) -> None:
        from .. import set_num_threads
        if output not in OUTPUTS and output != "evaluate":
            raise ValueError(f"output: expected one of {', '.join(OUTPUTS)}; got {output!r}")
        if output == "topk" and (not isinstance(k, int) or k < 1):
            raise ValueError(f"k: expected an int >= 1, got {k!r}")
        if output == "evaluate" and not label_column:
            raise ValueError("output='evaluate' needs label_column")
        if threads is not None:
            set_num_threads(int(threads))
        self.model = open_model(model, weights)
        self.output, self.k = output, k
        self.image_column, self.id_column = image_column, id_column
        self.preprocess = preprocess
        self.node, self.normalize = node, normalize
        self.detect_options = dict(detect_options or {})
        self.label_column = label_column
        self.keep_columns = tuple(keep_columns)
        self.channels = int(self.model.input_shape[1])
        self.warmup_batch = warmup_batch
        self.batch_size = batch_size
        self._warm = not warmup_batch

    # ---- inputs ----------------------------------------------------------------------

    def _pixels(self, item: Any) -> np.ndarray:
        """One image as uint8 pixels [H, W, C] (RGB, or gray [H, W, 1] for 1-channel models)
        from a path, encoded bytes or an array of pixels."""
        if isinstance(item, (str, os.PathLike, bytes, bytearray, memoryview)):
            from PIL import Image
            src = io.BytesIO(bytes(item)) if isinstance(item, (bytes, bytearray, memoryview)) else os.fspath(item)
            with Image.open(src) as im:
                im = im.convert("L" if self.channels == 1 else "RGB")
                a = np.asarray(im)
            return a[:, :, None] if a.ndim == 2 else a
        a = np.asarray(item)
        if a.dtype != np.uint8 or a.ndim not in (2, 3):
            raise ValueError(f"expected uint8 pixels [H, W, C], a path or image bytes; got "
                             f"{a.dtype} of shape {a.shape}")
        return a[:, :, None] if a.ndim == 2 else a

    def _tensor(self, item: Any) -> np.ndarray:
        px = self._pixels(item)
        if self.preprocess is not None:
            t = self.preprocess(px)
        elif self.channels == 3:
            from ..image import imagenet_preprocess
            t = imagenet_preprocess(px)
        else:
            from ..image import to_tensor
            t = to_tensor(px)
        t = np.asarray(t, dtype=np.float32)
        if t.ndim == 4 and t.shape[0] == 1:
            t = t[0]
        if t.ndim != 3:
            raise ValueError(f"preprocess: expected one image [C, H, W], got shape {t.shape}")
        return t

    def _raw(self, item: Any) -> np.ndarray:
        """A detection / segmentation input: pixels as they are (float CHW in [0, 1] arrays
        pass through), or preprocess's result when a preprocess is given."""
        if isinstance(item, np.ndarray) and item.dtype.kind == "f":
            if item.ndim != 3:
                raise ValueError(f"expected a float image [3, H, W] in [0, 1], got shape {item.shape}")
            return item
        return self._tensor(item) if self.preprocess is not None else self._pixels(item)

    def _inputs(self, col: Any, n: int) -> Tuple[List[Any], List[str]]:
        """Per row: its model input (None when it failed) and its error ("" when none)."""
        if isinstance(col, np.ndarray) and col.dtype.kind == "f" and col.ndim == 4 \
                and self.output not in ("detections", "masks"):
            return [None] * n, [""] * n  # the float batch goes to the model whole
        if isinstance(col, np.ndarray) and col.dtype.kind == "f" and col.ndim == 4:
            col = list(col)
        make = self._raw if self.output in ("detections", "masks") else self._tensor
        items: List[Any] = []
        errors: List[str] = []
        for i in range(n):
            try:
                items.append(make(col[i]))
                errors.append("")
            except Exception as e:  # one bad image must not fail the batch
                items.append(None)
                errors.append(_error_text(e))
        return items, errors

    # ---- the call --------------------------------------------------------------------

    def __call__(self, batch: Dict[str, Any]) -> Dict[str, Any]:
        n = len(next(iter(batch.values()))) if batch else 0
        b = self.batch_size
        if not b or n <= b:
            return self._call(batch)
        # A block of several model batches: rows [0, b), [b, 2b), ... each run on its own.
        parts = [self._call({k: v[i:i + b] for k, v in batch.items()}) for i in range(0, n, b)]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def _call(self, batch: Dict[str, Any]) -> Dict[str, Any]:
        if self.image_column not in batch:
            raise KeyError(f"swiftcnn.ray.Predictor: the batch has no column {self.image_column!r} "
                           f"(columns: {', '.join(batch)}); set image_column=")
        col = batch[self.image_column]
        n = len(col)
        if self.id_column is None:
            ids = np.zeros(0, dtype=np.int64)
        elif self.id_column in batch:
            ids = np.asarray(batch[self.id_column])
        else:
            raise KeyError(f"swiftcnn.ray.Predictor: the batch has no id column {self.id_column!r} "
                           f"(columns: {', '.join(batch)}); set id_column= (e.g. 'path' with "
                           f"read_images(..., include_paths=True)), or None for no ids")
        _kill_if_asked(ids)
        whole = isinstance(col, np.ndarray) and col.dtype.kind == "f" and col.ndim == 4 and n > 0 \
            and self.output not in ("detections", "masks")
        items, errors = self._inputs(col, n)
        ok = [i for i in range(n) if not errors[i]]
        if whole:
            x = np.ascontiguousarray(col, dtype=np.float32)
        elif self.output in ("detections", "masks"):
            x = [items[i] for i in ok]
        else:
            x = np.stack([items[i] for i in ok]) if ok else None
        if not self._warm and isinstance(x, np.ndarray):
            self._warm = True
            if len(x) != self.warmup_batch:
                self.model(np.zeros((self.warmup_batch,) + x.shape[1:], dtype=np.float32))
        if self.output == "evaluate":
            return self._evaluate(batch, ids, x, ok, errors)
        out: Dict[str, Any] = {self.id_column: ids} if self.id_column is not None else {}
        for c in self.keep_columns:
            out[c] = batch[c]
        out.update(self._run(x, ok, n))
        out["error"] = np.array(errors, dtype=object)
        return out

    def _evaluate(self, batch, ids, x, ok, errors):
        bad = [f"id {ids[i] if len(ids) else i}: {e}" for i, e in enumerate(errors) if e]
        loss, correct, count = float("nan"), 0, len(ok)
        if x is not None and count:
            y = np.asarray(batch[self.label_column])[ok]
            loss_, acc = self.model.evaluate(x, y, batch_size=count)
            loss, correct = float(loss_), int(round(acc * count))
        first = int(ids.min()) if len(ids) and ids.dtype.kind in "iu" else -1
        return {"first_id": np.array([first], dtype=np.int64),
                "count": np.array([count], dtype=np.int64), "rows": np.array([len(ids)], dtype=np.int64),
                "loss": np.array([loss], dtype=np.float64), "correct": np.array([correct], dtype=np.int64),
                "error": np.array(["; ".join(bad)], dtype=object)}

    def _run(self, x: Any, ok: List[int], n: int) -> Dict[str, Any]:
        from .. import softmax
        m = self.model
        kind = self.output
        if kind in ("logits", "probs", "topk", "embeddings"):
            if kind == "embeddings":
                y = m.embed(x, self.node, normalize=self.normalize, batch_size=len(x)) if x is not None else None
            else:
                y = m(x) if x is not None else None
                if y is not None and kind != "logits":
                    y = np.asarray(softmax(y, axis=1))
            width = y.shape[1] if y is not None else self._width()
            full = np.full((n, width), np.nan, dtype=np.float32)
            if y is not None:
                full[ok] = y
            if kind != "topk":
                return {{"logits": "logits", "probs": "probs", "embeddings": "embedding"}[kind]: full}
            k = min(self.k, width)
            classes = np.full((n, k), -1, dtype=np.int64)
            scores = np.full((n, k), np.nan, dtype=np.float32)
            if y is not None:
                order = np.argsort(-y, axis=1, kind="stable")[:, :k]
                classes[ok] = order
                scores[ok] = np.take_along_axis(y, order, axis=1)
            return {"classes": classes, "scores": scores}
        if kind == "detections":
            dets = m.detect(x, **self.detect_options) if x else []
            boxes = _ragged(n, (0, 4), np.float32)
            scores_ = _ragged(n, (0,), np.float32)
            labels = _ragged(n, (0,), np.int64)
            for i, d in zip(ok, dets):
                boxes[i], scores_[i], labels[i] = d["boxes"], d["scores"], d["labels"]
            return {"boxes": boxes, "scores": scores_, "labels": labels}
        # masks
        masks = _ragged(n, (0, 0), np.int64)
        mscores = _ragged(n, (0, 0), np.float32)
        for i, item in zip(ok, x):
            r = m.segment([item])[0] if isinstance(item, np.ndarray) else m.segment(item)
            masks[i], mscores[i] = r["labels"], r["scores"]
        return {"mask": masks, "mask_scores": mscores}

    def _width(self) -> int:
        if self.output == "embeddings":
            x = np.zeros(self.model.input_shape, dtype=np.float32)
            return int(self.model.embed(x, self.node).shape[1])
        return int(self.model.output_shape(self.model.input_shape)[1])


def _ragged(n: int, empty_shape: Tuple[int, ...], dtype: Any) -> np.ndarray:
    a = np.empty(n, dtype=object)
    for i in range(n):
        a[i] = np.zeros(empty_shape, dtype=dtype)
    return a


# ---- the helpers ---------------------------------------------------------------------------

def _is_dataset(data: Any) -> bool:
    try:
        import ray.data
    except ImportError:
        return False
    return isinstance(data, ray.data.Dataset)


def _as_source(data: Any, what: str = "data") -> Tuple[str, Any]:
    """("array", float/uint8 ndarray) or ("paths", list of str)."""
    if isinstance(data, np.ndarray):
        if data.ndim < 2 or data.shape[0] < 1:
            raise ValueError(f"{what}: expected a batch of images [N, ...] with N >= 1, got shape {data.shape}")
        if data.dtype.kind not in "fu":
            raise TypeError(f"{what}: expected float images [N, C, H, W] or uint8 pixels [N, H, W, C], "
                            f"got dtype {data.dtype}")
        return "array", data
    if isinstance(data, (list, tuple)):
        if not data:
            raise ValueError(f"{what}: an empty list of image paths")
        if not all(isinstance(p, (str, os.PathLike)) for p in data):
            raise TypeError(f"{what}: a list must hold image file paths (str or os.PathLike)")
        return "paths", [os.fspath(p) for p in data]
    raise TypeError(f"{what}: expected a numpy array, a list of image paths or a ray.data.Dataset, "
                    f"got {type(data).__name__}")


def _block_rows(n: int, batch_size: int, num_workers: int) -> int:
    """Rows per Ray block: a whole number of model batches, about 4 blocks per worker (fewer
    Ray tasks than one per batch; enough blocks to balance the workers and to keep what a
    dead worker's retry redoes small)."""
    batches = -(-n // batch_size)
    return batch_size * max(1, -(-batches // (4 * num_workers)))


def _blocks(kind: str, src: Any, block_rows: int, extra: Optional[Dict[str, np.ndarray]] = None):
    """A Dataset with one block per ``block_rows`` consecutive rows (ids 0..N-1; block_rows a
    multiple of the model batch), so that each batch the model runs is
    ``src[i:i + batch_size]`` whatever Ray does: the batches are those of single-process
    code that splits the same way."""
    ray = _ray()
    import pyarrow as pa
    from ray.data.extensions import ArrowTensorArray
    n = len(src)
    tables = []
    for start in range(0, n, block_rows):
        stop = min(n, start + block_rows)
        cols = {"id": pa.array(np.arange(start, stop, dtype=np.int64))}
        if kind == "array":
            cols["image"] = ArrowTensorArray.from_numpy(np.ascontiguousarray(src[start:stop]))
        else:
            cols["image"] = pa.array(src[start:stop], type=pa.string())
        for name, values in (extra or {}).items():
            cols[name] = pa.array(np.asarray(values[start:stop]))
        tables.append(pa.table(cols))
    return ray.data.from_arrow(tables)


def _map(ds: Any, constructor: Dict[str, Any], batch_size: Optional[int], num_workers: int,
         ray_remote_args: Optional[Dict[str, Any]]) -> Any:
    args = {"max_restarts": DEFAULT_RETRIES, "max_task_retries": DEFAULT_RETRIES}
    args.update(ray_remote_args or {})
    threads = constructor.get("threads") or 1
    args.setdefault("num_cpus", threads)
    import warnings
    with warnings.catch_warnings():
        # Ray 2.5x deprecates **ray_remote_args in favour of named parameters, but
        # max_restarts / max_task_retries have none yet.
        warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
        return ds.map_batches(Predictor, fn_constructor_kwargs=constructor, batch_size=batch_size,
                              batch_format="numpy", compute=_ray().data.ActorPoolStrategy(size=num_workers),
                              **args)


def _collect(out: Any, n: int, columns: Sequence[str]) -> Dict[str, Any]:
    """The result columns of rows 0..n-1 in id order; RuntimeError unless every id came back
    exactly once."""
    ids_parts: List[np.ndarray] = []
    parts: Dict[str, List[Any]] = {c: [] for c in columns}
    for b in out.iter_batches(batch_size=None, batch_format="numpy"):
        ids_parts.append(np.asarray(b["id"], dtype=np.int64))
        for c in columns:
            parts[c].append(b[c])
    ids = np.concatenate(ids_parts) if ids_parts else np.zeros(0, np.int64)
    order = np.argsort(ids, kind="stable")
    if len(ids) != n or not np.array_equal(ids[order], np.arange(n)):
        counts = np.bincount(ids[(ids >= 0) & (ids < n)], minlength=n)
        raise RuntimeError(f"swiftcnn.ray: {len(ids)} results for {n} inputs "
                           f"({int((counts == 0).sum())} ids missing, {int((counts > 1).sum())} repeated)")
    result: Dict[str, Any] = {}
    for c in columns:
        vals = parts[c]
        if all(isinstance(v, np.ndarray) and v.dtype != object for v in vals):
            result[c] = np.concatenate(vals)[order]
        else:
            flat = [x for v in vals for x in v]
            result[c] = [flat[i] for i in order]
    return result


_COLUMNS = {"logits": ("logits",), "probs": ("probs",), "topk": ("classes", "scores"),
            "embeddings": ("embedding",), "detections": ("boxes", "scores", "labels"),
            "masks": ("mask", "mask_scores")}


def _check_count(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{what}: expected an int >= 1, got {v!r}")
    return int(v)


def predict(data: Any, model: Any, *, batch_size: int = 64, output: str = "logits", k: int = 5,
            num_workers: int = 2, threads_per_worker: int = 1, weights: Any = None,
            preprocess: Optional[Callable[[np.ndarray], np.ndarray]] = None, node: Optional[str] = None,
            normalize: bool = False, detect_options: Optional[Dict[str, Any]] = None,
            image_column: str = "image", id_column: str = "id", on_error: str = "raise",
            ray_remote_args: Optional[Dict[str, Any]] = None) -> Any:
    """Runs ``model`` over ``data`` on the Ray cluster (``ray.init`` first; a local one is
    started by Ray if none is).

    ``data``:

    - a numpy array: float images ``[N, C, H, W]`` or uint8 pixels ``[N, H, W, C]``;
    - a list of image file paths (readable from every node);
    - a ``ray.data.Dataset`` with ``image_column`` and ``id_column``.

    ``model``, ``weights``, ``output``, ``k``, ``preprocess``, ``node``, ``normalize``,
    ``detect_options``: as :class:`Predictor`. ``num_workers`` actors with
    ``threads_per_worker`` threads each (and as many CPUs reserved).

    Numpy and paths: the rows are cut into batches of ``batch_size`` consecutive rows (Ray
    blocks of a whole number of them, about 4 blocks per worker), so the model runs exactly on ``data[i:i + batch_size]`` and the result
    equals single-process ``model(data[i:i + batch_size])`` bitwise, for a model opened
    fresh whose first call is the first batch (each actor warms up with a batch of that
    size, see ``warmup_batch`` in :class:`Predictor`). Embeddings, which depend on the
    batch a row is in, equal ``model.embed`` on the same slices. Returns, in input order: float32
    ``[N, K]`` (logits, probs), ``[N, D]`` (embeddings), ``(classes, scores)`` (topk), or a
    list of dicts as :meth:`Model.detect` / :meth:`Model.segment` give (detections, masks).
    Rows whose image failed: ``on_error="raise"`` (default) raises ValueError naming them
    after the run; ``"keep"`` keeps their empty outputs (NaN rows). RuntimeError if some
    id did not come back exactly once.

    A Dataset: returns the (lazy) Dataset of ``id_column``, the output columns and
    ``error``; Ray forms the batches (``batch_size`` rows each). A Dataset that reads files
    (``read_images``, ``read_parquet``, ...) needs CPUs for its read tasks too: keep
    ``num_workers * threads_per_worker`` below the cluster's CPUs, or the reads wait for ever
    behind actors that wait for their input. Write it with
    ``.write_parquet(path)`` or iterate it.
    """
    if output not in OUTPUTS:
        raise ValueError(f"output: expected one of {', '.join(OUTPUTS)}; got {output!r}")
    if on_error not in ("raise", "keep"):
        raise ValueError(f"on_error: expected 'raise' or 'keep', got {on_error!r}")
    batch_size = _check_count(batch_size, "batch_size")
    num_workers = _check_count(num_workers, "num_workers")
    threads_per_worker = _check_count(threads_per_worker, "threads_per_worker")
    dataset = _is_dataset(data)
    kind, src = (None, None) if dataset else _as_source(data)
    m = open_model(model, weights)  # a clear error here, before any Ray work
    if kind == "array" and src.dtype.kind == "f" and output not in ("detections", "masks"):
        m.output_shape((1,) + tuple(src.shape[1:]))  # ValueError naming the expected shape
    constructor = dict(model=model, weights=weights, output=output, k=k, threads=threads_per_worker,
                       preprocess=preprocess, node=node, normalize=normalize,
                       detect_options=detect_options, image_column=image_column if dataset else "image",
                       id_column=id_column if dataset else "id",
                       warmup_batch=batch_size if dataset else min(batch_size, len(src)))
    _ray()
    if dataset:
        return _map(data, constructor, batch_size, num_workers, ray_remote_args)
    constructor["batch_size"] = batch_size
    out = _map(_blocks(kind, src, _block_rows(len(src), batch_size, num_workers)), constructor, None,
               num_workers, ray_remote_args)
    cols = _collect(out, len(src), _COLUMNS[output] + ("error",))
    errors = cols.pop("error")
    bad = [(i, e) for i, e in enumerate(errors) if e]
    if bad and on_error == "raise":
        shown = "; ".join(f"row {i}: {e}" for i, e in bad[:5])
        raise ValueError(f"swiftcnn.ray.predict: {len(bad)} of {len(src)} images failed ({shown}"
                         f"{'; ...' if len(bad) > 5 else ''}); on_error='keep' keeps the other rows")
    if output in ("logits", "probs", "embeddings"):
        return cols[_COLUMNS[output][0]]
    if output == "topk":
        return cols["classes"], cols["scores"]
    names = _COLUMNS[output]
    keys = ("boxes", "scores", "labels") if output == "detections" else ("labels", "scores")
    return [dict(zip(keys, (cols[c][i] for c in names))) for i in range(len(src))]


def evaluate(data: Any, labels: Any, model: Any, *, batch_size: int = 256, num_workers: int = 2,
             threads_per_worker: int = 1, weights: Any = None,
             preprocess: Optional[Callable[[np.ndarray], np.ndarray]] = None, image_column: str = "image",
             id_column: str = "id", label_column: str = "label",
             ray_remote_args: Optional[Dict[str, Any]] = None) -> Tuple[float, float]:
    """``(loss, accuracy)`` of ``model`` on labelled images, as :meth:`Model.evaluate`
    computes them: each batch's mean softmax cross-entropy (the library's, float32) times
    its size, summed in float64 in row order, divided by N and rounded to float32; accuracy
    = correct / N.

    ``data``: a numpy array or a list of image paths with ``labels`` (N class indices), or a
    ``ray.data.Dataset`` with ``image_column``, ``id_column`` and ``label_column`` (then
    ``labels`` must be None). With numpy / paths the batches are ``data[i:i + batch_size]``,
    so the result equals ``model.evaluate(x, labels, batch_size)`` exactly; a Dataset's
    batches are Ray's (the per-batch float32 rounding then differs: equal to about 1e-6
    relative). An image that fails to load raises ValueError (after the run)."""
    batch_size = _check_count(batch_size, "batch_size")
    num_workers = _check_count(num_workers, "num_workers")
    threads_per_worker = _check_count(threads_per_worker, "threads_per_worker")
    dataset = _is_dataset(data)
    if dataset:
        if labels is not None:
            raise ValueError("labels: give None with a Dataset (its label_column holds the labels)")
        n = None
    else:
        kind, src = _as_source(data)
        y = np.asarray(labels)
        if y.ndim != 1 or len(y) != len(src) or y.dtype.kind not in "iu":
            raise ValueError(f"labels: expected {len(src)} integer class indices, got {y.dtype} of shape {y.shape}")
        n = len(src)
    m = open_model(model, weights)
    if not dataset and kind == "array" and src.dtype.kind == "f":
        m.output_shape((1,) + tuple(src.shape[1:]))
    constructor = dict(model=model, weights=weights, output="evaluate", threads=threads_per_worker,
                       preprocess=preprocess, image_column=image_column if dataset else "image",
                       id_column=id_column if dataset else "id",
                       label_column=label_column if dataset else "label",
                       warmup_batch=batch_size if dataset else min(batch_size, len(src)))
    _ray()
    if dataset:
        out = _map(data, constructor, batch_size, num_workers, ray_remote_args)
    else:
        constructor["batch_size"] = batch_size
        ds = _blocks(kind, src, _block_rows(n, batch_size, num_workers), extra={"label": y.astype(np.int64)})
        out = _map(ds, constructor, None, num_workers, ray_remote_args)
    rows = out.take_all()
    rows.sort(key=lambda r: int(r["first_id"]))
    bad = [r["error"] for r in rows if r["error"]]
    if bad:
        raise ValueError(f"swiftcnn.ray.evaluate: images failed: {'; '.join(bad)[:2000]}")
    if n is not None:
        starts = [int(r["first_id"]) for r in rows]
        if starts != list(range(0, n, batch_size)) or sum(int(r["rows"]) for r in rows) != n:
            raise RuntimeError(f"swiftcnn.ray.evaluate: batches came back incomplete or repeated "
                               f"(starts {starts[:10]}...)")
    total_n = sum(int(r["count"]) for r in rows)
    if total_n == 0:
        raise ValueError("swiftcnn.ray.evaluate: no images")
    total = 0.0
    correct = 0
    for r in rows:
        total += float(np.float32(r["loss"])) * int(r["count"])
        correct += int(r["correct"])
    return float(np.float32(total / total_n)), correct / total_n


def embed(data: Any, model: Any, index_path: Any, *, ids: Any = None, metric: str = "cosine",
          batch_size: int = 64, node: Optional[str] = None, normalize: bool = False, num_workers: int = 2,
          threads_per_worker: int = 1, weights: Any = None,
          preprocess: Optional[Callable[[np.ndarray], np.ndarray]] = None, image_column: str = "image",
          id_column: str = "id", ray_remote_args: Optional[Dict[str, Any]] = None) -> Any:
    """Embeds ``data`` on the cluster (:func:`predict` with output "embeddings") and writes a
    :class:`swiftcnn.retrieval.Index` (``metric``) of the vectors to ``index_path``
    (atomically: a failed write leaves an existing file intact). ``ids``: one int64 id per
    row (default 0..N-1); with a Dataset the ids are its ``id_column``. Rows whose image
    failed raise ValueError (nothing is written). Returns the Index."""
    from ..retrieval import Index
    if _is_dataset(data):
        if ids is not None:
            raise ValueError("ids: give None with a Dataset (its id_column holds the ids)")
        out = predict(data, model, batch_size=batch_size, output="embeddings", num_workers=num_workers,
                      threads_per_worker=threads_per_worker, weights=weights, preprocess=preprocess,
                      node=node, normalize=normalize, image_column=image_column, id_column=id_column,
                      ray_remote_args=ray_remote_args)
        vec_parts, id_parts, errors = [], [], []
        for b in out.iter_batches(batch_size=None, batch_format="numpy"):
            errors += [f"id {i}: {e}" for i, e in zip(b[id_column], b["error"]) if e]
            vec_parts.append(np.asarray(b["embedding"], dtype=np.float32))
            id_parts.append(np.asarray(b[id_column], dtype=np.int64))
        if errors:
            raise ValueError(f"swiftcnn.ray.embed: {len(errors)} images failed: {'; '.join(errors[:5])}")
        vectors, row_ids = np.concatenate(vec_parts), np.concatenate(id_parts)
        if len(np.unique(row_ids)) != len(row_ids):
            raise RuntimeError("swiftcnn.ray.embed: an id came back more than once")
    else:
        vectors = predict(data, model, batch_size=batch_size, output="embeddings", num_workers=num_workers,
                          threads_per_worker=threads_per_worker, weights=weights, preprocess=preprocess,
                          node=node, normalize=normalize, ray_remote_args=ray_remote_args)
        row_ids = np.arange(len(vectors), dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
        if row_ids.shape != (len(vectors),):
            raise ValueError(f"ids: expected {len(vectors)} ids, got shape {row_ids.shape}")
    index = Index(vectors.shape[1], metric=metric)
    index.add(vectors, row_ids)
    index.save(index_path)
    return index


from ._fit import FitResult, fit  # noqa: E402  (after _ray, which it uses)
