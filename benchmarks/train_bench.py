"""Training speed: aelab's trainer vs a plain PyTorch loop, R1 on Fashion-MNIST.

Both train the R1 model (784 -> 32 ReLU with L1 activity 1e-5 -> 784, BCE, Adam 1e-3,
batch 256, Keras init) for the same epochs with the test set as validation each epoch:

- ``aelab``: ``aelab.training.train`` on the R1 preset (uint8 data on the device, batches
  by index_select, fused Adam, fused BCE-with-logits, loss checked once per 50 steps,
  validation under inference_mode in batches of 1024);
- ``reference``: what one writes by hand: float tensors in a ``TensorDataset``, a
  ``DataLoader(batch_size=256, shuffle=True)``, ``nn.Sequential`` with a sigmoid output and
  ``nn.BCELoss``, default Adam, ``loss.item()`` per step, validation with ``no_grad``.

Each variant runs in its own child process (so peak memory is its own), one after the
other, with the same thread count. Reported: wall time, ratio, images/s, achieved GFLOP/s
of the model's matrix work against the machine's measured matmul peak (the same threads),
peak memory (max RSS; CUDA max allocated on GPU) and test BCE (per pixel, p clamped to
[1e-7, 1 - 1e-7] as Keras does).

    python benchmarks/train_bench.py                 # 50 epochs (the full benchmark)
    python benchmarks/train_bench.py --epochs 1      # a quick check
    python benchmarks/train_bench.py --threads 2     # compare thread counts

Writes benchmarks/results/train_bench.json and train_bench.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

RESULTS = Path(__file__).resolve().parent / "results"
D, LATENT, BATCH, L1 = 784, 32, 256, 1e-5
# Matrix FLOPs per image: forward 2 matmuls of 784x32 (2 FLOP per multiply-add); backward
# the decoder's weight and input gradients and the encoder's weight gradient.
FORWARD_FLOP = 2 * (2 * D * LATENT)
TRAIN_FLOP = FORWARD_FLOP + 3 * (2 * D * LATENT)


def load_data():
    from aelab.data import load_dataset
    from aelab.presets import load_preset

    cfg = load_preset("r1-fashion-sparse")
    return cfg, load_dataset(cfg.data, seed=cfg.train.seed, progress=False)


def bench_device(spec: str) -> torch.device:
    from aelab.training.device import resolve_device

    return resolve_device(spec)


def test_bce(model_logits, images_u8, device) -> float:
    """Keras-style BCE per pixel on uint8 test images; ``model_logits(x) -> logits``."""
    total, n = 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(images_u8), 1024):
            x = torch.from_numpy(images_u8[start : start + 1024]).to(device).float().div_(255)
            p = torch.sigmoid(model_logits(x)).reshape(x.shape).clamp(1e-7, 1 - 1e-7)
            bce = -(x * p.log() + (1 - x) * (1 - p).log()).flatten(1).mean(1)
            total += float(bce.sum())
            n += len(x)
    return total / n


def run_aelab(epochs: int, threads: int, device: str, compile_: bool) -> dict:
    from aelab.training import train

    cfg, data = load_data()
    cfg = cfg.override(
        [f"train.epochs={epochs}", f"train.threads={threads}", f"train.device={device}"]
        + (["train.compile=true"] if compile_ else [])
    )
    start = time.perf_counter()
    result = train(cfg, None, data=data, quiet=True)
    wall = time.perf_counter() - start
    dev = next(result.model.parameters()).device
    return {
        "wall_s": wall,
        "train_loop_images_per_s": result.images_per_s,
        "final_train_loss": result.history[-1]["train_loss"],
        "test_bce": test_bce(result.model, data.test.images, dev),
        "n_train": len(data.train),
        "n_val": len(data.val) if data.val is not None else 0,
    }


class Reference(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(D, LATENT), nn.ReLU())
        self.decoder = nn.Sequential(nn.Linear(LATENT, D), nn.Sigmoid())
        for layer in (self.encoder[0], self.decoder[0]):  # Keras: Glorot-uniform, zero bias
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x):
        z = self.encoder(x)
        return self.decoder(z), z


def run_reference(epochs: int, threads: int, device: str) -> dict:
    from torch.utils.data import DataLoader, TensorDataset

    torch.set_num_threads(threads)
    dev = bench_device(device)
    _, data = load_data()
    start = time.perf_counter()
    torch.manual_seed(0)
    train_x = torch.from_numpy(data.train.images).float().div(255).reshape(-1, D)
    test_x = torch.from_numpy(data.test.images).float().div(255).reshape(-1, D)
    loader = DataLoader(TensorDataset(train_x), batch_size=BATCH, shuffle=True)
    val_loader = DataLoader(TensorDataset(test_x), batch_size=BATCH)
    model = Reference().to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    bce = nn.BCELoss()
    for _epoch in range(epochs):
        model.train()
        running = 0.0
        for (x,) in loader:
            x = x.to(dev)
            out, z = model(x)
            loss = bce(out, x) + L1 * z.abs().sum(dim=1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            running += loss.item()
        model.eval()
        val = 0.0
        with torch.no_grad():
            for (x,) in val_loader:
                x = x.to(dev)
                out, z = model(x)
                val += (bce(out, x) + L1 * z.abs().sum(dim=1).mean()).item() * len(x)
    wall = time.perf_counter() - start

    def logits(x):
        p = model(x.reshape(len(x), D))[0].clamp(1e-7, 1 - 1e-7)
        return torch.log(p) - torch.log1p(-p)

    return {
        "wall_s": wall,
        "final_train_loss": running / len(loader),
        "test_bce": test_bce(logits, data.test.images, dev),
        "n_train": len(data.train),
        "n_val": len(test_x),
    }


def matmul_peak(threads: int, device: str) -> dict:
    """Measured fp32 matmul throughput: a large square product, and R1's own shapes."""
    torch.set_num_threads(threads)
    dev = bench_device(device)

    def rate(m, k, n, reps):
        a, b = torch.randn(m, k, device=dev), torch.randn(k, n, device=dev)
        for _ in range(3):
            a @ b
        if dev.type == "cuda":
            torch.cuda.synchronize()
        best = math.inf
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(reps):
                a @ b
            if dev.type == "cuda":
                torch.cuda.synchronize()
            best = min(best, (time.perf_counter() - t) / reps)
        return 2 * m * k * n / best / 1e9

    return {
        "square_1024_gflops": rate(1024, 1024, 1024, 5),
        "r1_shapes_gflops": (rate(BATCH, D, LATENT, 200) + rate(BATCH, LATENT, D, 200)) / 2,
    }


