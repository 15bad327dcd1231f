#!/usr/bin/env python3
"""Generates the C bad-input sweep from the public header.

Reads every `scnn_*` prototype of Include/swiftcnn.h (return type, parameter types and
names, the doc comment above it) and writes a C program that calls each function with
bad arguments, one argument at a time, each call in a forked child (the process model,
the checks and the report are in scripts/bad_inputs_sweep.c.in, which this script fills).

Per function the script builds a baseline argument list that is valid as far as it knows,
then varies one parameter at a time (a few cases vary two at once: sizes whose product
overflows, a lo/hi pair). The baseline runs too; it may succeed or fail, but cleanly.
Bad values are chosen by the parameter's TYPE and NAME, with generic defaults, so a
function added to the header later is covered without an edit here:

  handles (scnn_tensor*, scnn_model*, scnn_optimizer*): NULL, and other valid handles
      (tensors of other ranks and shapes, one holding NaN/Inf; another model; an Adam
      optimizer; an optimizer of another model). Destroy functions get fresh handles.
  T ** out-parameters: NULL (real storage otherwise).
  int64 sizes: 0, -1, INT64_MIN, INT64_MAX, 2^31, 2^50; pairs of sizes set to 2^40
      (their product overflows); all sizes 2^32.
  int64 arrays (shape, stride, padding...): NULL; each of the first four entries set to
      each of the values above; two entries 2^40; all entries 2^40.
  int32 rank: 0, -1, 5, 9, INT32_MAX, INT32_MIN. Enum parameters (an int32 whose doc
      names a `typedef enum` of the header ending in the parameter's name): every valid
      value, -1, one past the last, 99, INT32_MIN, INT32_MAX. Flags ("nonzero" in the doc)
      and other int32: 0, 1, -1, 2, 9, 99, INT32_MIN, INT32_MAX. Axes and indices get
      their own sets.
  float: NaN, +Inf, -Inf, FLT_MAX, -FLT_MAX, -1, 0; double: NaN, +-Inf, +-1e300, -1, 0;
      adjacent float pairs (-huge, +huge).
  strings: NULL, "", "\\xff\\xfe" (not UTF-8), 64 KiB, an unknown name. String and tensor
      arrays: NULL, a NULL element, bad elements, a duplicate.
  paths (char const * with "path" in the name): NULL, "", a directory, a FIFO with no
      writer, /dev/zero, a nonexistent file, an unreadable file, a 64 KiB path, a
      non-UTF-8 name, and for readers empty, truncated, malformed and other-kind files.
      Functions whose name says save/write are writers: their /dev/zero is a symlink
      to it in the temporary directory (a writer replaces its target; as root it could
      otherwise replace the device node), and their non-UTF-8 case checks that exactly
      that name is created and no U+FFFD spelling of it. A reader's non-UTF-8 case reads
      a hard link with that name and must behave as the UTF-8 name of the same file does.
  counts and capacities that describe the caller's own buffer (`capacity`, `*_capacity`,
      `count`, `*_count`, `n_*` in a function with array arguments): 0, -1, the minimum,
      the baseline + 1 and the real buffer size are run, with real buffers of that size;
      larger values are SKIPPED, reported with the reason: lying about a buffer's size is
      a caller contract violation the library cannot detect.
  callbacks: NULL, one that goes on, one that stops. void * user: NULL and a pointer.

Checks, in each child: no crash (signal), no hang (--timeout, 10 s), a status that is an
scnn_status value, a non-empty scnn_last_error() after every non-OK status, *out NULL on
failure and non-NULL on success, the path rules above, and the finite-output rule:

  FINITE-OUTPUT RULE. A call that returns OK and produces a tensor or writes floats fails
  when a produced value is NaN or infinite while every float and double argument, every
  entry of float parameter arrays and every element of the input tensors was finite. The
  header's conventions say so ("arguments that would make a result non-finite ... are
  refused"): finite parameters (e.g. lo = -1e300, hi = 1e300 for a generator drawing from
  [lo, hi), a huge scale or a negative LRN k) must give finite results or an error status.
  Not covered: cases whose DATA (float arrays named data/input/pixels, tensor elements)
  holds huge values (FLT_MAX: arithmetic on such data overflowing is IEEE behaviour, not a
  contract breach), and the functions in NONFINITE_EXEMPT below, each with the reason why
  finite arguments may legitimately give non-finite values.

Usage:
  gen_bad_inputs.py HEADER -o OUT.c   write the C program
  gen_bad_inputs.py --selftest        check the generator on a synthetic header (a made-up
                                      function must be covered by default); compiles nothing
"""
import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATE = os.path.join(ROOT, "scripts", "bad_inputs_sweep.c.in")

# ---- what the script knows about this library ------------------------------------------

# Tensor fixtures (built in each child with scnn_seeded_tensor): name, shape, lo, hi, special
# (1: some entries NaN/+Inf/-Inf; 2: lenet5's features.0.bias, taken from the model).
TENSORS = [
    ("NCHW", [2, 3, 8, 8], 0.0, 1.0, 0),
    ("CHW", [3, 8, 8], 0.0, 1.0, 0),
    ("VEC5", [5], -1.0, 1.0, 0),
    ("VEC3", [3], -1.0, 1.0, 0),
    ("VEC4", [4], -1.0, 1.0, 0),
    ("POS3", [3], 0.5, 1.5, 0),
    ("MAT23", [2, 3], -1.0, 1.0, 0),
    ("MAT43", [4, 3], -1.0, 1.0, 0),
    ("CONVW", [4, 3, 3, 3], -1.0, 1.0, 0),
    ("K33", [3, 3], -1.0, 1.0, 0),
    ("LENET", [2, 1, 32, 32], -1.0, 1.0, 0),
    ("LENET1", [1, 1, 32, 32], -1.0, 1.0, 0),
    ("IMG1", [1, 3, 8, 8], 0.0, 1.0, 0),
    ("NONFINITE", [2, 3, 8, 8], 0.0, 1.0, 1),
    ("PARAM", [1], 0.0, 0.0, 2),
]
TENSOR_DESC = {name: ("[" + ", ".join(str(d) for d in shape) + "]") for name, shape, _, _, _ in TENSORS}
TENSOR_DESC["NONFINITE"] = "[2, 3, 8, 8] holding NaN and Inf"
TENSOR_DESC["PARAM"] = "lenet5's features.0.bias"
# The other tensors every tensor parameter is also given.
VARIANT_TENSORS = ["VEC5", "MAT23", "CHW", "NCHW", "LENET", "NONFINITE"]

# Model fixtures 0..2 and optimizer fixtures 0..2 (see the template).
MODELS = {"M0": (0, "lenet5"), "M1": (1, "another lenet5 instance"), "M2": (2, "lenet5_original"),
          "M3": (3, "googlenet (3 x 224 x 224 input)")}
OPTIMIZERS = {"O0": (0, "SGD"), "O1": (1, "Adam on the same model"), "O2": (2, "SGD of another model")}
# Picture fixtures 0..1 (see the template).
PICTURES = {"P0": (0, "a 40 x 30 picture"), "P1": (1, "a 1 x 1 picture")}
HANDLE_DEFAULTS = {"scnn_tensor": "NCHW", "scnn_model": "M0", "scnn_optimizer": "O0", "scnn_picture": "P0",
                   "scnn_index": "I0", "scnn_profile": "F0"}
# Per-layer profile fixtures 0..1 (see the template).
PROFILES = {"F0": (0, "a profile of lenet5"), "F1": (1, "a profile of lenet5_original")}
# Retrieval index fixtures 0..2 (see the template).
INDEXES = {"I0": (0, "a cosine index of 6 vectors of 4"), "I1": (1, "an L2 index of 6 vectors of 4"),
           "I2": (2, "an empty cosine index of dimension 3")}

# Files the fixture child writes (the kinds a reader's baseline can name).
FILE_KINDS = ["weights", "checkpoint", "data"]

