"""Training speed: aelab's trainer vs a plain PyTorch loop, R1 on Fashion-MNIST.

Both train the R1 model (784 -> 32 ReLU with L1 activity 1e-5 -> 784, BCE, Adam 1e-3,
batch 256, Keras init) for the same epochs with the test set as validation each epoch:

- ``aelab``: ``aelab.training.train`` on the R1 preset into a run directory, as
  ``aelab train`` does (config, history and both checkpoint files written every epoch;
  the evaluation/report step that ``aelab train`` runs afterwards is not timed): uint8
  data on the device, batches by index_select, fused Adam, fused BCE-with-logits
  (:mod:`aelab.layers.fused_bce`), loss checked once per 50 steps, validation under
  inference_mode in batches of 1024;
- ``plain``: the strongest fair hand-written loop, what a careful user writes for data
  that fits in memory: the uint8 images as one tensor on the device, a ``randperm`` per
  epoch, each batch by ``index_select`` then ``float() / 255``; ``nn.Sequential`` with a
  sigmoid output and ``nn.BCELoss``, default Adam, ``loss.item()`` per step, validation
  with ``no_grad`` over slices of the uint8 test tensor. aelab is quoted against this one;
- ``reference``: the same loop (same model, optimizer, loss and per-step code) fed the
  textbook way: float tensors in a ``TensorDataset`` and a ``DataLoader(batch_size=256,
  shuffle=True)``, whose per-batch collation alone costs ~0.12 s per epoch. Kept as a
  second row: it is what many scripts do, but not the fair baseline.

Each variant runs in its own child process (so peak memory is its own), with the same
thread count, pinned to the same CPU (``--pin``); ``--repeats`` rounds run the variants
in turn (plain, reference, aelab, plain, ...) so a load change on a shared machine hits
all, and the medians are reported, with the ratio of the medians and the per-round
ratios. Reported: wall and CPU time, images/s,
achieved GFLOP/s of the model's matrix work against the machine's measured matmul peak
(same threads; best of several measurements), peak memory (max RSS; CUDA max allocated
on GPU) and test BCE (per pixel, p clamped to [1e-7, 1 - 1e-7] as Keras does).

``--ablate`` measures what each optimisation gains: in one process, a few epochs of
aelab per variant with one optimisation switched back to the plain choice, interleaved
over rounds, median seconds per epoch (and the data pipeline alone: aelab's Batcher
against the DataLoader over a TensorDataset).

    python benchmarks/train_bench.py                 # 50 epochs, 3 interleaved rounds
    python benchmarks/train_bench.py --epochs 1 --repeats 1   # a quick check
    python benchmarks/train_bench.py --threads 2     # compare thread counts
    python benchmarks/train_bench.py --ablate        # the "what each step gained" table

Writes benchmarks/results/train_bench.json and train_bench.md (``--ablate``: the
``ablation`` section of both, kept across runs).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

RESULTS = Path(__file__).resolve().parent / "results"
D, LATENT, BATCH, L1 = 784, 32, 256, 1e-5
# Matrix FLOPs per image: forward 2 matmuls of 784x32 (2 FLOP per multiply-add); backward
# the decoder's weight and input gradients and the encoder's weight gradient (the input
# needs no gradient), so a training image costs 2.5x a forward pass, not the usual 3x:
# the conservative count.
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


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_aelab(epochs: int, threads: int, device: str, compile_: bool) -> dict:
    from aelab.training import train

    cfg, data = load_data()
    cfg = cfg.override(
        [f"train.epochs={epochs}", f"train.threads={threads}", f"train.device={device}"]
        + (["train.compile=true"] if compile_ else [])
    )
    with tempfile.TemporaryDirectory(prefix="train_bench_") as tmp:
        start, cpu = time.perf_counter(), cpu_seconds()
        result = train(cfg, Path(tmp) / "run", data=data, quiet=True)
        wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu
        written = sorted(p.name for p in (Path(tmp) / "run" / "checkpoints").iterdir())
    dev = next(result.model.parameters()).device
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "epoch_seconds_median": statistics.median(h["seconds"] for h in result.history),
        "train_loop_images_per_s": result.images_per_s,
        "final_train_loss": result.history[-1]["train_loss"],
        "test_bce": test_bce(result.model, data.test.images, dev),
        "n_train": len(data.train),
        "n_val": len(data.val) if data.val is not None else 0,
        "checkpoints_written": written,
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


def in_memory_batches(images_u8: torch.Tensor, shuffle: bool):
    """The careful hand-written pipeline: ``images_u8`` (N, 784) uint8 already on the
    device; a fresh ``randperm`` each call, batches by ``index_select``, ``float() / 255``."""

    def epoch():
        n = len(images_u8)
        if shuffle:
            order = torch.randperm(n, device=images_u8.device)
            for start in range(0, n, BATCH):
                yield (images_u8.index_select(0, order[start : start + BATCH]).float() / 255,)
        else:
            for start in range(0, n, BATCH):
                yield (images_u8[start : start + BATCH].float() / 255,)

    return epoch


def run_reference(epochs: int, threads: int, device: str, pipeline: str = "dataloader") -> dict:
    """The hand-written loop; ``pipeline``: ``dataloader`` (TensorDataset of floats) or
    ``in-memory`` (uint8 tensor on the device, randperm + index_select)."""
    from torch.utils.data import DataLoader, TensorDataset

    torch.set_num_threads(threads)
    dev = bench_device(device)
    _, data = load_data()
    start, cpu = time.perf_counter(), cpu_seconds()
    torch.manual_seed(0)
    if pipeline == "in-memory":
        train_u8 = torch.from_numpy(data.train.images).reshape(-1, D).to(dev)
        test_u8 = torch.from_numpy(data.test.images).reshape(-1, D).to(dev)
        train_epoch, val_epoch = (
            in_memory_batches(train_u8, True),
            in_memory_batches(test_u8, False),
        )
        n_batches, n_test = math.ceil(len(train_u8) / BATCH), len(test_u8)
    else:
        train_x = torch.from_numpy(data.train.images).float().div(255).reshape(-1, D)
        test_x = torch.from_numpy(data.test.images).float().div(255).reshape(-1, D)
        loader = DataLoader(TensorDataset(train_x), batch_size=BATCH, shuffle=True)
        val_loader = DataLoader(TensorDataset(test_x), batch_size=BATCH)
        train_epoch, val_epoch = (lambda: loader), (lambda: val_loader)
        n_batches, n_test = len(loader), len(test_x)
    model = Reference().to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    bce = nn.BCELoss()
    for _epoch in range(epochs):
        model.train()
        running = 0.0
        for (x,) in train_epoch():
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
            for (x,) in val_epoch():
                x = x.to(dev)
                out, z = model(x)
                val += (bce(out, x) + L1 * z.abs().sum(dim=1).mean()).item() * len(x)
    wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu

    def logits(x):
        p = model(x.reshape(len(x), D))[0].clamp(1e-7, 1 - 1e-7)
        return torch.log(p) - torch.log1p(-p)

    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "final_train_loss": running / n_batches,
        "test_bce": test_bce(logits, data.test.images, dev),
        "n_train": len(data.train),
        "n_val": n_test,
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
        for _ in range(9):
            t = time.perf_counter()
            for _ in range(reps):
                a @ b
            if dev.type == "cuda":
                torch.cuda.synchronize()
            best = min(best, (time.perf_counter() - t) / reps)
        return 2 * m * k * n / best / 1e9

    # R1's shapes: the encoder's product (256x784 @ 784x32) and the decoder's (256x32 @
    # 32x784); best of 9 timings each, so the peak is the machine's, not the load's.
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
        out = run_reference(args.epochs, args.threads, args.device, "dataloader")
    elif args.variant == "plain":
        out = run_reference(args.epochs, args.threads, args.device, "in-memory")
    else:
        out = matmul_peak(args.threads, args.device)
    out["peak_memory_mb"] = peak_memory_mb()
    print(json.dumps(out))


def spawn(variant: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--child", variant, "--epochs", str(args.epochs)]
    cmd += ["--threads", str(args.threads), "--device", args.device, "--pin", str(args.pin)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{variant} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def median_run(runs: list[dict]) -> dict:
    """The median of every number over repeats (the first run's other fields)."""
    out = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = statistics.median(r[key] for r in runs)
    out["wall_s_all"] = [r["wall_s"] for r in runs]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds (medians)")
    parser.add_argument("--threads", type=int, default=0, help="0: aelab's automatic choice")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compile", action="store_true", help="also time train.compile=true")
    parser.add_argument("--ablate", action="store_true", help="what each optimisation gains")
    parser.add_argument("--ablate-epochs", type=int, default=3)
    parser.add_argument("--ablate-rounds", type=int, default=5)
    parser.add_argument(
        "--pin", type=int, default=0, help="run every variant on this CPU (-1: no pinning)"
    )
    parser.add_argument("--child", dest="variant", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pin >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.pin})
    if args.threads == 0:
        from aelab.training.device import auto_threads

        args.threads = auto_threads()
    if args.variant:
        child(args)
        return
    if args.ablate:
        save_ablation(ablate(args.ablate_epochs, args.ablate_rounds, args.threads))
        return

    peaks = [spawn("peak", args)]
    pairs: dict[str, list[dict]] = {"plain": [], "reference": [], "aelab": []}
    if args.compile:
        pairs["aelab-compile"] = []
    for i in range(args.repeats):
        for variant in pairs:
            pairs[variant].append(spawn(variant, args))
            print(f"repeat {i + 1}/{args.repeats} {variant}: {pairs[variant][-1]['wall_s']:.2f} s")
    peaks.append(spawn("peak", args))
    peak = {k: max(p[k] for p in peaks) for k in peaks[0] if k != "peak_memory_mb"}
    runs = {name: median_run(rs) for name, rs in pairs.items()}
    for r in runs.values():
        images = args.epochs * r["n_train"]
        r["images_per_s"] = images / r["wall_s"]
        flop = args.epochs * (r["n_train"] * TRAIN_FLOP + r["n_val"] * FORWARD_FLOP)
        r["achieved_gflops"] = flop / r["wall_s"] / 1e9
        r["pct_of_square_peak"] = 100 * r["achieved_gflops"] / peak["square_1024_gflops"]
        r["pct_of_r1_shape_peak"] = 100 * r["achieved_gflops"] / peak["r1_shapes_gflops"]

    def per_round(name: str) -> list[float]:
        return [a["wall_s"] / b["wall_s"] for a, b in zip(pairs["aelab"], pairs[name], strict=True)]

    report = {
        "benchmark": "train_bench: R1 on Fashion-MNIST, aelab vs plain PyTorch",
        "epochs": args.epochs,
        "repeats": args.repeats,
        "threads": args.threads,
        "pinned_cpu": args.pin if args.pin >= 0 else None,
        "device": args.device,
        "machine": machine(),
        "torch_version": torch.__version__,
        "load_average": os.getloadavg(),
        "matmul_peak": peak,
        "runs": runs,
        "aelab_over_plain_time": runs["aelab"]["wall_s"] / runs["plain"]["wall_s"],
        "aelab_over_plain_time_per_round": per_round("plain"),
        "aelab_over_plain_cpu_time": runs["aelab"]["cpu_s"] / runs["plain"]["cpu_s"],
        "aelab_over_reference_time": runs["aelab"]["wall_s"] / runs["reference"]["wall_s"],
        "aelab_over_reference_time_per_round": per_round("reference"),
        "aelab_over_reference_cpu_time": runs["aelab"]["cpu_s"] / runs["reference"]["cpu_s"],
        "targets": {
            "time_ratio_at_most": 0.5,
            "pct_of_matmul_peak_at_least": 40,
            "test_bce_at_most": 0.2856,
        },
    }
    previous = read_previous()
    if "ablation" in previous:
        report["ablation"] = previous["ablation"]
    write_report(report)
    print(markdown(report))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__} ({torch.backends.cpu.get_cpu_capability()})"
    )


