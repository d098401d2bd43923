"""``aelab explore RUN [RUN ...]``: a local web page to look into the code space of runs."""

from __future__ import annotations

import argparse

from aelab.cli.options import CHECKPOINT_HELP, DEVICE_HELP, log

HELP = "explore the code space of runs in the browser: decode, interpolate, upload"
EPILOG = """examples:
  aelab explore runs/r1-fashion-sparse
  aelab explore runs/r1-fashion-sparse runs/r4-vae --port 8123 --no-browser
  aelab explore runs/r1-fashion-sparse --projection umap

Opens http://127.0.0.1:PORT/ (binds 127.0.0.1 unless --host says otherwise): each run's test
codes as a 2-D map (hover: image, reconstruction, label, error); click the map to decode that
position (PCA inverse, or UMAP's inverse_transform with --projection umap, which needs
`pip install 'aelab[umap]'`); sliders move a code along its principal directions; the
decoded path between two test images; samples from the prior for VAEs; an uploaded PNG/JPEG
(converted and resized to the model's input) with its code, reconstruction, map position and,
when RUN/detector.json exists, its anomaly score. Several runs are shown side by side on the
same test images. Reads RUN/figures/code_map/ (written by `aelab evaluate` with the figure
set "all"); writes nothing into the runs. Needs `pip install 'aelab[serve]'`.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", metavar="RUN", nargs="+", help="run directories a training wrote")
    parser.add_argument(
        "--checkpoint", choices=("best", "last"), default="best", help=CHECKPOINT_HELP
    )
    parser.add_argument("--device", default="auto", help=DEVICE_HELP)
    parser.add_argument(
        "--projection",
        choices=("pca", "umap"),
        default="pca",
        help="the 2-D map that clicks decode from: pca (default) or umap (aelab[umap])",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free)")
    parser.add_argument(
        "--no-browser", action="store_true", help="do not open the page in a web browser"
    )


def free_port(host: str) -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def run(args: argparse.Namespace) -> int:
    import importlib.util
    import threading
    import webbrowser

    from aelab.cli.options import run_device
    from aelab.errors import ConfigError, DependencyError

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is invalid: expected 0-65535.")
    missing = [
        m for m in ("fastapi", "uvicorn", "multipart") if importlib.util.find_spec(m) is None
    ]
    if missing:
        raise DependencyError(
            f"aelab explore needs {', '.join(missing)}: pip install 'aelab[serve]'."
        )
    import uvicorn

    from aelab.web.explore import create_explore_app

    log.info(f"loading {len(args.runs)} run(s) ...")
    app = create_explore_app(
        args.runs, checkpoint=args.checkpoint, device=run_device(args), projection=args.projection
    )
    port = args.port or free_port(args.host)
    url = f"http://{args.host}:{port}/"
    log.info(f"exploring {', '.join(args.runs)} at {url} (Ctrl-C stops)")
    if not args.no_browser:
        threading.Timer(1.0, webbrowser.open, [url]).start()
    uvicorn.run(app, host=args.host, port=port, log_level="warning", timeout_graceful_shutdown=5)
    return 0


__all__ = ["EPILOG", "HELP", "add_arguments", "run"]
