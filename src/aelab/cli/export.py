"""``aelab export RUN``: the encoder, decoder or whole model as ONNX or TorchScript."""

from __future__ import annotations

import argparse

from aelab.cli.options import log, out_file

HELP = "export a run's encoder, decoder or full model to ONNX or TorchScript"
EPILOG = """examples:
  aelab export runs/r1 --format onnx --part encoder --out r1-encoder.onnx
  aelab export runs/r1 --format onnx --part full --out r1.onnx
  aelab export runs/r1 --format torchscript --part decoder --out r1-decoder.pt

The batch size is dynamic. encoder: images (B, C, H, W) float in [0, 1] -> codes
(B, latent_dim); decoder: codes -> pixels (B, C, H, W) in [0, 1]; full: images -> pixels.
Load a TorchScript file with torch.jit.load; run an ONNX file with onnxruntime.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="the run directory a training wrote")
    parser.add_argument("--format", choices=("onnx", "torchscript"), default="onnx")
    parser.add_argument("--part", choices=("encoder", "decoder", "full"), default="full")
    parser.add_argument(
        "--out",
        required=True,
        type=out_file("model.onnx"),
        metavar="FILE",
        help="the file to write",
    )
    parser.add_argument("--checkpoint", choices=("best", "last"), default="best")


def run(args: argparse.Namespace) -> int:
    from aelab.reuse.export import export
    from aelab.training import load_run

    model, _ = load_run(args.run, checkpoint=args.checkpoint, device="cpu")
    path = export(model, args.out, format=args.format, part=args.part)
    log.info(f"wrote {args.part} ({args.format}) to {path}")
    return 0


__all__ = ["EPILOG", "HELP", "add_arguments", "run"]