def read_previous() -> dict:
    path = RESULTS / "train_bench.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def write_report(report: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "train_bench.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "train_bench.md").write_text(markdown(report))


# --------------------------------------------------------------------------- ablation


def ablation_variants() -> dict:
    """Name -> (what it switches back to the plain choice, config overrides, patch)."""
    import contextlib

    import aelab.models.base as base
    from aelab.training import meter, trainer

    def patched(obj, name, value):
        @contextlib.contextmanager
        def cm():
            old = getattr(obj, name)
            setattr(obj, name, value)
            try:
                yield
            finally:
                setattr(obj, name, old)

        return cm

    def torch_bce(logits, target, loss, reduction):
        per_pixel = base.PIXEL_LOSSES[loss](logits, target).flatten(1)
        return base.PIXEL_REDUCTIONS[reduction](per_pixel).mean()

    def plain_adam(model, config):
        params = [p for p in model.parameters() if p.requires_grad]
        return torch.optim.Adam(params, lr=config.train.lr)  # for-loop Adam (CPU default)

    none = contextlib.nullcontext
    return {
        "aelab (all on)": ("", [], none),
        "torch BCE-with-logits": ("fused BCE", [], patched(base, "reconstruction_loss", torch_bce)),
        "default Adam": ("fused Adam", [], patched(trainer, "build_optimizer", plain_adam)),
        "sync every step": ("loss check per 50 steps", [], patched(meter, "CHECK_EVERY", 1)),
        "eval batch 256": ("eval batch 1024", ["train.eval_batch_size=256"], none),
        "2 threads": ("1 thread", ["train.threads=2"], none),
        "no run directory": ("(checkpoint+history writes)", [], none),
    }


