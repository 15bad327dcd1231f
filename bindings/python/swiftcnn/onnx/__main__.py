"""python -m swiftcnn.onnx convert IN.onnx OUT.safetensors [--input-shape C,H,W]
python -m swiftcnn.onnx export MODEL OUT.onnx [--opset N]   (MODEL: a model file or zoo name)
python -m swiftcnn.onnx summary IN.onnx [--input-shape C,H,W]"""
from __future__ import annotations

import argparse
import sys


def _shape(text):
    try:
        return tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 3,224,224; got {text!r}")


def main(argv=None) -> int:
    import swiftcnn
    from swiftcnn import onnx as sonnx
    p = argparse.ArgumentParser(prog="python -m swiftcnn.onnx", description="ONNX import and export for swiftcnn")
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert", help="an ONNX file to a swiftcnn model file (.safetensors)")
    c.add_argument("src")
    c.add_argument("dst")
    c.add_argument("--input-shape", type=_shape, default=None, help="C,H,W when the file leaves them open")
    s = sub.add_parser("summary", help="import an ONNX file and print the model's summary")
    s.add_argument("src")
    s.add_argument("--input-shape", type=_shape, default=None)
    e = sub.add_parser("export", help="a swiftcnn model file or zoo name to ONNX")
    e.add_argument("model")
    e.add_argument("dst")
    e.add_argument("--opset", type=int, default=17)
    args = p.parse_args(argv)
    try:
        if args.cmd == "convert":
            sonnx.convert(args.src, args.dst, input_shape=args.input_shape)
            print(f"wrote {args.dst}")
        elif args.cmd == "summary":
            print(sonnx.load(args.src, input_shape=args.input_shape).summary())
        else:
            import os
            model = swiftcnn.load(args.model) if os.path.exists(args.model) else swiftcnn.models.create(args.model)
            sonnx.export(model, args.dst, opset=args.opset)
            print(f"wrote {args.dst}")
    except (ValueError, NotImplementedError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
