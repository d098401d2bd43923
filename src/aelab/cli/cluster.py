"""``aelab cluster RUN``: k-means on pixels, PCA and the codes, then DEC/IDEC fine-tuning."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from aelab.cli.options import (
    add_json_option,
    add_no_write_option,
    add_run_options,
    print_json,
    run_device,
)

HELP = "cluster a run's test images: k-means on pixels, PCA and codes, then IDEC"
EPILOG = """examples:
  aelab cluster runs/r3-fashion-conv
  aelab cluster runs/r3-fashion-conv --max-iter 0             # k-means only, no IDEC
  aelab cluster runs/r3-mnist-conv --train-limit 20000 --json
  aelab cluster runs/r1 --gamma 0.1 --update-interval 140 --tol 0.001 --device cuda

Every k-means (k = number of classes, --n-init restarts, --seed) is fitted on the training
images and assigns the test images: on the raw pixels, on PCA at the code's size and on
the frozen codes. Then IDEC (Guo et al. 2017; DEC, Xie et al. 2016) fine-tunes the encoder
and the cluster centres from that last k-means: Student-t soft assignments, the sharpened
target refreshed every --update-interval steps, loss = the model's own loss + gamma *
KL(P || Q), stopping when fewer than --tol of the points change cluster (or at --max-iter).
NMI, ARI and accuracy (Hungarian matching) on the test split go to RUN/cluster/
(cluster.json, cluster.md, figures) and the "cluster" section of RUN/metrics.json; the
run's checkpoint is not changed.
"""


# ClusterConfig field -> its option's help; every field is an option (--n-init for n_init)
OPTION_HELP = {
    "n_clusters": "clusters (default %(default)s: the number of classes)",
    "n_init": "k-means restarts (default %(default)s)",
    "seed": "seed of k-means and the batches (default %(default)s)",
    "alpha": "degrees of freedom of the Student-t kernel (default %(default)s)",
    "gamma": "weight of KL(P || Q) beside the model's loss (default %(default)s)",
    "lr": "Adam learning rate (default %(default)s)",
    "batch_size": "fine-tuning batch size (default %(default)s)",
    "update_interval": "steps between target updates (default %(default)s)",
    "tol": "stop below this share of changed clusters (default %(default)s)",
    "max_iter": "fine-tuning steps at most (default %(default)s; 0: k-means only)",
    "train_limit": "fit on the first N training images (default %(default)s: all)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from aelab.reuse.cluster_config import ClusterConfig

    add_run_options(parser, dataset="cluster")
    for f in dataclasses.fields(ClusterConfig):
        option = f"--{f.name.replace('_', '-')}"
        parser.add_argument(
            option, type=type(f.default), default=f.default, help=OPTION_HELP[f.name]
        )
    add_no_write_option(parser)
    add_json_option(parser)


def run(args: argparse.Namespace) -> int:
    from aelab.reuse.cluster import cluster_run, to_markdown
    from aelab.reuse.cluster_config import ClusterConfig

    cfg = ClusterConfig(
        **{f.name: getattr(args, f.name) for f in dataclasses.fields(ClusterConfig)}
    )

    def status(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    result = cluster_run(
        args.run,
        cfg,
        dataset=args.dataset,
        checkpoint=args.checkpoint,
        device=run_device(args),
        write=not args.no_write,
        status=(lambda _: None) if args.quiet else status,
    )
    if args.json:
        print_json(result.section())
    elif not args.quiet:
        print(to_markdown(result), end="")
        if not args.no_write:
            print(f"wrote {args.run}/cluster/ and the 'cluster' section of metrics.json")
    return 0


__all__ = ["EPILOG", "HELP", "add_arguments", "run"]
