"""Conv memory layout benchmark: channels-last (what aelab's conv models use) against the
default contiguous (NCHW) layout, per training step on the CPU.

For each conv model (the conv presets and the best-model candidate), one training step is
``model.loss(x).total.backward()`` plus the fused Adam step that aelab's trainer uses, on a
batch of random images in [0, 1] of the preset's batch size. The same model (same weights)
is timed in both layouts, in interleaved rounds; the table gives the median milliseconds per
step and the ratio. Writes benchmarks/results/conv_layout_bench.{json,md}.
Run: ``.venv/bin/python benchmarks/conv_layout_bench.py [--rounds 5] [--steps 5]``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

import aelab
from aelab.presets import load_preset
from reproduce import BEST_CANDIDATES  # benchmarks/ is on sys.path when run as a script
from train_bench import machine

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = {  # name -> (preset, overrides)
    "r3-fashion-conv": ("r3-fashion-conv", []),
    "r4-cnn": ("r4-cnn", []),
    "best-conv-stride-b64": ("r3-fashion-conv", list(BEST_CANDIDATES["conv-stride-b64"])),
}


def step_ms(
    model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, steps: int
) -> float:
    def one() -> None:
        opt.zero_grad(set_to_none=True)
        model.loss(x).total.backward()
        opt.step()

    one()  # warm-up: oneDNN picks and caches its kernels
    start = time.perf_counter()
    for _ in range(steps):
        one()
    return (time.perf_counter() - start) / steps * 1000


def bench(name: str, rounds: int, steps: int) -> dict:
    preset, overrides = MODELS[name]
    cfg = load_preset(preset).override(overrides)
    torch.manual_seed(0)
    nhwc = aelab.build_model(cfg.model, input_shape=(1, 28, 28)).train()
    nchw = copy.deepcopy(nhwc).to(memory_format=torch.contiguous_format)
    assert any(not p.is_contiguous() for p in nhwc.parameters())
    x = torch.rand(cfg.train.batch_size, 1, 28, 28)
    opts = {
        "channels-last": (nhwc, torch.optim.Adam(nhwc.parameters(), fused=True)),
        "contiguous": (nchw, torch.optim.Adam(nchw.parameters(), fused=True)),
    }
    times: dict[str, list[float]] = {k: [] for k in opts}
    for _ in range(rounds):
        for layout, (model, opt) in opts.items():
            times[layout].append(step_ms(model, opt, x, steps))
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "model": name,
        "describe": nhwc.describe(),
        "batch_size": cfg.train.batch_size,
        "ms_per_step": med,
        "all_ms": times,
        "speedup": med["contiguous"] / med["channels-last"],
    }


def markdown(report: dict) -> str:
    lines = [
        "# conv_layout_bench: channels-last vs contiguous conv training steps\n",
        f"Machine: {report['machine']}, {report['threads']} thread(s); "
        f"{report['date']}; load average at the end {report['load']}. Median of "
        f"{report['rounds']} interleaved rounds of {report['steps']} steps each "
        "(forward, loss, backward, fused Adam).\n",
        "| model | batch | contiguous ms/step | channels-last ms/step | speedup |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in report["models"]:
        m = r["ms_per_step"]
        lines.append(
            f"| {r['model']} ({r['describe']}) | {r['batch_size']} | {m['contiguous']:.1f} | "
            f"{m['channels-last']:.1f} | {r['speedup']:.2f}x |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    models = []
    for name in MODELS:
        result = bench(name, args.rounds, args.steps)
        m = result["ms_per_step"]
        print(
            f"{name}: contiguous {m['contiguous']:.1f} ms/step, channels-last "
            f"{m['channels-last']:.1f} ms/step: {result['speedup']:.2f}x"
        )
        models.append(result)
    report = {
        "machine": machine(),
        "threads": args.threads,
        "rounds": args.rounds,
        "steps": args.steps,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load": "/".join(f"{v:.1f}" for v in os.getloadavg()),
        "models": models,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "conv_layout_bench.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "conv_layout_bench.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
