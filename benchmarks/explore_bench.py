"""Interactive report and explorer benchmark: page size and load time of report.html with
the code map of 1,000 and 10,000 test images (both thumbnails per point), and the decode
latency of `aelab explore` for R1 (dense 784-32-784).

Report: the first N real Fashion-MNIST test images (``--data``, idx files) and, standing in
for a trained model's reconstructions and 32-unit codes, their PCA-32 reconstructions and
PCA-32 coefficients (PCA is what a linear autoencoder converges to; smooth like a trained
R1's reconstructions, so the sprite sheets compress as they would). The map files are
written with the evaluation's writer, report.html with ``render_report``, and the page is
loaded ``--loads`` times in headless Chromium (Playwright on the system browser): the load
event (navigation start to loadEventEnd) and the time until BokehJS has drawn the map.

Explorer: an UNTRAINED model built from the r1-fashion-sparse preset (R1's shape and
parameter count; decode time does not depend on the weights), its codes of the same images,
served in process (FastAPI TestClient); ``POST /api/point`` (PCA inverse, decode, PNG
encode, JSON) timed ``--decodes`` times after a warm-up, and the model's decode alone.

Writes ``benchmarks/results/explore_bench.{json,md}`` (or ``--out-dir``).

    .venv/bin/python benchmarks/explore_bench.py
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path("/usr/share/datasets/fashion-mnist")
BUDGET_MB, BUDGET_LOAD_S = 15.0, 3.0
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
           "Sneaker", "Bag", "Ankle boot")  # fmt: skip


def read_idx(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz") as f:
        images = f.read()
    with gzip.open(folder / "t10k-labels-idx1-ubyte.gz") as f:
        labels = f.read()
    x = np.frombuffer(images, np.uint8, offset=16).reshape(-1, 1, 28, 28)
    return x, np.frombuffer(labels, np.uint8, offset=8).astype(np.int64)


def pca_stand_in(images: np.ndarray, k: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """PCA-k codes (N, k) and reconstructions (N, 1, 28, 28) uint8 of ``images``."""
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
    mean = x.mean(0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    codes = (x - mean) @ vt[:k].T
    recon = np.clip(codes @ vt[:k] + mean, 0, 1)
    return codes.astype(np.float32), (recon * 255 + 0.5).astype(np.uint8).reshape(images.shape)


def make_report(folder: Path, images, labels, codes, recon) -> tuple[Path, float]:
    from aelab.config import RunConfig
    from aelab.evaluation.code_map import fit_projection
    from aelab.report import render_report
    from aelab.report.interactive import CodeMapData, write_code_map
    from aelab.rundir import merge_metrics
    from aelab.viz.interactive import SpriteLayout, sprite_sheet

    folder.mkdir(parents=True)
    RunConfig(name=f"bench-{len(images)}").save(folder / "config.toml")
    merge_metrics(folder, "run", {"name": f"bench-{len(images)}", "latent_dim": 32})
    rows = ["epoch,train_loss,val_loss"] + [
        f"{e},{0.3 / e:.5f},{0.31 / e:.5f}" for e in range(1, 51)
    ]
    (folder / "history.csv").write_text("\n".join(rows) + "\n")
    start = time.perf_counter()
    layout = SpriteLayout.for_images(len(images), 28, 28)
    error = ((recon.astype(np.float32) - images) / 255.0) ** 2
    data = CodeMapData(
        points=fit_projection(codes, "pca").points,
        codes=codes,
        error=error.reshape(len(images), -1).mean(1),
        labels=labels,
        activity=np.abs(codes).mean(1),
        active=(np.abs(codes) > 1e-6).sum(1),
        projection="PCA",
        image_shape=(1, 28, 28),
        class_names=CLASSES,
        sprites={
            "originals": sprite_sheet(images, layout),
            "reconstructions": sprite_sheet(recon, layout),
        },
    )
    write_code_map(folder, data)
    report = render_report(folder)
    return report, time.perf_counter() - start


def load_times(report: Path, loads: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    out: dict[str, list[float]] = {"load_event_s": [], "map_drawn_s": []}
    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        for _ in range(loads):
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("request", lambda r: requests.append(r.url[:40]))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(report.as_uri(), wait_until="load", timeout=60000)
            page.wait_for_selector("#code-map canvas", timeout=60000)
            drawn = page.evaluate("performance.now()") / 1000
            nav = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd") / 1000
            out["load_event_s"].append(nav)
            out["map_drawn_s"].append(drawn)
            page.close()
        browser.close()
    return {
        **{k: statistics.median(v) for k, v in out.items()},
        "loads": loads,
        "requests": sorted({u for u in requests if not u.startswith(("file:", "data:"))}),
        "console_errors": errors,
    }


def decode_latency(images: np.ndarray, labels: np.ndarray, n: int) -> dict[str, Any]:
    import torch
    from fastapi.testclient import TestClient

    from aelab.api import build_model
    from aelab.evaluation.code_map import build_code_map, fit_projection
    from aelab.presets import load_preset
    from aelab.reuse.inference import TrainedModel
    from aelab.web.explore import ExploredRun, _principal, create_explore_app

    torch.manual_seed(0)
    config = load_preset("r1-fashion-sparse")
    model = build_model(config, input_shape=(1, 28, 28)).eval()
    trained = TrainedModel(model, config)
    codes = trained.encode(images)
    data = build_code_map(model, images, labels, codes, class_names=CLASSES)
    fitted = fit_projection(codes, "pca")
    mean, directions, spread = _principal(codes.astype(np.float64), 8)
    run = ExploredRun(
        "r1-untrained", Path("."), trained, None, data, fitted, images, mean, directions, spread
    )
    rng = np.random.default_rng(0)
    lo, hi = data.points.min(0), data.points.max(0)
    clicks = rng.uniform(lo, hi, size=(n + 20, 2))
    http: list[float] = []
    with TestClient(create_explore_app([run])) as client:
        for i, (x, y) in enumerate(clicks):
            t = time.perf_counter()
            r = client.post("/api/point", json={"run": 0, "x": float(x), "y": float(y)})
            if i >= 20:
                http.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text
    bare: list[float] = []
    z = codes[:1]
    for i in range(n + 20):
        t = time.perf_counter()
        trained.decode(z)
        if i >= 20:
            bare.append(time.perf_counter() - t)

    def stats(v: list[float]) -> dict[str, float]:
        return {
            "median_ms": 1000 * float(np.median(v)),
            "p99_ms": 1000 * float(np.quantile(v, 0.99)),
        }

    return {
        "model": "r1-fashion-sparse preset, untrained (dense 784-32-784, 50,992 parameters)",
        "parameters": sum(p.numel() for p in model.parameters()),
        "requests": n,
        "http_point_decode": stats(http),
        "model_decode_only": stats(bare),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder of Fashion-MNIST idx files")
    parser.add_argument("--points", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--loads", type=int, default=3, help="page loads per size (median)")
    parser.add_argument("--decodes", type=int, default=300, help="timed decode requests")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks/results")
    args = parser.parse_args(argv)
    images, labels = read_idx(args.data)
    results: dict[str, Any] = {
        "machine": f"{platform.system()} {platform.machine()}, {__import__('os').cpu_count()} CPUs",
        "python": sys.version.split()[0],
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "budget": {"page_mb": BUDGET_MB, "load_event_s": BUDGET_LOAD_S},
        "reports": [],
    }
    with tempfile.TemporaryDirectory(prefix="explore-bench-") as tmp:
        for n in args.points:
            x, y = images[:n], labels[:n]
            codes, recon = pca_stand_in(x)
            report, seconds = make_report(Path(tmp) / f"r{n}", x, y, codes, recon)
            folder = report.parent / "figures/code_map"
            entry = {
                "points": n,
                "page_mb": report.stat().st_size / 1e6,
                "sprites_mb": sum(
                    (folder / f"{k}.png").stat().st_size for k in ("originals", "reconstructions")
                )
                / 1e6,
                "points_npz_mb": (folder / "points.npz").stat().st_size / 1e6,
                "write_seconds": seconds,
                **load_times(report, args.loads),
            }
            print(json.dumps(entry), flush=True)
            results["reports"].append(entry)
    results["decode"] = decode_latency(images[:10000], labels[:10000], args.decodes)
    print(json.dumps(results["decode"]), flush=True)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "explore_bench.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        "# Explore benchmark: interactive report size and load time; explorer decode latency",
        "",
        f"Machine: {results['machine']}; Python {results['python']}; {results['date']}. "
        f"Command: `python benchmarks/explore_bench.py`.",
        "",
        "Report: real Fashion-MNIST test images; PCA-32 reconstructions and codes stand in for a "
        "trained model's (see the module docstring). Both thumbnails per point: one sprite sheet "
        "PNG per kind, embedded once as a CSS custom property. Load: headless Chromium "
        f"(system /usr/bin/chromium via Playwright), median of {args.loads} loads.",
        "",
        f"| points | page MB (budget {BUDGET_MB:g}) | sprites MB | points.npz MB | write s | load event s (budget {BUDGET_LOAD_S:g}) | map drawn s | network requests | console errors |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for e in results["reports"]:
        lines.append(
            f"| {e['points']:,} | {e['page_mb']:.2f} | {e['sprites_mb']:.2f} | {e['points_npz_mb']:.2f} | "
            f"{e['write_seconds']:.1f} | {e['load_event_s']:.2f} | {e['map_drawn_s']:.2f} | "
            f"{len(e['requests'])} | {len(e['console_errors'])} |"
        )
    d = results["decode"]
    lines += [
        "",
        f"Explorer decode latency, {d['model']}, {d['requests']} clicks at random map positions "
        "after 20 warm-up requests, in process (FastAPI TestClient), CPU:",
        "",
        "| what | median ms | p99 ms |",
        "|:---|---:|---:|",
        f"| POST /api/point (PCA inverse, decode, PNG, JSON) | {d['http_point_decode']['median_ms']:.2f} | {d['http_point_decode']['p99_ms']:.2f} |",
        f"| model decode only (one code) | {d['model_decode_only']['median_ms']:.3f} | {d['model_decode_only']['p99_ms']:.3f} |",
        "",
    ]
    (args.out_dir / "explore_bench.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