def ablate(epochs: int, rounds: int, threads: int) -> dict:
    """Median seconds per epoch of aelab with each optimisation switched off in turn."""
    from aelab.training import train

    torch.set_num_threads(threads)
    cfg, data = load_data()
    base_overrides = [f"train.epochs={epochs}", f"train.threads={threads}", "train.device=cpu"]
    variants = ablation_variants()
    times: dict[str, list[float]] = {name: [] for name in variants}
    train(cfg.override([*base_overrides[1:], "train.epochs=1"]), None, data=data, quiet=True)
    for r in range(rounds):
        for name, (_, overrides, patch) in variants.items():
            with tempfile.TemporaryDirectory(prefix="train_bench_") as tmp:
                run_dir = None if name == "no run directory" else Path(tmp) / "run"
                with patch():
                    start = time.perf_counter()
                    train(cfg.override(base_overrides + overrides), run_dir, data=data, quiet=True)
                    times[name].append((time.perf_counter() - start) / epochs)
        print(f"ablation round {r + 1}/{rounds} done")
    pipeline = data_pipeline(data, threads, rounds)
    allocator = allocator_ablation(epochs, rounds, threads)
    baseline = statistics.median(times["aelab (all on)"])
    rows = []
    for name, (replaces, _, _) in variants.items():
        med = statistics.median(times[name])
        rows.append(
            {
                "variant": name,
                "instead_of": replaces,
                "s_per_epoch_median": med,
                "s_per_epoch_all": times[name],
                "vs_all_on": med / baseline,
            }
        )
    return {
        "epochs_per_run": epochs,
        "rounds": rounds,
        "threads": threads,
        "load_average": os.getloadavg(),
        "rows": rows,
        "data_pipeline": pipeline,
        "allocator": allocator,
    }