def peak_memory_mb() -> float:
    if torch.cuda.is_available() and torch.cuda.max_memory_allocated():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(args: argparse.Namespace) -> None:
    if args.variant == "aelab":
        out = run_aelab(args.epochs, args.threads, args.device, compile_=False)
    elif args.variant == "aelab-compile":
        out = run_aelab(args.epochs, args.threads, args.device, compile_=True)
    elif args.variant == "reference":
        out = run_reference(args.epochs, args.threads, args.device)
    else:
        out = matmul_peak(args.threads, args.device)
    out["peak_memory_mb"] = peak_memory_mb()
    print(json.dumps(out))


def spawn(variant: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--child", variant, "--epochs", str(args.epochs)]
    cmd += ["--threads", str(args.threads), "--device", args.device]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{variant} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--threads", type=int, default=0, help="0: aelab's automatic choice")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compile", action="store_true", help="also time train.compile=true")
    parser.add_argument("--child", dest="variant", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads == 0:
        from aelab.training.device import auto_threads

        args.threads = auto_threads()
    if args.variant:
        child(args)
        return

    peak = spawn("peak", args)
    runs = {"reference": spawn("reference", args), "aelab": spawn("aelab", args)}
    if args.compile:
        runs["aelab-compile"] = spawn("aelab-compile", args)
    for r in runs.values():
        images = args.epochs * r["n_train"]
        r["images_per_s"] = images / r["wall_s"]
        flop = args.epochs * (r["n_train"] * TRAIN_FLOP + r["n_val"] * FORWARD_FLOP)
        r["achieved_gflops"] = flop / r["wall_s"] / 1e9
        r["pct_of_square_peak"] = 100 * r["achieved_gflops"] / peak["square_1024_gflops"]
        r["pct_of_r1_shape_peak"] = 100 * r["achieved_gflops"] / peak["r1_shapes_gflops"]
    ratio = runs["aelab"]["wall_s"] / runs["reference"]["wall_s"]
    report = {
        "benchmark": "train_bench: R1 on Fashion-MNIST, aelab vs plain PyTorch",
        "epochs": args.epochs,
        "threads": args.threads,
        "device": args.device,
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}",
        "matmul_peak": peak,
        "runs": runs,
        "aelab_over_reference_time": ratio,
        "targets": {
            "time_ratio_at_most": 0.5,
            "pct_of_matmul_peak_at_least": 40,
            "test_bce_at_most": 0.2856,
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "train_bench.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "train_bench.md").write_text(markdown(report))
    print(markdown(report))


def markdown(r: dict) -> str:
    lines = [
        f"# train_bench: R1 on Fashion-MNIST, {r['epochs']} epochs, {r['threads']} thread(s), "
        f"{r['device']}",
        "",
        f"Machine: {r['machine']}. Matmul peak (fp32, measured): "
        f"{r['matmul_peak']['square_1024_gflops']:.1f} GFLOP/s at 1024^3, "
        f"{r['matmul_peak']['r1_shapes_gflops']:.1f} GFLOP/s at R1's shapes (256x784x32).",
        "",
        "| variant | wall s | images/s | GFLOP/s | % peak (1024^3) | % peak (R1 shapes) "
        "| peak MB | test BCE |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in r["runs"].items():
        lines.append(
            f"| {name} | {run['wall_s']:.2f} | {run['images_per_s']:,.0f} | "
            f"{run['achieved_gflops']:.2f} | {run['pct_of_square_peak']:.1f} | "
            f"{run['pct_of_r1_shape_peak']:.1f} | {run['peak_memory_mb']:.0f} | "
            f"{run['test_bce']:.4f} |"
        )
    t = r["targets"]
    lines += [
        "",
        f"aelab / reference wall time: **{r['aelab_over_reference_time']:.3f}** "
        f"(target <= {t['time_ratio_at_most']}); test BCE target <= {t['test_bce_at_most']} "
        f"(Keras reference 0.2846 after 50 epochs); matmul target >= "
        f"{t['pct_of_matmul_peak_at_least']}% of peak.",
        "",
        "Wall time covers training plus per-epoch validation on the 10,000 test images "
        "(both variants), after the data is in memory. GFLOP/s counts only the model's "
        "matrix products (forward 2x784x32 x2, backward x3 per training image; forward only "
        "for validation).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
