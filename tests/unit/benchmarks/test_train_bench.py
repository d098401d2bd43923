"""benchmarks/train_bench.py's plain baseline: the choices the ablation switches, the two
loss forms it compares (same value), and the explanation its table prints."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))

import train_bench  # noqa: E402


def test_choices_round_trip_and_unknown_choices_are_refused() -> None:
    old = train_bench.format_choices(train_bench.OLD_BASELINE)
    assert train_bench.parse_choices(old) == train_bench.OLD_BASELINE
    assert train_bench.parse_choices("") == train_bench.PLAIN
    assert train_bench.format_choices(train_bench.PLAIN) == ""
    with pytest.raises(SystemExit, match="loss=softmax"):
        train_bench.parse_choices("loss=softmax")
    with pytest.raises(SystemExit, match="colour=red"):
        train_bench.parse_choices("colour=red")


def test_the_fastest_loop_changes_only_choices_not_the_model() -> None:
    """Sigmoid + BCELoss and a Linear output + BCEWithLogits are one model with one loss:
    same initial weights under one seed, same loss value."""
    torch.manual_seed(0)
    enc_a, dec_a = train_bench.plain_model(logits=True)
    torch.manual_seed(0)
    enc_b, dec_b = train_bench.plain_model(logits=False)
    assert isinstance(dec_b[-1], nn.Sigmoid) and isinstance(dec_a[-1], nn.Linear)
    x = torch.rand(8, train_bench.D)
    z_a, z_b = enc_a(x), enc_b(x)
    torch.testing.assert_close(z_a, z_b)
    logits_loss = nn.BCEWithLogitsLoss()(dec_a(z_a), x)
    prob_loss = nn.BCELoss()(dec_b(z_b), x)
    torch.testing.assert_close(logits_loss, prob_loss, rtol=1e-5, atol=1e-6)


def test_plain_ablation_table_names_the_cost_of_each_old_choice() -> None:
    names = list(train_bench.plain_ablation_variants())
    seconds = {name: 0.5 for name in names}
    seconds["sigmoid + nn.BCELoss"] = 1.0
    seconds["old baseline (all five old choices)"] = 1.1
    rows = [
        {
            "variant": name,
            "s_per_epoch_median": s,
            "cpu_s_per_epoch_median": s,
            "vs_plain": s / 0.5,
        }
        for name, s in seconds.items()
    ]
    section = {
        "epochs_per_run": 3,
        "rounds": 3,
        "threads": 1,
        "pinned_cpu": 0,
        "load_average": (0.1, 0.2, 0.3),
        "rows": rows,
        "loss_alone_ms": {"sigmoid + nn.BCELoss": 4.0, "nn.BCEWithLogitsLoss": 1.0},
    }
    text = "\n".join(train_bench.plain_ablation_markdown(section))
    assert "| sigmoid + nn.BCELoss | 1.000 | 1.000 | 2.00x | +500 ms/epoch |" in text
    assert "took 2.20x the fastest loop's time per epoch (+600 ms)" in text
    assert "alone accounts for +500 ms of it" in text
    assert "(4.0x)" in text