def allocator_ablation(epochs: int, rounds: int, threads: int) -> dict:
    """The glibc tuning is per process: alternate child runs with it on and off; median
    seconds per epoch (training + validation, from history.csv's ``seconds``)."""
    out: dict[str, list[float]] = {"tuned": [], "glibc defaults": []}
    args = argparse.Namespace(epochs=epochs, threads=threads, device="cpu")
    for _ in range(rounds):
        for name, flag in (("tuned", "1"), ("glibc defaults", "0")):
            os.environ["AELAB_MALLOC_TUNING"] = flag
            out[name].append(spawn("aelab", args)["epoch_seconds_median"])
    os.environ.pop("AELAB_MALLOC_TUNING", None)
    return {name: statistics.median(v) for name, v in out.items()}


def data_pipeline(data, threads: int, rounds: int) -> dict:
    """One epoch of batches alone: aelab's Batcher vs DataLoader(TensorDataset(float))."""
    from torch.utils.data import DataLoader, TensorDataset

    from aelab.data.batcher import Batcher

    torch.set_num_threads(threads)
    images = torch.from_numpy(data.train.images.copy())
    batcher = Batcher(images, BATCH, shuffle=True, seed=0)
    loader = DataLoader(TensorDataset(images.float().div(255)), batch_size=BATCH, shuffle=True)
    out: dict[str, list[float]] = {"aelab Batcher (uint8)": [], "DataLoader(TensorDataset)": []}
    for epoch in range(rounds):
        batcher.set_epoch(epoch)
        for name, it in (("aelab Batcher (uint8)", batcher), ("DataLoader(TensorDataset)", loader)):
            start = time.perf_counter()
            for _ in it:
                pass
            out[name].append(time.perf_counter() - start)
    return {name: statistics.median(v) for name, v in out.items()}