# Per-function baselines: parameter name -> value. Only valid arguments live here; bad
# values come from the generic rules. A function missing here still gets a baseline from
# the defaults (see default_baseline). Values: numbers; lists for arrays; tensor, model and
# optimizer fixture names; "read:KIND" / "write" for paths; "state_dict" for the name and
# tensor arrays of lenet5's state dict; "library_string" for a string the library made.
HINTS = {
    "scnn_status_string": {"status": 0},
    "scnn_tensor_create": {"shape": [2, 3], "rank": 2},
    "scnn_tensor_from_data": {"data": [0.5] * 6, "count": 6, "shape": [2, 3], "rank": 2},
    "scnn_tensor_wrap": {"data": [0.5] * 6, "count": 6, "shape": [2, 3], "rank": 2},
    "scnn_tensor_reshape": {"tensor": "NCHW", "shape": [6, 64], "rank": 2},
    "scnn_tensor_shape": {"tensor": "NCHW", "shape": [0, 0, 0, 0], "capacity": 4},
    "scnn_tensor_copy_to": {"tensor": "NCHW", "capacity": 384},
    "scnn_conv2d": {"input": "NCHW", "weight": "CONVW", "bias": "VEC4", "stride": [1, 1],
                    "padding": [1, 1, 1, 1], "dilation": [1, 1], "groups": 1},
    "scnn_convolve2d": {"input": "NCHW", "weight": "CONVW", "bias": "VEC4", "stride": [1, 1],
                        "padding": [1, 1, 1, 1], "dilation": [1, 1], "groups": 1},
    "scnn_correlate1d": {"x": "VEC5", "w": "VEC3", "mode": 0},
    "scnn_convolve1d": {"x": "VEC5", "w": "VEC3", "mode": 0},
    "scnn_max_pool2d": {"input": "NCHW", "kernel": [2, 2], "stride": [2, 2], "padding": [0, 0], "ceil_mode": 0},
    "scnn_avg_pool2d": {"input": "NCHW", "kernel": [2, 2], "stride": [2, 2], "padding": [0, 0], "ceil_mode": 0,
                        "count_include_pad": 0},
    "scnn_adaptive_avg_pool2d": {"input": "NCHW", "output_size": [2, 2]},
    "scnn_set_reference_kernels": {"enable": 0},
    "scnn_softmax": {"input": "NCHW", "axis": 1},
    "scnn_local_response_norm": {"input": "NCHW", "size": 3, "alpha": 1e-4, "beta": 0.75, "k": 1.0},
    "scnn_batch_norm": {"input": "NCHW", "running_mean": "VEC3", "running_var": "POS3", "weight": "VEC3",
                        "bias": "VEC3", "eps": 1e-5},
    "scnn_linear": {"input": "MAT23", "weight": "MAT43", "bias": "VEC4"},
    "scnn_flatten": {"input": "NCHW", "start_axis": 1},
    "scnn_dropout": {"input": "NCHW", "p": 0.5},
    "scnn_concat": {"inputs": ["NCHW", "NCHW"], "count": 2, "axis": 1},
    "scnn_output_size": {"input": 7, "kernel": 3, "stride": 1, "padding": 0, "dilation": 1, "mode": 1},
    "scnn_receptive_field": {"kernels": [3, 3], "strides": [1, 2], "dilations": [1, 1], "count": 2},
    "scnn_conv2d_parameter_count": {"in_channels": 3, "out_channels": 8, "kernel_h": 3, "kernel_w": 3,
                                    "groups": 1, "bias": 1},
    "scnn_linear_parameter_count": {"in_features": 4, "out_features": 5, "bias": 1},
    "scnn_conv2d_macs": {"in_channels": 3, "out_channels": 8, "kernel_h": 3, "kernel_w": 3, "groups": 1,
                         "out_h": 6, "out_w": 6},
    "scnn_linear_macs": {"in_features": 4, "out_features": 5},
    "scnn_image_to_tensor": {"pixels": [128] * 48, "width": 4, "height": 4, "channels": 3, "row_stride": 0,
                             "scale": 1.0 / 255, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
    "scnn_tensor_to_image": {"image": "IMG1", "scale": 1.0 / 255, "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0],
                             "capacity": 192, "row_stride": 0},
    "scnn_resize_bilinear": {"input": "NCHW", "height": 4, "width": 4},
    "scnn_center_crop": {"input": "NCHW", "height": 4, "width": 4},
    "scnn_filter_box": {"n": 3},
    "scnn_filter_horizontal_blur": {"n": 5},
    "scnn_filter_vertical_blur": {"n": 5},
    "scnn_filter_gaussian": {"size": 3, "sigma": 1.0},
    "scnn_filter_apply": {"image": "NCHW", "kernel": "K33", "border": 0},
    "scnn_model_name": {"index": 0},
    "scnn_imagenet_class": {"index": 0},
    "scnn_model_default_num_classes": {"name": "lenet5"},
    "scnn_model_create": {"name": "lenet5", "num_classes": 10},
    "scnn_model_output_shape": {"input_shape": [2, 1, 32, 32], "rank": 4},
    "scnn_model_forward": {"input": [0.5] * 2048, "shape": [2, 1, 32, 32], "rank": 4, "output_capacity": 20},
    "scnn_model_forward_tensor": {"input": "LENET"},
    "scnn_model_summary": {"input_shape": [2, 1, 32, 32]},
    "scnn_model_macs": {"input_shape": [2, 1, 32, 32]},
    "scnn_model_workspace_bytes": {"input_shape": [2, 1, 32, 32]},
    "scnn_string_free": {"s": "library_string"},
    "scnn_model_load": {"path": "read:weights"},
    "scnn_model_parameter_name": {"index": 0},
    "scnn_model_parameter_is_buffer": {"index": 0},
    "scnn_model_get_parameter": {"name": "features.0.weight"},
    "scnn_model_set_parameter": {"name": "features.0.bias", "value": "PARAM"},
    "scnn_model_load_state_dict": {"names": "state_dict", "tensors": "state_dict", "count": "state_dict",
                                   "strict": 1},
    "scnn_seeded_tensor": {"name": "input", "shape": [2, 3], "rank": 2, "lo": -1.0, "hi": 1.0, "seed": 0},
    "scnn_safetensors_read": {"path": "read:data", "name": "x"},
    "scnn_safetensors_write": {"names": ["x", "y"], "tensors": ["NCHW", "VEC5"], "count": 2},
    "scnn_set_num_threads": {"count": 1},
    "scnn_model_set_training": {"training": 1},
    "scnn_optimizer_create": {"kind": 0, "lr": 0.01, "momentum": 0.9, "nesterov": 0, "weight_decay": 0.0,
                              "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    "scnn_optimizer_set_schedule": {"schedule": 1, "steps": 10, "value": 0.5},
    "scnn_optimizer_set_lr": {"lr": 0.01},
    "scnn_index_create": {"dim": 4, "metric": 0},
    "scnn_index_add": {"data": [0.5] * 8, "n": 2, "ids": [1, 2]},
    "scnn_index_search": {"queries": [0.5] * 8, "nq": 2, "k": 3, "ids": [0] * 6, "scores": [0.0] * 6},
    "scnn_index_remove": {"ids": [1, 2], "n": 2},
    "scnn_model_embed": {"input": "LENET", "node": "features"},
    "scnn_model_train_step": {"images": "LENET", "labels": [0, 1], "n_labels": 2},
    "scnn_model_fit": {"images": "LENET", "labels": [0, 1], "n_labels": 2, "val_images": "LENET",
                       "val_labels": [0, 1], "n_val": 2, "epochs": 1, "batch_size": 2, "seed": 0, "shuffle": 1},
    "scnn_model_evaluate": {"images": "LENET", "labels": [0, 1], "n_labels": 2, "batch_size": 2},
    "scnn_model_predict": {"images": "LENET", "capacity": 2},
    "scnn_checkpoint_load": {"path": "read:checkpoint"},
    "scnn_model_forward_outputs": {"input": "LENET", "count": 2, "names": ["features.1", "classifier"]},
    "scnn_picture_create": {"width": 40, "height": 30},
    "scnn_picture_from_rgb": {"rgb": [7] * 12, "width": 2, "height": 2, "row_stride": 0},
    "scnn_picture_save": {"format": 1},
    "scnn_picture_filters": {"name": "features.0.weight", "scale": 0},
    "scnn_picture_activations": {"input": "LENET1", "node": "features.0", "scale": 0},
    "scnn_picture_receptive_field": {"node": "features.3", "y": 1, "x": 1, "scale": 0},
    "scnn_picture_detections": {"count": 1, "boxes": [1.0, 2.0, 10.0, 12.0], "scores": [0.5], "labels": [1],
                                "names": ["a", "b"], "name_count": 2},
    "scnn_picture_label_map": {"labels": [0, 1, 2, 3, 4, 5], "height": 2, "width": 3, "image": None, "alpha": 0.5,
                               "names": ["a", "b"], "name_count": 2, "legend": 1, "scale": 1},
    "scnn_model_from_json": {"json": '{"version": 1, "name": "t", "input_shape": [4], "network": '
                                     '{"name": "", "op": "linear", "attrs": {"in_features": 4, "out_features": 2}}}'},
    "scnn_model_replace": {"path": "classifier.2",
                           "node_json": '{"name": "2", "op": "linear", "attrs": {"in_features": 84, "out_features": 5}}'},
    "scnn_model_freeze": {"prefix": "features"},
    "scnn_model_unfreeze": {"prefix": "features"},
    "scnn_model_is_frozen": {"name": "features.0.weight"},
}

# Sizes that also describe how many bytes the caller's buffer holds (no capacity is passed):
# values that fit in int64 but exceed that buffer are a caller contract violation; values
# whose described size overflows (INT64_MAX, pairs of 2^40) are still run.
DESCRIBES_CALLER_BUFFER = {
    "scnn_image_to_tensor": {"width", "height", "channels", "row_stride"},
    "scnn_picture_from_rgb": {"width", "height", "row_stride"},
    "scnn_picture_label_map": {"height", "width"},
    "scnn_index_add": {"n"},
    "scnn_index_search": {"nq", "k"},
    "scnn_index_remove": {"n"},
}

# Float arrays holding data rather than parameters (see the finite-output rule).
DATA_ARRAY_NAMES = {"data", "input", "pixels", "x", "values"}

# Functions where finite arguments may legitimately give non-finite values, with why.
NONFINITE_EXEMPT = {
    "scnn_index_search": "entries past the index's count are id -1 with score NaN (documented)",
}

SKIP_BUFFER = ("a count or capacity larger than the caller's real buffer is a caller contract "
               "violation the library cannot detect")
SKIP_DESCRIBER = ("a size describing more bytes than the caller's buffer holds is a caller contract "
                  "violation the library cannot detect")

INT_TYPES = {"int8_t": 8, "int16_t": 16, "int32_t": 32, "int64_t": 64, "int": 32, "long": 64,
             "ptrdiff_t": 64, "intptr_t": 64}
UINT_TYPES = {"uint8_t": 8, "uint16_t": 16, "uint32_t": 32, "uint64_t": 64, "size_t": 64, "uintptr_t": 64,
              "unsigned": 32}
FLOAT_TYPES = {"float", "double"}

# ---- parsing the header ----------------------------------------------------------------


class Param:
    def __init__(self, ctype, name, index):
        self.ctype = " ".join(ctype.split())
        self.name = name or "arg%d" % index
        toks = re.findall(r"[A-Za-z_]\w*|\*", ctype)
        self.base_const = False
        self.ptr_consts = []
        base = []
        for t in toks:
            if t == "*":
                self.ptr_consts.append(False)
            elif t == "const":
                if self.ptr_consts:
                    self.ptr_consts[-1] = True
                else:
                    self.base_const = True
            elif t in ("volatile", "restrict", "struct", "enum"):
                continue
            else:
                base.append(t)
        self.base = " ".join(base)
        self.depth = len(self.ptr_consts)

    def __repr__(self):
        return "%s %s" % (self.ctype, self.name)


class Func:
    def __init__(self, ret, name, params, doc):
        self.ret = " ".join(ret.split())
        self.name = name
        self.params = params
        self.doc = doc


class Header:
    def __init__(self):
        self.funcs = []
        self.enums = {}       # typedef name -> [(constant, value)]
        self.handles = []     # opaque struct typedefs
        self.structs = []     # struct typedefs with a body (reports)
        self.callbacks = {}   # typedef name -> (return type, [Param])

    def func(self, name):
        for f in self.funcs:
            if f.name == name:
                return f
        return None


def split_params(text):
    text = text.strip()
    if text in ("", "void"):
        return []
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [p.strip() for p in out]


def parse_param(text, index):
    m = re.match(r"^(.*?)([A-Za-z_]\w*)\s*(\[\s*\w*\s*\])?$", text.strip())
    if not m:
        raise ValueError("cannot parse parameter %r" % text)
    ctype, name, arr = m.group(1), m.group(2), m.group(3)
    if not ctype.strip() or ctype.strip() in ("const",) or name in INT_TYPES or name in UINT_TYPES \
            or name in FLOAT_TYPES or name in ("char", "void"):
        # no name given
        return Param(text, None, index)
    if arr:
        ctype = ctype + " *"
    return Param(ctype, name, index)


def strip_comment_text(block):
    lines = []
    for line in block.splitlines():
        line = line.strip()
        line = re.sub(r"^/\*\*?|\*/$", "", line).strip()
        line = re.sub(r"^///?", "", line).strip()
        line = re.sub(r"^\*", "", line).strip()
        lines.append(line)
    return " ".join(l for l in lines if l)


def parse_header(text):
    """Every scnn_* function declaration, with its doc comment; enums, handles, callbacks."""
    h = Header()
    # Enums: typedef enum NAME { A = 0, ... } NAME;
    for m in re.finditer(r"typedef\s+enum\s+(\w+)?\s*\{(.*?)\}\s*(\w+)\s*;", text, re.S):
        body = re.sub(r"/\*.*?\*/|//[^\n]*", "", m.group(2), flags=re.S)
        consts, value = [], -1
        for item in body.split(","):
            item = item.strip()
            if not item:
                continue
            mm = re.match(r"(\w+)\s*(?:=\s*(-?\w+))?$", item)
            if not mm:
                continue
            value = int(mm.group(2), 0) if mm.group(2) else value + 1
            consts.append((mm.group(1), value))
        h.enums[m.group(3)] = consts
    for m in re.finditer(r"typedef\s+struct\s+(\w+)\s+(\w+)\s*;", text):
        h.handles.append(m.group(2))
    for m in re.finditer(r"typedef\s+struct\s*\w*\s*\{.*?\}\s*(\w+)\s*;", text, re.S):
        h.structs.append(m.group(1))
    for m in re.finditer(r"typedef\s+([\w\s\*]+?)\(\s*\*\s*(\w+)\s*\)\s*\((.*?)\)\s*;", text, re.S):
        params = [parse_param(p, i) for i, p in enumerate(split_params(m.group(3)))]
        h.callbacks[m.group(2)] = (" ".join(m.group(1).split()), params)

    # Declarations with the comment right above them.
    lines = text.splitlines()
    doc, i = [], 0
    in_block = False
    while i < len(lines):
        line = lines[i]
        s = line.strip()
        if in_block:
            doc.append(s)
            if "*/" in s:
                in_block = False
            i += 1
            continue
        if s.startswith("/*"):
            doc = [s]
            in_block = "*/" not in s
            i += 1
            continue
        if s.startswith("///") or s.startswith("//"):
            if doc and not (doc[-1].startswith("//")):
                doc = []
            doc.append(s)
            i += 1
            continue
        if re.search(r"\bscnn_\w+\s*\(", s) and not s.startswith(("typedef", "#")) and "(*" not in s:
            decl = s
            while ";" not in decl and i + 1 < len(lines):
                i += 1
                decl += " " + lines[i].strip()
            m = re.match(r"^(.*?)\b(scnn_\w+)\s*\((.*)\)\s*(\w+\s*)*;", decl)
            if not m:
                raise ValueError("cannot parse the declaration %r" % decl)
            params = [parse_param(p, k) for k, p in enumerate(split_params(m.group(3)))]
            h.funcs.append(Func(m.group(1), m.group(2), params, strip_comment_text("\n".join(doc))))
            doc = []
            i += 1
            continue
        if s and not s.startswith("#"):
            doc = []
        i += 1
    # Every name that looks declared must have been parsed (a new declaration style must
    # fail loudly here, not drop the function from the sweep).
    declared = set(re.findall(r"^[^#/*\n][^\n(]*?\b(scnn_\w+)\s*\(", re.sub(r"/\*.*?\*/", "", text, flags=re.S),
                              re.M))
    declared = {n for n in declared if n not in h.callbacks}
    missing = declared - {f.name for f in h.funcs}
    if missing:
        raise ValueError("declarations the parser did not understand: %s" % ", ".join(sorted(missing)))
    return h


# ---- classifying parameters ------------------------------------------------------------


def doc_context(h, f):
    """The function's doc plus the docs of functions it refers to ("as scnn_x")."""
    text = f.doc
    for name in set(re.findall(r"\bscnn_\w+", f.doc)):
        g = h.func(name)
        if g and g is not f:
            text += " " + g.doc
    return text


def enum_for(h, f, p):
    ctx = doc_context(h, f)
    found = None
    for ename in h.enums:
        short = ename[5:] if ename.startswith("scnn_") else ename
        if short != p.name and not short.endswith("_" + p.name):
            continue
        if re.search(r"\b%s\b" % re.escape(ename), ctx) or (ename.upper() + "_") in ctx:
            found = ename
    return found


def is_flag(h, f, p):
    ctx = doc_context(h, f)
    n = re.escape(p.name)
    # "`clip` nonzero", "clip: nonzero", "when `clip` is nonzero", "clip != 0", "clip (nonzero"
    return bool(re.search(r"\b%s\b\W{0,3}(is\s+)?(nonzero|!= 0|0 = false)" % n, ctx))


def is_destroy(f):
    return f.ret == "void" and re.search(r"_(destroy|free|release)$", f.name) is not None


def writes_path(f):
    return re.search(r"(save|write|export|dump|store)", f.name) is not None


def reads_path(f):
    return re.search(r"(load|read|open|import)", f.name) is not None


ARRAYISH = ("array", "out_buffer", "string_array", "handle_array", "handle_out_array")


def classify(h, f, p):
    """(kind, detail) of a parameter."""
    b, d = p.base, p.depth
    if d == 0:
        if b in h.callbacks:
            return "callback", b
        if b in h.enums:
            return "enum", b
        if b in FLOAT_TYPES:
            return "real", b
        if b in INT_TYPES or b in UINT_TYPES:
            return "integer", b
        return "opaque", b
    if d == 1:
        if b in h.handles:
            return "handle", b
        if b == "char":
            if p.base_const:
                return ("path" if "path" in p.name else "string"), b
            return ("owned_string" if is_destroy(f) else "char_out"), b
        if b == "void":
            return "user", b
        if b in INT_TYPES or b in UINT_TYPES or b in FLOAT_TYPES:
            return ("array" if p.base_const else "out_buffer"), b
        if b in h.structs:
            return "struct_ptr", b
        return "opaque_ptr", b
    if d == 2:
        if b in h.handles and not p.base_const and not p.ptr_consts[0]:
            # `T **outs` beside a `count`: an array of count out-handles.
            if p.name.endswith("s") and any(q.name == "count" for q in f.params):
                return "handle_out_array", b
            return "handle_out", b
        if b in h.handles and p.base_const:
            return "handle_array", b
        if b == "char" and p.base_const:
            return "string_array", b
        if b == "char" and not p.base_const and not p.ptr_consts[0]:
            return "string_out", b
    return "opaque_ptr", b


def int_role(h, f, p, kinds):
    """The role of an integer scalar: rank, enum, axis, index, buflen, describer, flag, int."""
    n = p.name
    if n == "rank" or n.endswith("_rank"):
        return "rank"
    if enum_for(h, f, p):
        return "enum"
    if n in DESCRIBES_CALLER_BUFFER.get(f.name, ()):
        return "describer"
    if "axis" in n:
        return "axis"
    if "index" in n:
        return "index"
    buflike = n in ("count", "capacity") or n.endswith(("_capacity", "_count")) or n.startswith("n_")
    if buflike and any(k in ARRAYISH for k, _ in kinds):
        return "buflen"
    if is_flag(h, f, p):
        return "flag"
    return "int"


# ---- values ---------------------------------------------------------------------------

I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1
I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1


def c_int(v, bits=64, signed=True):
    if signed:
        if bits == 64:
            if v == I64_MIN:
                return "INT64_MIN"
            if v == I64_MAX:
                return "INT64_MAX"
            for k in range(31, 63):
                if v == 1 << k:
                    return "(INT64_C(1) << %d)" % k
            return "INT64_C(%d)" % v
        if v == I32_MIN:
            return "INT32_MIN"
        if v == I32_MAX:
            return "INT32_MAX"
        return "%d" % v
    if v == (1 << bits) - 1:
        return "UINT%d_MAX" % bits if bits in (8, 16, 32, 64) else "%du" % v
    if bits == 64:
        return "UINT64_C(%d)" % v
    return "%du" % v


def int_label(v):
    names = {I64_MIN: "INT64_MIN", I64_MAX: "INT64_MAX", I32_MIN: "INT32_MIN", I32_MAX: "INT32_MAX",
             (1 << 64) - 1: "UINT64_MAX"}
    if v in names:
        return names[v]
    for k in range(31, 64):
        if v == 1 << k:
            return "2^%d" % k
    return str(v)


def c_real(v, is_double):
    """A float/double literal or macro for v (v may be a string: 'nan', 'inf', 'FLT_MAX')."""
    if isinstance(v, str):
        return {"nan": "NAN", "inf": "INFINITY", "-inf": "(-INFINITY)", "FLT_MAX": "FLT_MAX",
                "-FLT_MAX": "(-FLT_MAX)"}[v]
    s = repr(float(v))
    if "e" not in s and "." not in s:
        s += ".0"
    return s if is_double else s + "f"


def real_values(is_double):
    """(label, value, finite) for float/double parameters."""
    big = [("1e300", 1e300), ("-1e300", -1e300)] if is_double else [("FLT_MAX", "FLT_MAX"), ("-FLT_MAX", "-FLT_MAX")]
    return [("NaN", "nan", False), ("+Inf", "inf", False), ("-Inf", "-inf", False)] + \
        [(l, v, True) for l, v in big] + [("-1", -1.0, True), ("0", 0.0, True)]


I64_BAD = [0, -1, I64_MIN, I64_MAX, 1 << 31, 1 << 50]


def int_values(role, bits, signed, enum_consts, base):
    """[(value, skip_reason)] for an integer parameter."""
    if not signed:
        vals = [0, 1, 1 << (bits - 1), (1 << bits) - 1]
        return [(v, None) for v in vals if v != base]
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if role == "rank":
        vals = [0, -1, 5, 9, hi, lo]
    elif role == "enum":
        valid = [v for _, v in enum_consts]
        vals = valid + [-1, (max(valid) + 1) if valid else 1, 99, lo, hi]
    elif role == "axis":
        vals = [-5, -1, 4, 9, lo, hi]
    elif role == "index":
        vals = [-1, 1000, 100000, lo, hi] + ([1 << 31] if bits == 64 else [])
    elif role in ("flag", "int") and bits <= 32:
        vals = [0, 1, -1, 2, 9, 99, lo, hi]
    elif role == "buflen":
        out = [(v, None) for v in [0, -1, lo, (base or 0) + 1, 64]]
        out += [(v, SKIP_BUFFER) for v in ([1 << 31, 1 << 50, hi] if bits == 64 else [hi])]
        return [(v, s) for v, s in dedupe(out) if v != base]
    elif role == "describer":
        out = [(v, None) for v in [0, -1, lo, hi]] + [(v, SKIP_DESCRIBER) for v in [1 << 31, 1 << 50]]
        return [(v, s) for v, s in out if v != base]
    else:
        vals = I64_BAD if bits == 64 else [0, -1, lo, hi]
    vals = [v for v in vals if lo <= v <= hi]
    return [(v, None) for v in dedupe(vals) if v != base]


def dedupe(items):
    seen, out = set(), []
    for x in items:
        key = x[0] if isinstance(x, tuple) else x
        if key not in seen:
            seen.add(key)
            out.append(x)
    return out


def c_str(s):
    """A C string literal for a Python str of bytes 0..255 (escapes kept unambiguous)."""
    out = '"'
    for ch in s:
        o = ord(ch)
        if ch in '"\\':
            out += "\\" + ch
        elif 32 <= o < 127:
            # A hex escape followed by a hex digit would swallow it: split the literal.
            if re.search(r"\\x[0-9a-fA-F]{2}$", out) and ch in "0123456789abcdefABCDEF":
                out += '" "'
            out += ch
        else:
            out += "\\x%02x" % o
    return out + '"'


# ---- planning the cases ----------------------------------------------------------------


class Variant:
    def __init__(self, label, code, finite=True, skip=None, unreadable=False, chk=None):
        self.label, self.code, self.finite, self.skip = label, code, finite, skip
        self.unreadable, self.chk = unreadable, chk


class Slot:
    """What the program needs for one parameter."""

    def __init__(self, p, kind, detail):
        self.p, self.kind, self.detail = p, kind, detail
        self.decl, self.base, self.post = [], [], []
        self.variants = []
        self.arg = "a->%s" % p.name
        self.role = None
        self.finite_base = True   # the baseline value is finite (a NaN tensor is not)
        self.sd_names = False     # the baseline is lenet5's state dict (names from fx_state_dict)


def default_baseline(h, f, p, kind, detail, role, hints):
    """The baseline value of a parameter no hint names."""
    n = p.name
    if kind == "handle":
        return HANDLE_DEFAULTS.get(detail)
    if kind == "handle_array":
        return ["NCHW", "NCHW"]
    if kind == "string":
        if "model" in f.name or n == "model_name":
            return "lenet5"
        return "x"
    if kind == "string_array":
        return ["x", "y"]
    if kind == "path":
        return "write" if writes_path(f) else "read:weights"
    if kind == "array":
        if "shape" in n:
            if any(q.name == "rank" for q in f.params):
                return [2, 3, 8, 8]
            return [2, 1, 32, 32] if any(q.base == "scnn_model" for q in f.params) else [2, 3, 8, 8]
        if detail in FLOAT_TYPES:
            return [0.5] * 4
        if detail == "uint8_t":
            return [128] * 4
        if detail in ("int32_t", "int") and "label" in n:
            return [0, 1]
        return [1] * 4
    if kind == "integer":
        if role == "rank":
            for q in f.params:
                if "shape" in q.name and isinstance(hints.get(q.name), list):
                    return len(hints[q.name])
            return 4
        if role == "enum":
            consts = h.enums[enum_for(h, f, p)]
            return consts[0][1] if consts else 0
        if role in ("flag", "axis", "index") or detail in UINT_TYPES:
            return 0
        if role == "buflen":
            for q in f.params:
                v = hints.get(q.name)
                if isinstance(v, list) and q.name != n:
                    return len(v)
            return 1
        if n == "num_classes":
            return 10
        return 1
    if kind == "real":
        return 0.5
    return None


def plan_function(h, f):
    """[Slot] and extra (multi-parameter) variants for one function."""
    hints = HINTS.get(f.name, {})
    kinds = [classify(h, f, p) for p in f.params]
    slots = []
    for p, (kind, detail) in zip(f.params, kinds):
        s = Slot(p, kind, detail)
        role = int_role(h, f, p, kinds) if kind == "integer" else None
        s.role = role
        base = hints.get(p.name, default_baseline(h, f, p, kind, detail, role, hints))
        plan_slot(h, f, s, base, hints)
        slots.append(s)
    extra = pair_variants(f, slots, hints)
    return slots, extra


def tensor_fixture_expr(name, fresh):
    return "fx_tensor%s(FX_%s)" % ("_fresh" if fresh else "", name)


def handle_expr(detail, name, fresh):
    if detail == "scnn_tensor":
        return tensor_fixture_expr(name, fresh)
    if detail == "scnn_model":
        return "fx_model%s(%d)" % ("_fresh" if fresh else "", MODELS[name][0])
    if detail == "scnn_optimizer":
        return "fx_optimizer%s(%d)" % ("_fresh" if fresh else "", OPTIMIZERS[name][0])
    if detail == "scnn_picture":
        return "fx_picture%s(%d)" % ("_fresh" if fresh else "", PICTURES[name][0])
    if detail == "scnn_index":
        return "fx_index%s(%d)" % ("_fresh" if fresh else "", INDEXES[name][0])
    if detail == "scnn_profile":
        return "fx_profile%s(%d)" % ("_fresh" if fresh else "", PROFILES[name][0])
    return "NULL"


def handle_desc(detail, name):
    if detail == "scnn_tensor":
        return "a %s tensor" % TENSOR_DESC[name] if name != "NONFINITE" and name != "PARAM" else TENSOR_DESC[name]
    if detail == "scnn_model":
        return MODELS[name][1]
    if detail == "scnn_optimizer":
        return OPTIMIZERS[name][1]
    if detail == "scnn_picture":
        return PICTURES[name][1]
    if detail == "scnn_index":
        return INDEXES[name][1]
    if detail == "scnn_profile":
        return PROFILES[name][1]
    return name


def plan_slot(h, f, s, base, hints):
    p, kind, detail, n = s.p, s.kind, s.detail, s.p.name
    a = "a->" + n
    V = s.variants

    if kind == "handle":
        fresh = is_destroy(f)
        s.decl = ["%s %s;" % (p.ctype, n)]
        if base is None:  # a handle type this script does not know: NULL is all it can pass
            s.base = ["%s = NULL;" % a]
            return
        s.base = ["%s = %s;" % (a, handle_expr(detail, base, fresh))]
        V.append(Variant("%s = NULL" % n, ["%s = NULL;" % a]))
        others = {"scnn_tensor": VARIANT_TENSORS, "scnn_model": ["M1", "M2", "M3"], "scnn_optimizer": ["O1", "O2"],
                  "scnn_picture": ["P1"],
                  "scnn_index": ["I1", "I2"], "scnn_profile": ["F1"]}
        for o in others.get(detail, []):
            if o == base:
                continue
            V.append(Variant("%s = %s" % (n, handle_desc(detail, o)), ["%s = %s;" % (a, handle_expr(detail, o, fresh))],
                             finite=(o != "NONFINITE")))
        if detail == "scnn_tensor" and base == "NONFINITE":
            s.finite_base = False
        return

    if kind == "handle_out":
        s.decl = ["%s * %s_val;" % (detail, n), "%s %s;" % (p.ctype, n)]
        s.base = ["%s_val = (%s *)SENTINEL;" % (a, detail), "%s = &%s_val;" % (a, a)]
        V.append(Variant("%s = NULL" % n, ["%s = NULL;" % a]))
        s.post = out_handle_post(h, f, s)
        return

    if kind == "handle_out_array":
        # SLACK slots, all SENTINEL; the function fills the first `count` (at least one).
        s.decl = ["%s * %s_val[SLACK];" % (detail, n), "%s %s;" % (p.ctype, n)]
        s.base = ["{ int i; for (i = 0; i < SLACK; i++) %s_val[i] = (%s *)SENTINEL; }" % (a, detail),
                  "%s = %s_val;" % (a, a)]
        V.append(Variant("%s = NULL" % n, ["%s = NULL;" % a]))
        s.post = out_handle_array_post(h, f, s)
        return

    if kind == "string_out":
        s.decl = ["char * %s_val;" % n, "%s %s;" % (p.ctype, n)]
        s.base = ["%s_val = (char *)SENTINEL;" % a, "%s = &%s_val;" % (a, a)]
        V.append(Variant("%s = NULL" % n, ["%s = NULL;" % a]))
        s.post = out_handle_post(h, f, s)
        return

    if kind == "handle_array":
        s.decl = ["%s const * %s_buf[SLACK];" % (detail, n), "%s %s;" % (p.ctype, n)]
        if base == "state_dict":
            s.base = ["%s_count = fx_state_dict(%s_names, %s_buf, SLACK);" % ("a->sd", "a->sd", a),
                      "%s = %s_buf;" % (a, a)]
            length = None
        else:
            base = base if isinstance(base, list) else [HANDLE_DEFAULTS.get(detail, "NCHW")] * 2
            length = len(base)
            first = handle_expr(detail, base[0], False)
            s.base = ["{ int i; for (i = 0; i < SLACK; i++) %s_buf[i] = %s; }" % (a, first)]
            s.base += ["%s_buf[%d] = %s;" % (a, i, handle_expr(detail, v, False)) for i, v in enumerate(base)]
            s.base += ["%s = %s_buf;" % (a, a)]
        V.append(Variant("%s = NULL" % n, ["%s = NULL;" % a]))
        V.append(Variant("%s[0] = NULL" % n, ["%s_buf[0] = NULL;" % a]))
        if detail == "scnn_tensor":
            V.append(Variant("%s[0] = %s" % (n, TENSOR_DESC["NONFINITE"]), ["%s_buf[0] = fx_tensor(FX_NONFINITE);" % a],
                             finite=False))
            V.append(Variant("%s[0] = a [5] tensor" % n, ["%s_buf[0] = fx_tensor(FX_VEC5);" % a]))
            last = (length or 2) - 1
            if last > 0:
                V.append(Variant("%s[%d] = a [2, 3] tensor" % (n, last),
                                 ["%s_buf[%d] = fx_tensor(FX_MAT23);" % (a, last)]))
        return

    if kind == "string":
        s.decl = ["%s %s;" % (p.ctype, n)]
        s.base = ["%s = %s;" % (a, c_str(base if isinstance(base, str) else "x"))]
        for label, expr in string_values(base):
            V.append(Variant("%s = %s" % (n, label), ["%s = %s;" % (a, expr)]))
        return

    if kind == "string_array":
        s.decl = ["char const * %s_buf[SLACK];" % n, "%s %s;" % (p.ctype, n)]
        if base == "state_dict":  # filled by the tensor array's fx_state_dict (emitted first)
            s.base = ["{ int i; for (i = 0; i < SLACK; i++) %s_buf[i] = a->sd_names[i]; }" % a, "%s = %s_buf;" % (a, a)]
            s.sd_names = True
        else:
            base = base if isinstance(base, list) else ["x", "y"]
            s.base = ["{ int i; for (i = 0; i < SLACK; i++) %s_buf[i] = %s; }" % (a, c_str(base[0]))]
            s.base += ["%s_buf[%d] = %s;" % (a, i, c_str(v)) for i, v in enumerate(base)]
            s.base += ["%s = %s_buf;" % (a, a)]
        V.append(Variant("%s = NULL" % n, ["%s = NULL;" % a]))
        V.append(Variant("%s[0] = NULL" % n, ["%s_buf[0] = NULL;" % a]))
        V.append(Variant('%s[0] = ""' % n, ['%s_buf[0] = "";' % a]))
        V.append(Variant("%s[0] = \"\\xff\\xfe\" (not UTF-8)" % n, ['%s_buf[0] = "\\xff\\xfe";' % a]))
        V.append(Variant("%s[0] = a 64 KiB string" % n, ["%s_buf[0] = long_string();" % a]))
        V.append(Variant("%s[1] = %s[0] (a duplicate)" % (n, n), ["%s_buf[1] = %s_buf[0];" % (a, a)]))
        V.append(Variant("%s[0] = an unknown name" % n, ['%s_buf[0] = "no.such.name";' % a]))
        return

    if kind == "path":
        s.decl = ["%s %s;" % (p.ctype, n)]
        plan_path(f, s, base)
        return

    if kind == "owned_string":
        s.decl = ["%s %s;" % (p.ctype, n)]
        s.base = ["%s = %s;" % (a, "fx_library_string()" if base == "library_string" else "NULL")]
        if base == "library_string":
            V.append(Variant("%s = NULL" % n, ["%s = NULL;" % a]))
        return

    if kind == "char_out":
        s.decl = ["char %s_buf[BBUF];" % n, "%s %s;" % (p.ctype, n)]
        s.base = ["%s = %s_buf;" % (a, a)]
        V.append(Variant("%s = NULL" % n, ["%s = NULL;" % a]))
        return

    if kind == "user":
        s.decl = ["%s %s;" % (p.ctype, n), "int %s_dummy;" % n]
        s.base = ["%s = NULL;" % a]
        V.append(Variant("%s = a pointer to an int" % n, ["%s = &%s_dummy;" % (a, a)]))
        return

    if kind == "callback":
        s.decl = ["%s %s;" % (p.ctype, n)]
        s.base = ["%s = cb_%s_go;" % (a, detail)]
        V.append(Variant("%s = NULL" % n, ["%s = NULL;" % a]))
        V.append(Variant("%s = a callback that stops" % n, ["%s = cb_%s_stop;" % (a, detail)]))
        return

    if kind == "array":
        plan_array(f, s, base)
        return

    if kind == "out_buffer":
        size = "FBUF" if detail in FLOAT_TYPES else "BBUF" if detail in ("uint8_t", "int8_t") else "SLACK"
        s.decl = ["%s %s_buf[%s];" % (detail, n, size), "%s %s;" % (p.ctype, n)]
        s.base = ["%s = %s_buf;" % (a, a)]
        V.append(Variant("%s = NULL" % n, ["%s = NULL;" % a]))
        if detail == "float":
            s.post = ["if (OK && %s) check_floats_out(r, %s_buf, %s, \"%s\");" % (a, a, size, n)]
        elif detail == "double":
            s.post = ["if (OK && %s) check_doubles_out(r, %s_buf, %s, \"%s\");" % (a, a, size, n)]
        return

    if kind == "integer":
        bits = INT_TYPES.get(detail) or UINT_TYPES.get(detail)
        signed = detail in INT_TYPES
        s.decl = ["%s %s;" % (p.ctype, n)]
        if base == "state_dict":
            s.base = ["%s = (%s)a->sd_count;" % (a, p.ctype)]
            base_v = None
        else:
            base_v = int(base)
            s.base = ["%s = %s;" % (a, c_int(base_v, bits, signed))]
        consts = h.enums.get(enum_for(h, f, p), []) if s.role == "enum" else []
        for v, skip in int_values(s.role, bits, signed, consts, base_v):
            V.append(Variant("%s = %s" % (n, int_label(v)), ["%s = %s;" % (a, c_int(v, bits, signed))], skip=skip))
        return

    if kind == "enum":
        consts = h.enums[detail]
        s.decl = ["%s %s;" % (p.ctype, n)]
        base_v = int(base) if base is not None else (consts[0][1] if consts else 0)
        s.base = ["%s = (%s)%d;" % (a, p.ctype, base_v)]
        for v, _ in int_values("enum", 32, True, consts, base_v):
            V.append(Variant("%s = %s" % (n, int_label(v)), ["%s = (%s)(%s);" % (a, p.ctype, c_int(v, 32, True))]))
        return

    if kind == "real":
        is_double = detail == "double"
        s.decl = ["%s %s;" % (p.ctype, n)]
        s.base = ["%s = %s;" % (a, c_real(base if base is not None else 0.5, is_double))]
        for label, v, finite in real_values(is_double):
            V.append(Variant("%s = %s" % (n, label), ["%s = %s;" % (a, c_real(v, is_double))], finite=finite))
        return

    if kind == "struct_ptr":  # a struct of the header: zeroed storage, or NULL
        s.decl = ["%s %s_val;" % (detail, n), "%s %s;" % (p.ctype, n)]
        s.base = ["memset(&%s_val, 0, sizeof %s_val);" % (a, a), "%s = &%s_val;" % (a, a)]
        V.append(Variant("%s = NULL" % n, ["%s = NULL;" % a]))
        return

    # opaque values and pointers: zero / NULL, nothing to vary
    if kind == "opaque":
        s.decl = ["%s %s;" % (p.ctype, n)]
        s.base = ["memset(&%s, 0, sizeof %s);" % (a, a)]
    else:
        s.decl = ["%s %s;" % (p.ctype, n)]
        s.base = ["%s = NULL;" % a]


def string_values(base):
    vals = [("NULL", "NULL"), ('""', '""'), ('"\\xff\\xfe" (not UTF-8)', '"\\xff\\xfe"'),
            ("a 64 KiB string", "long_string()")]
    if base not in ("no.such.name",):
        vals.append(("an unknown name", '"no.such.name"'))
    return vals


def plan_path(f, s, base):
    a, n, V = "a->" + s.p.name, s.p.name, s.variants
    writer = base == "write" or (base is None and writes_path(f))
    reader_kind = None
    if not writer:
        kind_name = base.split(":", 1)[1] if isinstance(base, str) and base.startswith("read:") else "weights"
        reader_kind = FILE_KINDS.index(kind_name)
    has_status = f.ret == "scnn_status"
    common = [
        ("NULL", "NULL", {}),
        ('""', '""', {}),
        ("a directory", "path_dir()", {}),
        ("a FIFO with no writer", "path_fifo()", {}),
        ("a nonexistent file", 'dir_path("nonexistent.safetensors")', {}),
        ("a file in a nonexistent directory", 'dir_path("no/such/dir/x.safetensors")', {}),
        ("a 64 KiB path", "long_path()", {}),
        ("a path through a regular file", 'dir_path("empty.safetensors/x.safetensors")', {}),
        ("a dangling symlink", "path_dangling_link()", {}),
    ]
    if writer:
        s.base = ['%s = case_path("out.safetensors");' % a]
        for label, expr, kw in common:
            V.append(Variant("%s = %s" % (n, label), ["%s = %s;" % (a, expr)], **kw))
        V.append(Variant("%s = a symlink to /dev/zero" % n, ["%s = path_devzero_link();" % a]))
        V.append(Variant("%s = a file in a directory without write permission" % n,
                         ["%s = path_in_unwritable_dir();" % a], unreadable=True))
        if has_status:
            V.append(Variant("%s = DIR/w\\xff.safetensors (not UTF-8; exact name, no U+FFFD alias)" % n,
                             ["%s = path_nonutf8_writer();" % a, "chk = CHK_WRITE_EXACT;"]))
        return
    s.base = ["%s = fixture_file(%d);" % (a, reader_kind)]
    for label, expr, kw in common:
        V.append(Variant("%s = %s" % (n, label), ["%s = %s;" % (a, expr)], **kw))
    if reads_path(f):
        V.append(Variant("%s = /dev/zero" % n, ['%s = "/dev/zero";' % a]))
    else:  # a function that might write: never hand it the device itself
        V.append(Variant("%s = a symlink to /dev/zero" % n, ["%s = path_devzero_link();" % a]))
    V.append(Variant("%s = an unreadable file (mode 000)" % n,
                     ["%s = path_kind_variant(%d, \"unreadable\");" % (a, reader_kind)], unreadable=True))
    if has_status:
        V.append(Variant("%s = %s\\xff.safetensors (not UTF-8; must read the same file)" % (n, FILE_KINDS[reader_kind]),
                         ["%s = path_nonutf8_reader(%d);" % (a, reader_kind), "chk = CHK_READ_EXACT;"]))
    V.append(Variant("%s = an empty file" % n, ['%s = dir_path("empty.safetensors");' % a]))
    V.append(Variant("%s = a truncated %s file" % (n, FILE_KINDS[reader_kind]),
                     ["%s = path_kind_variant(%d, \"truncated\");" % (a, reader_kind)]))
    V.append(Variant("%s = a header length of 2^64-1" % n, ['%s = dir_path("hugeheader.safetensors");' % a]))
    V.append(Variant("%s = a header that is not JSON" % n, ['%s = dir_path("notjson.safetensors");' % a]))
    for k, kind_name in enumerate(FILE_KINDS):
        if k != reader_kind:
            V.append(Variant("%s = the %s file (another kind)" % (n, kind_name), ["%s = fixture_file(%d);" % (a, k)]))


def plan_array(f, s, base):
    p, detail, n = s.p, s.detail, s.p.name
    a, V = "a->" + n, s.variants
    is_real = detail in FLOAT_TYPES
    size = "FBUF" if is_real else "BBUF" if detail in ("uint8_t", "int8_t") else "SLACK"
    s.decl = ["%s %s_buf[%s];" % (detail, n, size), "%s %s;" % (p.ctype, n)]
    base = base if isinstance(base, list) else [1] * 4
    length = len(base)
    bits = INT_TYPES.get(detail) or UINT_TYPES.get(detail, 64)
    signed = detail in INT_TYPES
    if is_real:
        filler = c_real(base[0] if base else 0.5, detail == "double")
    else:
        filler = c_int(int(base[0]) if base else 1, bits, signed)
    s.base = []
    s.base.append("FILL(%s_buf, %s, (%s)%s);" % (a, size, detail, filler))
    # Entries that differ from the filler.
    for i, v in enumerate(base):
        lit = c_real(v, detail == "double") if is_real else c_int(int(v), bits, signed)
        if lit != filler:
            s.base.append("%s_buf[%d] = %s;" % (a, i, lit))
    s.base.append("%s = %s_buf;" % (a, a))
    V.append(Variant("%s = NULL" % n, ["%s = NULL;" % a]))
    if detail in ("uint8_t", "int8_t"):
        return  # any byte is valid
    data = n in DATA_ARRAY_NAMES
    entries = list(range(min(length, 4))) if length else [0]
    if is_real:
        is_double = detail == "double"
        for i in entries[:2]:
            for label, v, finite in real_values(is_double):
                huge = label.lstrip("-") in ("FLT_MAX", "1e300")
                V.append(Variant("%s[%d] = %s" % (n, i, label), ["%s_buf[%d] = %s;" % (a, i, c_real(v, is_double))],
                                 finite=finite and not (data and huge)))
        if not data:
            V.append(Variant("%s = all 0" % n, ["FILL(%s_buf, %s, 0);" % (a, size)]))
        return
    if bits == 64 and signed:
        for i in entries:
            for v in I64_BAD:
                V.append(Variant("%s[%d] = %s" % (n, i, int_label(v)), ["%s_buf[%d] = %s;" % (a, i, c_int(v))]))
        pairs = [(0, 1)] if length >= 2 else []
        if length >= 3:
            pairs.append((length - 2, length - 1))
        for i, j in pairs:
            V.append(Variant("%s[%d] = %s[%d] = 2^40 (product overflows)" % (n, i, n, j),
                             ["%s_buf[%d] = %s_buf[%d] = INT64_C(1) << 40;" % (a, i, a, j)]))
        if length >= 3:
            V.append(Variant("%s = all 2^40" % n, ["{ int i; for (i = 0; i < %d; i++) %s_buf[i] = INT64_C(1) << 40; }"
                                                    % (length, a)]))
        return
    if signed:
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        vals = [-1, 10, 99, lo, hi]
        for i in sorted({0, max(length - 1, 0)}):
            for v in vals:
                V.append(Variant("%s[%d] = %s" % (n, i, int_label(v)), ["%s_buf[%d] = %s;" % (a, i, c_int(v, bits))]))
        return
    for v in [0, (1 << bits) - 1]:
        V.append(Variant("%s[0] = %s" % (n, int_label(v)), ["%s_buf[0] = %s;" % (a, c_int(v, bits, False))]))


def pair_variants(f, slots, hints):
    """Cases that vary two or more parameters together."""
    out = []
    sizes = [s for s in slots if s.kind == "integer" and s.detail in ("int64_t", "long") and
             s.role in ("int", "describer")]
    for x, y in zip(sizes, sizes[1:]):
        out.append(Variant("%s = %s = 2^40 (product overflows)" % (x.p.name, y.p.name),
                           ["a->%s = a->%s = INT64_C(1) << 40;" % (x.p.name, y.p.name)]))
    if len(sizes) >= 3:
        out.append(Variant("%s = 2^32" % " = ".join(s.p.name for s in sizes),
                           ["a->%s = INT64_C(1) << 32;" % s.p.name for s in sizes]))
    # A model that takes 3 x 224 x 224 images with a huge batch: the product of the input
    # shape overflows only for such a model (lenet5 refuses 3 channels first).
    model = [s for s in slots if s.kind == "handle" and s.detail == "scnn_model"]
    shapes = [s for s in slots if s.kind == "array" and s.detail == "int64_t" and "shape" in s.p.name]
    if model and shapes:
        m, sh = model[0].p.name, shapes[0].p.name
        for dims in ([1 << 50, 3, 224, 224], [I64_MAX, 3, 224, 224], [1 << 31, 3, 224, 224], [2, 3, 1 << 31, 1 << 31],
                     [-1, 3, 224, 224]):
            code = ["a->%s = fx_model(%d);" % (m, MODELS["M3"][0])]
            code += ["a->%s_buf[%d] = %s;" % (sh, i, c_int(v)) for i, v in enumerate(dims)]
            out.append(Variant("%s = googlenet, %s = [%s]" % (m, sh, ", ".join(int_label(v) for v in dims)), code))
    reals = [s for s in slots if s.kind == "real"]
    for x, y in zip(reals, reals[1:]):
        is_double = x.detail == "double" and y.detail == "double"
        big = "1e300" if is_double else "FLT_MAX"
        out.append(Variant("%s = -%s, %s = %s" % (x.p.name, big, y.p.name, big),
                           ["a->%s = -%s;" % (x.p.name, c_real(1e300, True) if x.detail == "double" else "FLT_MAX"),
                            "a->%s = %s;" % (y.p.name, c_real(1e300, True) if y.detail == "double" else "FLT_MAX")]))
    return out


def out_handle_post(h, f, s):
    """Checks of a T ** out-parameter after the call: NULL on failure, set on success."""
    a, n, detail = "a->" + s.p.name, s.p.name, s.detail
    destroy = None
    for g in h.funcs:
        if is_destroy(g) and len(g.params) == 1 and g.params[0].base == detail and g.params[0].depth == 1:
            destroy = g.name
            break
    ok = ["if (%s_val == NULL) res_fail(r, CAT_OTHER, \"status OK but *%s is NULL\");" % (a, n),
          "else if (%s_val == SENTINEL) res_fail(r, CAT_OTHER, \"status OK but *%s was not written\");" % (a, n),
          "else {"]
    if detail == "scnn_tensor":
        ok.append("    check_tensor(r, %s_val, \"%s\");" % (a, n))
    if detail == "char":
        ok.append("    touch_string(%s_val);" % a)
    if destroy:
        ok.append("    %s(%s_val);" % (destroy, a))
    ok.append("}")
    bad = ["if (%s_val == SENTINEL) "
           "res_fail(r, CAT_OTHER, \"failed but left *%s unset (the header: NULL on failure)\");" % (a, n),
           "else if (%s_val != NULL) res_fail(r, CAT_OTHER, \"failed but *%s is not NULL\");" % (a, n)]
    if f.ret != "scnn_status":
        return ["if (%s && %s_val != NULL && %s_val != SENTINEL) {" % (a, a, a)] + \
               (["    %s(%s_val);" % (destroy, a)] if destroy else []) + ["}"]
    return ["if (%s != NULL) {" % a, "    if (OK) {"] + ["        " + l for l in ok] + ["    } else {"] + \
        ["        " + l for l in bad] + ["    }", "}"]


def out_handle_array_post(h, f, s):
    """Checks of a `T **outs` array of `count` out-handles: every one set on success, every
    one NULL on failure (the first alone when count < 1)."""
    a, n, detail = "a->" + s.p.name, s.p.name, s.detail
    destroy = None
    for g in h.funcs:
        if is_destroy(g) and len(g.params) == 1 and g.params[0].base == detail and g.params[0].depth == 1:
            destroy = g.name
    count = "a->count"
    lines = ["if (%s != NULL) {" % a,
             "    int i, n = %s < 1 ? 1 : (%s > SLACK ? SLACK : (int)%s);" % (count, count, count),
             "    for (i = 0; i < n; i++) {",
             "        if (OK) {",
             "            if (%s_val[i] == NULL) res_fail(r, CAT_OTHER, \"status OK but %s[i] is NULL\");" % (a, n),
             "            else if (%s_val[i] == SENTINEL) res_fail(r, CAT_OTHER, \"status OK but %s[i] was not written\");" % (a, n),
             "            else {"]
    if detail == "scnn_tensor":
        lines.append("                check_tensor(r, %s_val[i], \"%s[i]\");" % (a, n))
    if destroy:
        lines.append("                %s(%s_val[i]);" % (destroy, a))
    lines += ["            }",
              "        } else {",
              "            if (%s_val[i] == SENTINEL) res_fail(r, CAT_OTHER, \"failed but left %s[i] unset (the header: NULL on failure)\");" % (a, n),
              "            else if (%s_val[i] != NULL) res_fail(r, CAT_OTHER, \"failed but %s[i] is not NULL\");" % (a, n),
              "        }",
              "    }",
              "}"]
    return lines


# ---- emitting C ------------------------------------------------------------------------


def emit_function(h, fi, f, slots, extra, cases):
    out = []
    status = f.ret == "scnn_status"
    out.append("/* %s */" % f.name)
    out.append("struct args_%d {" % fi)
    needs_sd = any(s.sd_names or (s.kind == "handle_array" and s.base and "fx_state_dict" in s.base[0])
                   for s in slots)
    if needs_sd:
        out.append("    int64_t sd_count;")
        out.append("    char const * sd_names[SLACK];")
    for s in slots:
        out += ["    " + d for d in s.decl]
    if not slots and not needs_sd:
        out.append("    int unused;")
    out.append("};")
    out.append("")
    out.append("static void base_%d(struct args_%d *a) {" % (fi, fi))
    # state dict first: names, then the arrays that point at them
    ordered = sorted(slots, key=lambda s: 0 if s.kind == "handle_array" else 1)
    for s in ordered:
        out += ["    " + line for line in s.base]
    out.append("    (void)a;")
    out.append("}")
    out.append("")
    args = ", ".join(s.arg for s in slots)
    out.append("static void invoke_%d(struct args_%d *a, struct res *r) {" % (fi, fi))
    if f.ret == "void":
        out.append("    %s(%s);" % (f.name, args))
        out.append("    const int OK = 1;")
    else:
        out.append("    %s ret = %s(%s);" % (f.ret, f.name, args))
        if status:
            out.append("    const int OK = ret == SCNN_STATUS_OK;")
            out.append("    check_status(r, (int32_t)ret);")
        else:
            out.append("    const int OK = 1;")
            rp = Param(f.ret, "ret", 0)
            if rp.base == "char" and rp.depth == 1:
                out.append("    touch_string(ret);")
            elif rp.base == "char" and rp.depth == 2:
                out.append("    touch_string_array(ret);")
            else:
                out.append("    (void)ret;")
    for s in slots:
        out += ["    " + l for l in s.post]
    out.append("    (void)OK;")
    out.append("    (void)r;")
    out.append("    (void)a;")
    out.append("}")
    out.append("")

    variants = [Variant("baseline", [])]
    for s in slots:
        variants += s.variants
    variants += extra
    base_finite = all(s.finite_base for s in slots)
    exempt = f.name in NONFINITE_EXEMPT
    out.append("static void run_%d(int v, struct res *r) {" % fi)
    out.append("    struct args_%d *a = (struct args_%d *)xcalloc(sizeof *a);" % (fi, fi))
    out.append("    int chk = CHK_NONE;")
    out.append("    base_%d(a);" % fi)
    out.append("    switch (v) {")
    for vi, var in enumerate(variants):
        out.append("    case %d: /* %s */" % (vi, var.label.replace("*/", "* /")))
        out += ["        " + l for l in var.code]
        out.append("        break;")
        cases.append((fi, vi, var.label, var.skip, 1 if (var.finite and base_finite and not exempt) else 0,
                      1 if var.unreadable else 0))
    out.append("    default:")
    out.append("        res_fail(r, CAT_OTHER, \"no variant %d\", v);")
    out.append("        return;")
    out.append("    }")
    out.append("    if (g_fx_error[0]) {")
    out.append("        res_fail(r, CAT_OTHER, \"fixture setup failed: %s\", g_fx_error);")
    out.append("        return;")
    out.append("    }")
    if status:
        out.append("    if (chk != CHK_NONE) { /* the same call with the baseline path, first */")
        out.append("        struct args_%d *b = (struct args_%d *)xcalloc(sizeof *b);" % (fi, fi))
        out.append("        struct res scratch;")
        out.append("        memset(&scratch, 0, sizeof scratch);")
        out.append("        base_%d(b);" % fi)
        out.append("        report_stage(r, 1);")
        out.append("        invoke_%d(b, &scratch);" % fi)
        out.append("        invoke_%d(a, r);" % fi)
        out.append("        check_path(r, chk, scratch.status, r->status);")
        out.append("        return;")
        out.append("    }")
    else:
        out.append("    (void)chk;")
    out.append("    report_stage(r, 1);")
    out.append("    invoke_%d(a, r);" % fi)
    out.append("}")
    out.append("")
    return out


def emit_callbacks(h):
    out = []
    for name, (ret, params) in sorted(h.callbacks.items()):
        plist = ", ".join("%s %s" % (p.ctype, p.name) for p in params) or "void"
        uses = " ".join("(void)%s;" % p.name for p in params)
        for suffix, value in (("go", 1), ("stop", 0)):
            body = "%s g_callback_calls++;" % uses
            if ret != "void":
                body += " return (%s)%d;" % (ret, value)
            out.append("static %s cb_%s_%s(%s) { %s }" % (ret, name, suffix, plist, body))
    return out


def generate(h, template):
    cases = []
    body = ["/* ---- generated from the header: callbacks, one runner per function, the tables ---- */", ""]
    body += emit_callbacks(h)
    body.append("")
    for fi, f in enumerate(h.funcs):
        slots, extra = plan_function(h, f)
        body += emit_function(h, fi, f, slots, extra, cases)
    body.append("static const struct fn_def g_fns[] = {")
    body += ["    {\"%s\", run_%d}," % (f.name, fi) for fi, f in enumerate(h.funcs)]
    body.append("};")
    body.append("")
    body.append("static const struct case_def g_cases[] = {")
    for fi, vi, label, skip, finite, unreadable in cases:
        body.append("    {%d, %d, %s, %s, %d, %d}," % (fi, vi, c_str(label), c_str(skip) if skip else "NULL",
                                                      finite, unreadable))
    body.append("};")

    tfx = ["static const struct tfx g_tfx[] = {"]
    for name, shape, lo, hi, special in TENSORS:
        dims = (list(shape) + [0, 0, 0, 0])[:4]
        tfx.append("    {%s, %d, {%s}, %r, %r, %d}," % (c_str(name), len(shape), ", ".join(str(d) for d in dims),
                                                       float(lo), float(hi), special))
    tfx.append("};")
    tfx += ["#define FX_%s %d" % (name, i) for i, (name, _, _, _, _) in enumerate(TENSORS)]
    kinds = "static const char *const g_file_kinds[] = {%s};" % ", ".join(c_str(k) for k in FILE_KINDS)
    statuses = h.enums.get("scnn_status", [("SCNN_STATUS_OK", 0)])
    status_c = "static const int32_t g_status_values[] = {%s};" % ", ".join(c for c, _ in statuses)

    text = template
    for marker, value in (("/*@TENSOR_FIXTURES@*/", "\n".join(tfx)), ("/*@FILE_KINDS@*/", kinds),
                          ("/*@STATUS_VALUES@*/", status_c), ("/*@GENERATED@*/", "\n".join(body))):
        if marker not in text:
            raise ValueError("template lacks %s" % marker)
        text = text.replace(marker, value)
    return text, cases


# ---- self-test -------------------------------------------------------------------------

SELFTEST_HEADER = r"""
#include <stdint.h>
typedef struct scnn_tensor scnn_tensor;
typedef struct scnn_model scnn_model;
typedef enum scnn_status { SCNN_STATUS_OK = 0, SCNN_STATUS_INVALID_ARGUMENT = 1 } scnn_status;
typedef enum scnn_blend { SCNN_BLEND_ADD = 0, SCNN_BLEND_MUL = 1 } scnn_blend;
typedef int32_t (*scnn_tick_callback)(int64_t step, void *user);
/// Frees a tensor. NULL is a no-op.
void scnn_tensor_destroy(scnn_tensor * tensor);
/// Frobnicates `x` `n` times with strength `alpha`, reading extra weights from `path`.
/// *out is a new tensor freed with scnn_tensor_destroy.
scnn_status scnn_frobnicate(scnn_tensor const * x, int64_t n, char const * path, float alpha,
                            scnn_tensor ** out) SCNN_WARN_UNUSED_RESULT;
/// Blends a and b. blend: an scnn_blend value. clip: nonzero clips to [0, 1].
/// shape: `rank` values; values: `count` floats; on_tick: called per step.
scnn_status scnn_blend_things(scnn_tensor const * a, int32_t blend, int32_t clip,
                              int64_t const * shape, int32_t rank, float const * values, int64_t count,
                              double lo, double hi, scnn_tick_callback on_tick, void * user,
                              char const * const * names, int64_t * out_size) SCNN_WARN_UNUSED_RESULT;
/// Saves x to `path`.
scnn_status scnn_thing_save(scnn_tensor const * x, char const * path) SCNN_WARN_UNUSED_RESULT;
typedef struct scnn_widget scnn_widget;
typedef struct scnn_widget_info { int64_t size; float weight; } scnn_widget_info;
/// Pokes a widget (a handle type the generator has no fixture for) `times` times.
scnn_status scnn_widget_poke(scnn_widget * widget, int64_t times, scnn_widget_info * info,
                             scnn_widget ** out) SCNN_WARN_UNUSED_RESULT;
void scnn_widget_destroy(scnn_widget * widget);
"""


def selftest():
    failures = []
    checks = [0]

    def expect(cond, what):
        checks[0] += 1
        if not cond:
            failures.append(what)

    h = parse_header(SELFTEST_HEADER)
    names = [f.name for f in h.funcs]
    expect(names == ["scnn_tensor_destroy", "scnn_frobnicate", "scnn_blend_things", "scnn_thing_save",
                     "scnn_widget_poke", "scnn_widget_destroy"], "parsed functions: %r" % names)
    expect("scnn_blend" in h.enums and "scnn_tick_callback" in h.callbacks, "enum and callback typedefs parsed")
    f = h.func("scnn_frobnicate")
    expect(f is not None and f.name not in HINTS, "scnn_frobnicate has no hint (the point of the test)")
    template = open(TEMPLATE).read()
    text, cases = generate(h, template)
    fi = names.index("scnn_frobnicate")
    labels = [c[2] for c in cases if c[0] == fi]
    want = ["baseline", "x = NULL", "x = a [5] tensor", "x = [2, 3, 8, 8] holding NaN and Inf",
            "n = 0", "n = -1", "n = INT64_MIN", "n = INT64_MAX", "n = 2^31", "n = 2^50",
            "path = NULL", 'path = ""', "path = a directory", "path = a FIFO with no writer",
            "path = a symlink to /dev/zero", "path = a nonexistent file", "path = an unreadable file (mode 000)",
            "path = a 64 KiB path", "alpha = NaN", "alpha = +Inf", "alpha = -Inf", "alpha = FLT_MAX",
            "alpha = -1", "alpha = 0", "out = NULL"]
    for w in want:
        expect(w in labels, "scnn_frobnicate lacks the case %r" % w)
    expect(any("not UTF-8" in l and l.startswith("path = ") for l in labels), "scnn_frobnicate: a non-UTF-8 path case")
    nan_case = [c for c in cases if c[0] == fi and c[2] == "alpha = NaN"]
    expect(nan_case and nan_case[0][4] == 0, "alpha = NaN is outside the finite-output rule")
    huge = [c for c in cases if c[0] == fi and c[2] == "alpha = FLT_MAX"]
    expect(huge and huge[0][4] == 1, "alpha = FLT_MAX is inside the finite-output rule")
    # The generated runner calls the function with the out-parameter checked.
    expect("scnn_frobnicate(a->x, a->n, a->path, a->alpha, a->out)" in text, "scnn_frobnicate is called")
    expect("check_tensor(r, a->out_val" in text and "scnn_tensor_destroy(a->out_val)" in text,
           "the new tensor is checked and destroyed")
    # Roles of the second function's parameters.
    g = h.func("scnn_blend_things")
    kinds = [classify(h, g, p) for p in g.params]
    roles = {p.name: int_role(h, g, p, kinds) for p, (k, _) in zip(g.params, kinds) if k == "integer"}
    expect(roles.get("blend") == "enum", "blend is an enum: %r" % roles)
    expect(roles.get("clip") == "flag", "clip is a flag: %r" % roles)
    expect(roles.get("rank") == "rank", "rank is a rank: %r" % roles)
    expect(roles.get("count") == "buflen", "count describes a buffer: %r" % roles)
    gi = names.index("scnn_blend_things")
    glabels = {c[2]: c for c in cases if c[0] == gi}
    for w in ["blend = 2", "blend = -1", "blend = INT32_MAX", "rank = 9", "rank = 0", "shape[0] = 2^50",
              "shape[0] = shape[1] = 2^40 (product overflows)", "values[0] = NaN", "on_tick = NULL",
              "on_tick = a callback that stops", "names[0] = NULL", "names = NULL", "out_size = NULL",
              "lo = -1e300, hi = 1e300", "count = 0", "count = -1"]:
        expect(w in glabels, "scnn_blend_things lacks the case %r" % w)
    expect(glabels.get("count = INT64_MAX", (0, 0, 0, None))[3] == SKIP_BUFFER, "a huge count is skipped")
    expect("cb_scnn_tick_callback_go" in text, "a callback is generated from the typedef")
    # Writers: the symlink instead of /dev/zero, the exact-name check.
    si = names.index("scnn_thing_save")
    slabels = [c[2] for c in cases if c[0] == si]
    expect("path = a symlink to /dev/zero" in slabels and "path = /dev/zero" not in slabels,
           "a writer never gets /dev/zero itself")
    expect(any("no U+FFFD alias" in l for l in slabels), "a writer gets the exact-name check")
    # Destroy functions: NULL.
    di = names.index("scnn_tensor_destroy")
    dcases = [c[2] for c in cases if c[0] == di]
    expect("tensor = NULL" in dcases, "destroy(NULL) is a case")
    expect("fx_tensor_fresh(FX_NCHW)" in text, "destroy gets a fresh tensor")
    # A handle type without a fixture: NULL baseline, the other parameters still varied.
    wi = names.index("scnn_widget_poke")
    wlabels = [c[2] for c in cases if c[0] == wi]
    for w in ["baseline", "times = 0", "times = INT64_MAX", "info = NULL", "out = NULL"]:
        expect(w in wlabels, "scnn_widget_poke lacks the case %r" % w)
    expect("scnn_widget_destroy(a->out_val)" in text, "a new handle type's out-parameter is freed by its destroy")
    # An unparseable declaration is an error, not a silent omission.
    try:
        parse_header("scnn_status scnn_broken(int x[restrict static 3]);\n")
        failures.append("an unparseable declaration was accepted")
    except ValueError:
        pass
    # The real header: every declared function is in the sweep.
    real = os.path.join(ROOT, "Include", "swiftcnn.h")
    rh = None
    if os.path.exists(real):
        rh = parse_header(open(real).read())
        _, rcases = generate(rh, template)
        covered = {c[0] for c in rcases}
        expect(covered == set(range(len(rh.funcs))), "every function of the real header has cases")
        expect(all(any(c[0] == i and c[2] != "baseline" for c in rcases) or not rh.funcs[i].params
                   for i in range(len(rh.funcs))), "every function with parameters has bad-input cases")
    if failures:
        for w in failures:
            print("selftest FAILED: " + w)
        return 1
    print("gen_bad_inputs selftest: %d checks passed (a made-up scnn_frobnicate gets %d cases of every expected "
          "kind; the real header's %d functions all have cases)" % (checks[0], len(labels), len(rh.funcs) if rh else 0))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("header", nargs="?")
    ap.add_argument("-o", "--output")
    ap.add_argument("--selftest", action="store_true")
    args = ap.parse_args()
    if args.selftest:
        return selftest()
    if not args.header or not args.output:
        ap.error("HEADER and -o OUTPUT are required")
    h = parse_header(open(args.header).read())
    text, cases = generate(h, open(TEMPLATE).read())
    tmp = args.output + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, args.output)
    print("gen_bad_inputs: %d functions, %d cases -> %s" % (len(h.funcs), len(cases), args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
