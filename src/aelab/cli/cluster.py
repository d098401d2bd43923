"""``aelab cluster RUN``: k-means on pixels, PCA and the codes, then DEC/IDEC fine-tuning
and/or N2D (UMAP of the codes, then a Gaussian mixture)."""

from __future__ import annotations

import argparse
import dataclasses

from aelab.cli.options import (
    add_json_option,
    add_no_write_option,
    add_run_options,
    log,
    print_json,
    run_device,
)

HELP = "cluster a run's test images: k-means on pixels, PCA and codes, then IDEC and/or N2D"
EPILOG = """examples:
  aelab cluster runs/r3-fashion-conv
  aelab cluster runs/r3-fashion-conv --max-iter 0             # k-means only, no IDEC
  aelab cluster runs/r3-mnist-conv --train-limit 20000 --json
  aelab cluster runs/r1 --gamma 0.1 --update-interval 140 --tol 0.001 --device cuda
  aelab cluster runs/r3-mnist-conv --method n2d              # needs aelab[umap]
  aelab cluster runs/r3-mnist-conv --method all --umap-neighbors 10 --gmm-n-init 5

Every k-means (k = number of classes, --n-init restarts, --seed) is fitted on the training
images and assigns the test images: on the raw pixels, on PCA at the code's size and on
the frozen codes. Then IDEC (Guo et al. 2017; DEC, Xie et al. 2016) fine-tunes the encoder
and the cluster centres from that last k-means: Student-t soft assignments, the sharpened
target refreshed every --update-interval steps, loss = the model's own loss + gamma *
KL(P || Q), stopping when fewer than --tol of the points change cluster (or at --max-iter).
N2D (--method n2d; McConville et al. 2020; pip install 'aelab[umap]') embeds the frozen
codes with UMAP (fitted on the training codes, the test codes placed by its transform) and
clusters the embedding with a Gaussian mixture, beside k-means on the same embedding.
--method picks kmeans (the three k-means baselines, always run), idec, n2d or all
(repeatable; default: kmeans and idec). NMI, ARI and accuracy (Hungarian matching) on the
test split go to RUN/cluster/ (cluster.json, cluster.md, figures) and the "cluster" section
of RUN/metrics.json; the run's checkpoint is not changed.
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


# N2DConfig field -> metavar and help of its option (named by aelab.reuse.n2d.SETTING_NAMES)
N2D_OPTIONS = {
    "n_neighbors": ("N", "UMAP's neighbours per point (default %(default)s)"),
    "min_dist": ("D", "UMAP's minimum distance (default %(default)s)"),
    "metric": ("NAME", "UMAP's distance between codes (default %(default)s)"),
    "n_components": (
        "N",
        "UMAP embedding dimensions (default %(default)s: the number of clusters)",
    ),
    "n_init": ("N", "the Gaussian mixture's restarts (default %(default)s)"),
    "covariance": (
        "KIND",
        "the mixture's covariance: full, tied, diag or spherical (default %(default)s)",
    ),
}


def n2d_option(field: str) -> str:
    """The flag of an N2DConfig field: --umap-neighbors for n_neighbors."""
    from aelab.reuse.n2d import SETTING_NAMES

    return "--" + SETTING_NAMES[field].replace("_", "-")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from aelab.reuse.cluster_config import CLUSTER_METHODS, DEFAULT_METHODS, ClusterConfig
    from aelab.reuse.n2d import N2DConfig

    add_run_options(parser, dataset="cluster")
    parser.add_argument(
        "--method",
        dest="methods",
        action="append",
        choices=(*CLUSTER_METHODS, "all"),
        help="what to cluster with (repeatable): kmeans (on pixels, PCA and the codes: always "
        "run), idec, n2d, or all (default: " + " and ".join(DEFAULT_METHODS) + ")",
    )
    for f in dataclasses.fields(ClusterConfig):
        if f.name in ("methods", "n2d"):
            continue
        option = f"--{f.name.replace('_', '-')}"
        parser.add_argument(
            option, type=type(f.default), default=f.default, help=OPTION_HELP[f.name]
        )
    for f in dataclasses.fields(N2DConfig):
        metavar, text = N2D_OPTIONS[f.name]
        parser.add_argument(
            n2d_option(f.name),
            dest=f"n2d_{f.name}",
            metavar=metavar,
            type=type(f.default),
            default=f.default,
            help=text,
        )
    add_no_write_option(parser)
    add_json_option(parser)


def config_of(args: argparse.Namespace):
    """The ClusterConfig the flags ask for."""
    from aelab.errors import ConfigError
    from aelab.reuse.cluster_config import CLUSTER_METHODS, DEFAULT_METHODS, ClusterConfig
    from aelab.reuse.n2d import N2DConfig

    methods = args.methods or DEFAULT_METHODS
    values = {f.name: getattr(args, f"n2d_{f.name}") for f in dataclasses.fields(N2DConfig)}
    try:
        n2d = N2DConfig(**values)
    except ConfigError as err:  # "n_neighbors=1 is invalid: ...": name the flag too
        raise ConfigError(f"{n2d_option(str(err).split('=')[0])}: {err}") from None
    return ClusterConfig(
        methods=CLUSTER_METHODS if "all" in methods else tuple(methods),
        n2d=n2d,
        **{
            f.name: getattr(args, f.name)
            for f in dataclasses.fields(ClusterConfig)
            if f.name not in ("methods", "n2d")
        },
    )


def run(args: argparse.Namespace) -> int:
    from aelab.reuse.cluster import cluster_run, to_markdown

    result = cluster_run(
        args.run,
        config_of(args),
        dataset=args.dataset,
        checkpoint=args.checkpoint,
        device=run_device(args),
        write=not args.no_write,
        status=log.info,
    )
    if args.json:
        print_json(result.section())
    elif not args.quiet:
        print(to_markdown(result), end="")
    if not args.no_write:
        log.info(f"wrote {args.run}/cluster/ and the 'cluster' section of metrics.json")
    return 0


__all__ = ["EPILOG", "HELP", "add_arguments", "run"]
