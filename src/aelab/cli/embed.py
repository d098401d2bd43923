"""``aelab embed RUN``: the codes of a dataset split, saved as .npy, .npz or .csv."""

from __future__ import annotations

import argparse

from aelab.cli.options import add_out_option, add_run_options, log, run_device

HELP = "compute the codes of a dataset split with a trained run and save them"
EPILOG = """examples:
  aelab embed runs/r1 --split test --out codes.npy
  aelab embed runs/r1 --split train --out train-codes.npz      # codes + labels
  aelab embed runs/r1 --dataset mnist --split test --out mnist-codes.csv
  aelab embed runs/r1 --out codes.npz --checkpoint last --device cuda

.npy holds the codes (N, latent_dim) float32; .npz holds "codes" and "labels";
.csv has a header, a label column (when the data is labelled), then z0..z{D-1}.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_options(parser, dataset="embed")
    parser.add_argument(
        "--split", choices=("train", "val", "test"), default="test", help="default: test"
    )
    add_out_option(parser, "output file: .npy, .npz or .csv", file="codes.npz")
    parser.add_argument("--batch-size", type=int, default=1024, help="images per batch")


def run(args: argparse.Namespace) -> int:
    from aelab.reuse.embed import embed_run

    codes, labels = embed_run(
        args.run,
        dataset=args.dataset,
        split=args.split,
        out=args.out,
        checkpoint=args.checkpoint,
        device=run_device(args),
        batch_size=args.batch_size,
        progress=not args.quiet,
    )
    what = "codes and labels" if labels is not None and not args.out.endswith(".npy") else "codes"
    log.info(f"wrote {what} {codes.shape[0]} x {codes.shape[1]} to {args.out}")
    return 0


__all__ = ["EPILOG", "HELP", "add_arguments", "run"]