def save_ablation(ablation: dict) -> None:
    report = read_previous()
    report["ablation"] = ablation
    if "runs" in report:
        write_report(report)
    else:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "train_bench.json").write_text(json.dumps(report, indent=2) + "\n")
    print("\n".join(ablation_markdown(ablation)))


# --------------------------------------------------------------------------- report


def markdown(r: dict) -> str:
    peak = r["matmul_peak"]
    lines = [
        f"# train_bench: R1 on Fashion-MNIST, {r['epochs']} epochs, {r['threads']} thread(s), "
        f"{r['device']}",
        "",
        f"Machine: {r['machine']}; load average at the end {fmt_load(r['load_average'])} "
        "(shared machine: other jobs ran during the benchmark; with a load above the CPU "
        "count, absolute times are inflated and only the within-round ratios carry over). Matmul peak (fp32, measured, "
        f"best of several): {peak['square_1024_gflops']:.1f} GFLOP/s at 1024^3, "
        f"{peak['r1_shapes_gflops']:.1f} GFLOP/s at R1's shapes (256x784 @ 784x32 and "
        "256x32 @ 32x784).",
        "",
        (
            f"Reduced to {r['epochs']} epochs (the full benchmark runs 50) because the machine "
            "was loaded; test BCE is therefore above the 50-epoch target. "
            if r["epochs"] < 50
            else ""
        )
        + f"Medians of {r['repeats']} interleaved rounds (plain, reference, aelab, plain, ...), "
        "each run in its own process"
        + (f", all pinned to CPU {r['pinned_cpu']}." if r.get("pinned_cpu") is not None else "."),
        "",
        "| variant | wall s | CPU s | images/s | GFLOP/s | % peak (1024^3) "
        "| % peak (R1 shapes) | peak MB | test BCE |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in r["runs"].items():
        lines.append(
            f"| {name} | {run['wall_s']:.2f} | {run['cpu_s']:.2f} | {run['images_per_s']:,.0f} | "
            f"{run['achieved_gflops']:.2f} | {run['pct_of_square_peak']:.1f} | "
            f"{run['pct_of_r1_shape_peak']:.1f} | {run['peak_memory_mb']:.0f} | "
            f"{run['test_bce']:.4f} |"
        )
    t = r["targets"]
    fair = ", ".join(f"{x:.3f}" for x in r["aelab_over_plain_time_per_round"])
    pairs = ", ".join(f"{x:.3f}" for x in r["aelab_over_reference_time_per_round"])
    walls = {n: ", ".join(f"{w:.1f}" for w in run["wall_s_all"]) for n, run in r["runs"].items()}
    lines += [
        "",
        f"aelab / plain (in-memory uint8, randperm + index_select; the fair baseline) wall "
        f"time: **{r['aelab_over_plain_time']:.3f}** (per round: {fair}; CPU time ratio "
        f"{r['aelab_over_plain_cpu_time']:.3f}).",
        "",
        f"aelab / reference (the same loop over a DataLoader of a TensorDataset) wall time: "
        f"{r['aelab_over_reference_time']:.3f} (target <= {t['time_ratio_at_most']}; per "
        f"round: {pairs}; CPU time ratio {r['aelab_over_reference_cpu_time']:.3f}). The "
        "gap between the two baselines is the DataLoader's per-batch collation, not aelab. "
        f"Test BCE target <= {t['test_bce_at_most']} "
        f"(Keras reference 0.2846 after 50 epochs); matmul target >= "
        f"{t['pct_of_matmul_peak_at_least']}% of peak.",
        "",
        "All wall times (s): " + "; ".join(f"{n}: {w}" for n, w in walls.items()) + ".",
        "",
        "Wall time covers training plus per-epoch validation on the 10,000 test images "
        "(every variant), after the data is in memory; for aelab also writing the run "
        "directory every epoch (history.csv, last.safetensors, last.state.pt, atomically). "
        "GFLOP/s counts only the model's matrix products (forward 2 x 784x32 per image, "
        "backward 3 more per training image; forward only for validation): counting the "
        "usual 3x forward for training would give 20% more.",
        "",
    ]
    if "ablation" in r:
        lines += ablation_markdown(r["ablation"])
    return "\n".join(lines)


def ablation_markdown(a: dict) -> list[str]:
    base = next(row for row in a["rows"] if row["variant"] == "aelab (all on)")
    lines = [
        "## What each step gains (ablation)",
        "",
        f"aelab for {a['epochs_per_run']} epochs per variant, one optimisation switched back "
        f"to the plain choice, {a['rounds']} interleaved rounds, {a['threads']} thread(s), "
        f"median wall seconds per epoch (training + validation + run directory writes); "
        f"load average {fmt_load(a['load_average'])}.",
        "",
        "| variant | instead of | s/epoch | vs all on | plain choice costs |",
        "|---|---|---:|---:|---:|",
    ]
    for row in a["rows"]:
        gain = row["s_per_epoch_median"] - base["s_per_epoch_median"]
        lines.append(
            f"| {row['variant']} | {row['instead_of'] or '-'} | "
            f"{row['s_per_epoch_median']:.3f} | {row['vs_all_on']:.2f}x | "
            + (f"{1000 * gain:+.0f} ms/epoch |" if row is not base else "- |")
        )
    pipe = a["data_pipeline"]
    alloc = a.get("allocator")
    if alloc:
        lines += [
            "",
            "CPU allocator (per process, so measured by alternating child runs; median s per "
            f"epoch, training + validation): tuned {alloc['tuned']:.3f}, glibc defaults "
            f"{alloc['glibc defaults']:.3f} (the tuning saves "
            f"{1000 * (alloc['glibc defaults'] - alloc['tuned']):+.0f} ms/epoch).",
        ]
    lines += [
        "",
        "Data pipeline alone, one epoch of 235 batches of 256 (median s): "
        + ", ".join(f"{k} {v:.3f}" for k, v in pipe.items())
        + ".",
        "",
    ]
    return lines


def fmt_load(load) -> str:
    return "/".join(f"{x:.1f}" for x in load)


if __name__ == "__main__":
    main()
