"""The ``swiftcnn`` command: models on image files from the shell.

Installed as the console script ``swiftcnn`` (and ``python -m swiftcnn``)::

    swiftcnn summary resnet18
    swiftcnn classify resnet50 --weights resnet50.safetensors cat.jpg dog.png --top 3
    swiftcnn detect ssd300_vgg16 --weights ssd.safetensors street.jpg -o boxes.png
    swiftcnn segment fcn_resnet50 --weights fcn.safetensors street.jpg -o labels.png
    swiftcnn convert mobilenet_v2.onnx mobilenet_v2.safetensors
    swiftcnn bench resnet18 --batch 8 --threads 2 --runs 20
    swiftcnn profile resnet18 --top 10
    swiftcnn show filters lenet5 -o filters.png
    swiftcnn show activations resnet18 cat.jpg --layer layer1 -o maps.png

MODEL is a zoo name (an unknown name gets the list; zoo models hold seeded,
untrained weights unless ``--weights`` loads a state dict), a model file written by
``Model.save`` / ``swiftcnn convert`` (safetensors with the network in its metadata), or an
``.onnx`` file. Images are PNG, JPEG or anything else Pillow reads.

Exit status: 0 done, 1 an error (missing file, unknown model, an image Pillow cannot read, a
shape the model does not take...), 2 bad command-line usage. Errors are one line on stderr,
``swiftcnn: error: ...``; ``--debug`` shows the traceback as well.

Progress (loading an ONNX file, bench runs, many images) goes to stderr as one line redrawn in
place, only when stderr is a terminal unless ``--progress`` is given.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

__all__ = ["main", "load_model", "read_image", "preprocess"]


class CLIError(Exception):
    """An error the command reports as one line (exit status 1)."""


class _UsageError(Exception):
    """A command-line usage error (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors: ``swiftcnn: error: ...`` and exit status 2."""

    def error(self, message: str) -> "NoReturn":  # type: ignore[name-defined]  # noqa: F821
        raise _UsageError(f"{message} (see '{self.prog} --help')")


# ---- progress --------------------------------------------------------------------------

class _Progress:
    """One stderr line redrawn in place; silent unless enabled."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.stream = sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.open = False
        self.last = 0.0

    def show(self, text: str, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self.last < (0.1 if self.tty else 1.0):
            return  # a terminal redraws at most 10 times a second, a log gets a line a second
        self.last = now
        if self.tty:
            self.stream.write("\r\033[K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self.open = self.tty

    def done(self) -> None:
        if self.enabled and self.open:
            self.stream.write("\r\033[K")
            self.stream.flush()
        self.open = False


# ---- models and images -------------------------------------------------------------------

def load_model(spec: str, weights: Optional[str] = None, progress: Optional[_Progress] = None) -> Any:
    """The model ``spec`` names: an ``.onnx`` file, a swiftcnn model file, or a zoo name
    (with ``weights``, a safetensors state dict, loaded into it)."""
    from . import models
    progress = progress or _Progress(False)
    if spec.lower().endswith(".onnx"):
        if not os.path.isfile(spec):
            raise CLIError(f"{spec}: no such file")
        from . import onnx as sonnx
        t0 = time.monotonic()
        progress.show(f"loading {spec} ...", force=True)
        model = sonnx.load(spec)
        progress.show(f"loaded {spec} in {time.monotonic() - t0:.1f} s", force=True)
        progress.done()
    elif os.path.isfile(spec):
        model = models.load(spec)
    elif spec in models.names():
        model = models.create(spec)
    elif os.sep in spec or "." in spec:
        raise CLIError(f"{spec}: no such file (and not a zoo model name)")
    else:
        raise CLIError(f"unknown model {spec!r}: not a file and not a zoo name (zoo: {', '.join(models.names())})")
    if weights is not None:
        if not os.path.isfile(weights):
            raise CLIError(f"{weights}: no such file")
        model.load(weights)
    return model


def read_image(path: str) -> np.ndarray:
    """An image file (PNG, JPEG, ... through Pillow) as RGB pixels, uint8 ``[H, W, 3]``."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise CLIError("reading images needs Pillow: python -m pip install Pillow") from None
    if not os.path.isfile(path):
        raise CLIError(f"{path}: no such file")
    try:
        with Image.open(path) as im:
            im.load()
            rgb = im.convert("RGB")
    except UnidentifiedImageError:
        raise CLIError(f"{path}: not an image Pillow can read (PNG, JPEG, ...)") from None
    except (OSError, ValueError, SyntaxError) as e:  # truncated or corrupt data
        raise CLIError(f"{path}: cannot decode the image: {e}") from None
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


def _resize(x: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """``[C, H, W]`` resized to ``size``, antialiased."""
    from . import image
    return image.resize(x, size, antialias=True, layout="chw")


def _imagenet_like(pixels: np.ndarray, crop: int) -> np.ndarray:
    """ImageNet's preprocessing of uint8 RGB pixels ``[H, W, 3]`` for a ``crop`` x ``crop``
    input: shorter side to round(crop * 256 / 224) (256 for 224), centre crop, ImageNet mean
    and std. float32 ``[3, crop, crop]``."""
    from . import image
    if crop == 224:
        return np.asarray(image.imagenet_preprocess(pixels), dtype=np.float32)
    short = int(round(crop * 256 / 224))
    x = image.resize(image.to_tensor(pixels), short, antialias=True, layout="chw")
    x = image.center_crop(x, crop, layout="chw")
    return np.ascontiguousarray(image.normalize(x, image.IMAGENET_MEAN, image.IMAGENET_STD, layout="chw"),
                                dtype=np.float32)


def preprocess(model: Any, pixels: np.ndarray) -> np.ndarray:
    """uint8 RGB pixels ``[H, W, 3]`` as the model's input ``[1, C, H, W]`` (float32):

    - 3 channels at 224 x 224: ImageNet's preprocessing (``swiftcnn.image.imagenet_preprocess``:
      shorter side to 256, antialiased, centre crop 224, ImageNet mean and std);
    - 3 channels at another size S x S of at least 64 (e.g. 299): the same scaled, shorter
      side to round(S * 256 / 224), centre crop S, ImageNet mean and std;
    - otherwise (small inputs such as CIFAR's 3 x 32 x 32 or LeNet's 1 x 32 x 32): the whole
      image resized to H x W (antialiased), values in [0, 1], converted to grey (BT.601 luma)
      for 1-channel models.
    """
    from . import image
    _, c, h, w = model.input_shape
    if c not in (1, 3):
        raise CLIError(f"{model.name} takes {c} input channels; images give 1 (grey) or 3 (RGB)")
    if c == 3 and h == w and h >= 64:
        x = _imagenet_like(pixels, h)
    else:
        x = _resize(image.to_tensor(pixels), (h, w))
        if c == 1:
            x = image.rgb_to_grayscale(x, layout="chw")
    return np.ascontiguousarray(np.asarray(x, dtype=np.float32)[None])


def _labels_for(model: Any, spec: Optional[str]) -> Optional[List[str]]:
    import swiftcnn
    n = model.num_classes
    if spec is None:
        if n == 1000:
            return swiftcnn.imagenet_classes()
        return None
    labels = swiftcnn.imagenet_classes() if spec == "imagenet" else _read_labels(spec)
    if len(labels) < n:
        raise CLIError(f"--labels {spec}: {len(labels)} labels for a model with {n} classes")
    return labels


def _read_labels(path: str) -> List[str]:
    """Class names from a text file, one per line (trailing blank lines dropped)."""
    try:
        with open(path, encoding="utf-8") as f:
            labels = [line.rstrip("\r\n") for line in f]
    except (OSError, UnicodeDecodeError) as e:
        raise CLIError(f"--labels {path}: {e}") from None
    while labels and not labels[-1].strip():
        labels.pop()
    return labels


def _softmax(v: np.ndarray) -> np.ndarray:
    e = np.exp(v.astype(np.float64) - np.max(v))
    return e / e.sum()


def _first_conv(model: Any) -> Optional[str]:
    """The node path of the model's first convolution (as ``model.node_names()`` lists it),
    or None."""
    def walk(node: Any, prefix: str) -> Optional[str]:
        name = node.get("name")
        path = f"{prefix}.{name}" if prefix and name else (str(name) if name else prefix)
        if node.get("op") in ("conv2d", "partial_conv2d"):
            return path
        for value in node.values():
            if isinstance(value, list):
                for child in value:
                    if isinstance(child, dict) and "op" in child:
                        found = walk(child, path)
                        if found is not None:
                            return found
        return None
    doc = model.to_json()
    found = walk(doc.get("network", {}), "")
    return found if found and found in model.node_names() else None


# ---- subcommands ------------------------------------------------------------------------

def _cmd_summary(args: argparse.Namespace, progress: _Progress) -> None:
    model = load_model(args.model, args.weights, progress)
    print(model.summary(args.input_shape))


def _cmd_classify(args: argparse.Namespace, progress: _Progress) -> None:
    if args.top < 1:
        raise _UsageError("--top must be >= 1")
    for path in args.images:  # before any work: a typo should not cost a model load
        if not os.path.isfile(path):
            raise CLIError(f"{path}: no such file")
    model = load_model(args.model, args.weights, progress)
    labels = _labels_for(model, args.labels)
    k = min(args.top, model.num_classes)
    lower_is_better = model.name == "lenet5_original"  # Euclidean RBF penalties, not logits
    for i, path in enumerate(args.images):
        progress.show(f"classify: {i + 1}/{len(args.images)} {path}", force=i == 0)
        x = preprocess(model, read_image(path))
        out = np.asarray(model(x))[0]
        probs = _softmax(-out if lower_is_better else out)
        order = sorted(range(len(probs)), key=lambda j: (-probs[j], j))[:k]
        progress.done()
        print(f"{path}:")
        for j in order:
            name = labels[j] if labels is not None else f"class {j}"
            print(f"  {probs[j]:.4f}  {name} ({j})")
        sys.stdout.flush()
    progress.done()


def _cmd_detect(args: argparse.Namespace, progress: _Progress) -> None:
    from . import models, viz
    model = load_model(args.model, args.weights, progress)
    image = read_image(args.image)
    found = model.detect([image], score_threshold=args.score_threshold)[0]
    names = _read_labels(args.labels) if args.labels else models.coco_classes()
    pic = viz.detections(image, found["boxes"], found["scores"], found["labels"], names, path=args.output)
    print(f"{len(found['labels'])} detections with score >= {args.score_threshold:g}")
    for box, score, label in zip(found["boxes"], found["scores"], found["labels"]):
        name = names[int(label)] if names is not None and 0 <= label < len(names) else f"class {int(label)}"
        x1, y1, x2, y2 = (float(v) for v in box)
        print(f"  {score:.3f}  {name}  [{x1:.1f}, {y1:.1f}, {x2:.1f}, {y2:.1f}]")
    print(f"wrote {args.output} ({pic.shape[1]}x{pic.shape[0]})")


def _cmd_segment(args: argparse.Namespace, progress: _Progress) -> None:
    from . import models, viz
    model = load_model(args.model, args.weights, progress)
    image = read_image(args.image)
    labels = np.asarray(model.segment(image)["labels"][0])
    names = models.voc_classes() if model.num_classes == 21 else None
    pic = viz.label_map(labels, image, names, alpha=args.alpha, path=args.output)
    classes, counts = np.unique(labels, return_counts=True)
    for c, n in sorted(zip(classes.tolist(), counts.tolist()), key=lambda t: (-t[1], t[0])):
        name = names[c] if names is not None and 0 <= c < len(names) else f"class {c}"
        print(f"  {100.0 * n / labels.size:5.1f}%  {name} ({c})")
    print(f"wrote {args.output} ({pic.shape[1]}x{pic.shape[0]})")


def _cmd_convert(args: argparse.Namespace, progress: _Progress) -> None:
    from . import onnx as sonnx
    if not os.path.isfile(args.src):
        raise CLIError(f"{args.src}: no such file")
    t0 = time.monotonic()
    progress.show(f"converting {args.src} ...", force=True)
    sonnx.convert(args.src, args.dst, input_shape=args.input_shape)
    progress.done()
    print(f"wrote {args.dst} ({time.monotonic() - t0:.1f} s)")


def _bench_input(model: Any, batch: int, size: Optional[Tuple[int, int]]) -> np.ndarray:
    _, c, h, w = model.input_shape
    if size is not None:
        h, w = size
    return np.random.default_rng(0).standard_normal((batch, c, h, w)).astype(np.float32)


def _cmd_bench(args: argparse.Namespace, progress: _Progress) -> None:
    import swiftcnn
    if args.batch < 1 or args.runs < 1 or args.warmup < 0:
        raise _UsageError("--batch and --runs must be >= 1, --warmup >= 0")
    model = load_model(args.model, args.weights, progress)
    x = _bench_input(model, args.batch, args.size)
    times = []
    total = args.warmup + args.runs
    for i in range(total):
        progress.show(f"bench: {'warm-up' if i < args.warmup else 'run'} {i + 1}/{total}",
                      force=i in (0, total - 1))
        t0 = time.perf_counter()
        model(x)
        dt = time.perf_counter() - t0
        if i >= args.warmup:
            times.append(dt * 1000.0)
    progress.done()
    med = float(np.median(times))
    print(f"{model.name}: input {list(x.shape)}, {swiftcnn.get_num_threads()} thread(s), {args.runs} runs")
    print(f"median {med:.3f} ms  min {min(times):.3f} ms  {args.batch * 1000.0 / med:.1f} img/s")


def _cmd_profile(args: argparse.Namespace, progress: _Progress) -> None:
    if args.top < 0 or args.runs < 1 or args.batch < 1:
        raise _UsageError("--top must be >= 0, --runs and --batch >= 1")
    model = load_model(args.model, args.weights, progress)
    x = _bench_input(model, args.batch, args.size)
    progress.show(f"profile: {args.runs} runs of {model.name} ...", force=True)
    prof = model.profile(x, runs=args.runs)
    progress.done()
    print(f"{model.name}: input {list(x.shape)}, forward {prof.total_ms:.3f} ms (median of {prof.runs}), "
          f"{prof.threads} thread(s)")
    print(prof.table(args.top))


def _cmd_show(args: argparse.Namespace, progress: _Progress) -> None:
    from . import viz
    model = load_model(args.model, args.weights, progress)
    layer = args.layer or _first_conv(model)
    if layer is None:
        raise CLIError(f"{model.name}: no convolution found; name a layer with --layer")
    if args.what == "filters":
        if args.image is not None:
            raise _UsageError("show filters takes no IMAGE")
        pic = viz.filters(model, layer, scale=args.scale, path=args.output)
    else:
        if args.image is None:
            raise _UsageError("show activations needs an IMAGE")
        x = preprocess(model, read_image(args.image))
        pic = viz.activations(model, x, layer, scale=args.scale, path=args.output)
    print(f"wrote {args.output} ({pic.shape[1]}x{pic.shape[0]}): {args.what} of {layer}")


# ---- argument parsing -------------------------------------------------------------------

def _shape_arg(text: str) -> Tuple[int, ...]:
    try:
        dims = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 1,3,224,224; got {text!r}") from None
    if not dims or any(d < 1 for d in dims):
        raise argparse.ArgumentTypeError(f"expected positive integers; got {text!r}")
    return dims


def _size_arg(text: str) -> Tuple[int, int]:
    dims = _shape_arg(text)
    if len(dims) == 1:
        return (dims[0], dims[0])
    if len(dims) != 2:
        raise argparse.ArgumentTypeError(f"expected H,W or one size; got {text!r}")
    return (dims[0], dims[1])


_MODEL_HELP = ("a zoo name (e.g. resnet18; seeded untrained weights unless --weights), a swiftcnn model "
               "file (.safetensors written by Model.save or 'swiftcnn convert'), or an .onnx file")

_PREPROCESS_HELP = """preprocessing (from the model's input shape [C, H, W]):
  3 x 224 x 224: ImageNet's (shorter side to 256, centre crop 224, ImageNet mean/std);
  3 x S x S, S >= 64: the same scaled (shorter side to S*256/224, crop S);
  smaller inputs (CIFAR's 3x32x32, LeNet's 1x32x32): the whole image resized to H x W,
  values in [0, 1], converted to grey for 1-channel models."""


def _parser() -> _Parser:
    common = _Parser(add_help=False)
    g = common.add_argument_group("common options")
    g.add_argument("--threads", type=int, default=None, metavar="T",
                   help="threads the library uses (default: the CPUs available)")
    g.add_argument("--progress", action="store_true",
                   help="show progress on stderr even when it is not a terminal")
    g.add_argument("--debug", action="store_true", help="show the traceback of an error")

    p = _Parser(prog="swiftcnn", formatter_class=argparse.RawDescriptionHelpFormatter,
                description="Run swiftcnn models on image files: classify, detect, segment, convert ONNX, "
                            "benchmark, profile and draw what a CNN learns.",
                epilog="examples:\n  swiftcnn summary resnet18\n"
                       "  swiftcnn classify resnet50 --weights resnet50.safetensors cat.jpg\n"
                       "  swiftcnn COMMAND --help\n\n"
                       "exit status: 0 done, 1 error (one line 'swiftcnn: error: ...'), 2 bad usage.")
    from . import __version__
    p.add_argument("--version", action="version", version=f"swiftcnn {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def add(name: str, help: str, description: str, examples: Sequence[str], extra: str = "") -> _Parser:
        epilog = "examples:\n" + "\n".join("  " + e for e in examples)
        if extra:
            epilog = extra + "\n\n" + epilog
        sp = sub.add_parser(name, help=help, description=description, epilog=epilog, parents=[common],
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        return sp

    def model_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
        sp.add_argument("--weights", metavar="FILE", default=None,
                        help="a safetensors state dict (PyTorch names) to load into the model")

    s = add("summary", "print a model's layers, shapes, parameters and MACs",
            "Print a Keras-like table of the model: per layer its output shape, parameters, "
            "multiply-accumulates and receptive field, then the totals.",
            ["swiftcnn summary resnet18", "swiftcnn summary lenet5 --input-shape 1,1,32,32",
             "swiftcnn summary model.onnx"])
    model_arg(s)
    s.add_argument("--input-shape", type=_shape_arg, default=None, metavar="N,C,H,W",
                   help="the input shape (default: the model's own)")
    s.set_defaults(run=_cmd_summary)

    c = add("classify", "top-k classes of image files",
            "Classify PNG/JPEG images (read with Pillow) and print the top-k classes with their "
            "softmax probabilities, one block per image.",
            ["swiftcnn classify resnet50 --weights resnet50.safetensors cat.jpg dog.png",
             "swiftcnn classify lenet5 --weights mnist.safetensors digit.png --top 3 --labels digits.txt"],
            _PREPROCESS_HELP)
    model_arg(c)
    c.add_argument("images", nargs="+", metavar="IMAGE", help="PNG or JPEG files")
    c.add_argument("--top", type=int, default=5, metavar="K", help="how many classes to print (default 5)")
    c.add_argument("--labels", default=None, metavar="imagenet|FILE",
                   help="class names: 'imagenet' or a file with one name per line "
                        "(default: ImageNet's for 1000-class models, class numbers otherwise)")
    c.set_defaults(run=_cmd_classify)

    d = add("detect", "draw a detector's boxes on an image",
            "Run a detector (ssd300_vgg16, ssdlite320_mobilenet_v3_large) on an image and write the "
            "image with its boxes and 'name score' captions (COCO names unless --labels), and list them.",
            ["swiftcnn detect ssd300_vgg16 --weights ssd300.safetensors street.jpg -o boxes.png"])
    model_arg(d)
    d.add_argument("image", metavar="IMAGE", help="a PNG or JPEG file")
    d.add_argument("-o", "--output", required=True, metavar="OUT", help="the picture to write (.png or .ppm)")
    d.add_argument("--score-threshold", type=float, default=0.5, metavar="S",
                   help="draw detections scoring at least S (default 0.5)")
    d.add_argument("--labels", default=None, metavar="FILE",
                   help="class names, one per line, indexed by label (default: COCO's, as the zoo's detectors use)")
    d.set_defaults(run=_cmd_detect)

    sg = add("segment", "draw a segmentation model's label map over an image",
             "Run a semantic segmentation model (fcn_resnet50, deeplabv3_resnet50) on an image, print "
             "the share of each class, and write the image with the classes in the PASCAL VOC colours.",
             ["swiftcnn segment fcn_resnet50 --weights fcn.safetensors street.jpg -o labels.png"])
    model_arg(sg)
    sg.add_argument("image", metavar="IMAGE", help="a PNG or JPEG file")
    sg.add_argument("-o", "--output", required=True, metavar="OUT", help="the picture to write (.png or .ppm)")
    sg.add_argument("--alpha", type=float, default=0.5, help="opacity of the colours over the image (default 0.5)")
    sg.set_defaults(run=_cmd_segment)

    cv = add("convert", "an ONNX file to a swiftcnn model file",
             "Import an ONNX file and write it as a swiftcnn model file (safetensors with the network in "
             "its metadata), which 'swiftcnn', swiftcnn.load and C's scnn_model_open open.",
             ["swiftcnn convert mobilenet_v2.onnx mobilenet_v2.safetensors",
              "swiftcnn convert net.onnx net.safetensors --input-shape 3,224,224"])
    cv.add_argument("src", metavar="IN.onnx", help="the ONNX file")
    cv.add_argument("dst", metavar="OUT.safetensors", help="the model file to write (atomically)")
    cv.add_argument("--input-shape", type=_shape_arg, default=None, metavar="C,H,W",
                    help="one example's shape, when the file leaves it open")
    cv.set_defaults(run=_cmd_convert)

    def timing_args(sp: argparse.ArgumentParser) -> None:
        # The random batch and the runs of bench and profile.
        sp.add_argument("--batch", type=int, default=1, metavar="N", help="batch size (default 1)")
        sp.add_argument("--runs", type=int, default=10, metavar="R", help="timed runs (default 10)")
        sp.add_argument("--size", type=_size_arg, default=None, metavar="H,W",
                        help="input height and width (default: the model's own)")

    b = add("bench", "time the forward pass",
            "Time the model's forward pass on a random batch: median and minimum milliseconds over the "
            "runs (after warm-up runs) and images per second.",
            ["swiftcnn bench resnet18", "swiftcnn bench resnet50 --batch 8 --threads 2 --runs 20"])
    model_arg(b)
    timing_args(b)
    b.add_argument("--warmup", type=int, default=2, metavar="W", help="untimed runs first (default 2)")
    b.set_defaults(run=_cmd_bench)

    pr = add("profile", "where the forward pass spends its time, per layer",
             "Profile the forward pass of a random batch: per layer the kernel, median ms, share, "
             "MACs, GFLOP/s and GB/s, slowest first.",
             ["swiftcnn profile resnet18 --top 10", "swiftcnn profile model.onnx --runs 20 --threads 1"])
    model_arg(pr)
    pr.add_argument("--top", type=int, default=15, metavar="N", help="rows to print, slowest first (0: all; default 15)")
    timing_args(pr)
    pr.set_defaults(run=_cmd_profile)

    sh = add("show", "draw a layer's filters or activation maps",
             "Draw what a CNN learns: 'filters' draws a convolution's learned filters, 'activations' a "
             "layer's activation maps for one image. The layer defaults to the first convolution.",
             ["swiftcnn show filters lenet5 -o filters.png",
              "swiftcnn show filters resnet18 --layer conv1 -o conv1.png",
              "swiftcnn show activations resnet18 cat.jpg --layer layer1 -o maps.png"],
             _PREPROCESS_HELP)
    sh.add_argument("what", choices=("filters", "activations"), help="what to draw")
    model_arg(sh)
    sh.add_argument("image", nargs="?", default=None, metavar="IMAGE",
                    help="the image (PNG or JPEG) for activations")
    sh.add_argument("-o", "--output", required=True, metavar="OUT", help="the picture to write (.png or .ppm)")
    sh.add_argument("--layer", default=None, help="the layer (a node name, e.g. features.0; default: the first conv)")
    sh.add_argument("--scale", type=int, default=None, help="enlargement factor (default: automatic)")
    sh.set_defaults(run=_cmd_show)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the command line; returns the exit status (0 done, 1 error, 2 usage)."""
    debug = "--debug" in (sys.argv[1:] if argv is None else list(argv))
    try:
        args = _parser().parse_args(argv)
        debug = args.debug
        import swiftcnn
        if args.threads is not None:
            if args.threads < 1:
                raise _UsageError("--threads must be >= 1")
            swiftcnn.set_num_threads(args.threads)
        progress = _Progress(args.progress or (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()))
        args.run(args, progress)
        return 0
    except _UsageError as e:
        if debug:
            import traceback
            traceback.print_exc()
        print(f"swiftcnn: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("swiftcnn: error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): no traceback, no further writes to stdout.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 1
    except Exception as e:  # every other failure: one line
        if debug:
            import traceback
            traceback.print_exc()
        msg = " ".join(str(e).split()) or type(e).__name__
        print(f"swiftcnn: error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
