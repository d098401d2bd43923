"""``aelab export RUN``: the encoder, decoder or whole model as ONNX or TorchScript."""

from __future__ import annotations

import argparse

from aelab.cli.options import add_out_option, add_run_options, log

HELP = "export a run's encoder, decoder or full model to ONNX or TorchScript"
EPILOG = """examples:
  aelab export runs/r1 --format onnx --part encoder --out r1-encoder.onnx
  aelab export runs/r1 --format onnx --part full --out r1.onnx
  aelab export runs/r1 --format torchscript --part decoder --out r1-decoder.pt

The batch size is dynamic. encoder: images (B, C, H, W) float in [0, 1] -> codes
(B, latent_dim); decoder: codes -> pixels (B, C, H, W) in [0, 1]; full: images -> pixels.
Load a TorchScript file with torch.jit.load; run an ONNX file with onnxruntime.
scorer (ONNX only, for a run with a detector.json, e.g. OUT/class-C of `aelab anomaly
--save-runs`): images -> (score (B,) float64, anomaly (B,) bool), the threshold and the
score definition in the model's metadata_props.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # exported on the CPU, so the file runs anywhere: no --device
    add_run_options(parser, device=False, detector_checkpoint=True)
    parser.add_argument("--format", choices=("onnx", "torchscript"), default="onnx")
    parser.add_argument(
        "--part",
        choices=("encoder", "decoder", "full", "scorer"),
        default="full",
        help="scorer: images -> (anomaly score, decision) of the run's detector.json (ONNX)",
    )
    add_out_option(parser, "the file to write", file="model.onnx")


def run(args: argparse.Namespace) -> int:
    from aelab.api import export

    path = export(
        args.run, args.out, format=args.format, part=args.part, checkpoint=args.checkpoint
    )
    log.info(f"wrote {args.part} ({args.format}) to {path}")
    return 0


__all__ = ["EPILOG", "HELP", "add_arguments", "run"]
