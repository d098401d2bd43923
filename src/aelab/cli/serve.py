"""``aelab serve RUN``: the run's detector, encoder and decoder as an HTTP service."""

from __future__ import annotations

import argparse

from aelab.cli.options import add_run_options, log

HELP = "serve a run's anomaly scores, codes and reconstructions over HTTP"
EPILOG = """examples:
  aelab serve a-mnist/class-7
  aelab serve a-mnist/class-7 --port 8123 --max-body-mb 8
  aelab serve runs/r1 --host 0.0.0.0 --port 8000

Endpoints: POST /v1/score (JSON {"images": [...]} floats in [0, 1] shaped (N, C, H, W),
(N, H, W) or (N, H*W), or a PNG/JPEG uploaded as multipart field "image") -> scores,
decisions and the threshold of RUN/detector.json (written by `aelab anomaly --save-runs`);
POST /v1/encode, POST /v1/reconstruct; GET /v1/model, GET /health; the OpenAPI schema at
/openapi.json and docs at /docs. Binds 127.0.0.1 unless --host says otherwise. Concurrent
requests are micro-batched; bodies over --max-body-mb get 413 before parsing; SIGTERM or
Ctrl-C stops accepting and finishes the requests in flight. Needs `pip install 'aelab[serve]'`.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_options(parser, detector_checkpoint=True)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free)")
    parser.add_argument(
        "--max-body-mb", type=float, default=32.0, help="request size limit in MB (default 32)"
    )
    parser.add_argument(
        "--batch-window-ms",
        type=float,
        default=5.0,
        help="how long a micro-batch waits for more requests (default 5 ms)",
    )


def run(args: argparse.Namespace) -> int:
    import importlib.util

    from aelab.cli.options import run_device
    from aelab.errors import ConfigError, DependencyError

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is invalid: expected 0-65535.")
    if args.max_body_mb <= 0 or args.batch_window_ms < 0:
        raise ConfigError("--max-body-mb must be > 0 and --batch-window-ms >= 0.")
    missing = [
        m for m in ("fastapi", "uvicorn", "multipart") if importlib.util.find_spec(m) is None
    ]
    if missing:
        raise DependencyError(
            f"aelab serve needs {', '.join(missing)}: pip install 'aelab[serve]'."
        )
    import uvicorn

    from aelab.web.app import create_app

    app = create_app(
        args.run,
        checkpoint=args.checkpoint,
        device=run_device(args),
        max_body=int(args.max_body_mb * 1024 * 1024),
        batch_window=args.batch_window_ms / 1000.0,
    )
    log.info(f"serving {args.run} on http://{args.host}:{args.port} (docs at /docs)")
    # uvicorn's graceful shutdown on SIGTERM/SIGINT: stop accepting, drain requests in flight
    uvicorn.run(
        app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=30
    )
    return 0


__all__ = ["EPILOG", "HELP", "add_arguments", "run"]
