"""aelab.studies.claims: the measurements behind the references' claims."""

from __future__ import annotations

from pathlib import Path

import pytest

from aelab.studies import claims


def test_collapsed_and_best_at_low_l0() -> None:
    assert claims.collapsed({"dead_units": 8}, 8) and not claims.collapsed({"dead_units": 7}, 8)
    assert not claims.collapsed(None, 8)
    assert claims.best_at_low_l0({}) is None
    points = {
        "l1": [(20.0, 0.10, "1e-5"), (4.0, 0.30, "1e-3")],
        "topk": [(8.0, 0.20, "k=8"), (None, 0.01, "lost")],
    }
    # median L0 of 20, 4, 8 is 8: among 4 and 8, topk's 0.20 beats l1's 0.30.
    assert claims.best_at_low_l0(points) == claims.LowL0Winner(8.0, "topk", "k=8", 0.20)


def test_dense_of_size_matches_the_target(base_config) -> None:
    def make(h: int):
        return base_config.with_values({"model.hidden": [h]})

    # dense 784-h-c-h-784: 2 * (784 h + h c) + h + c + h + 784 parameters, linear in h.
    cfg, count = claims.dense_of_size(make, 100_000, (1, 28, 28))
    h, c = cfg.model.hidden[0], cfg.model.latent_dim
    assert count == 2 * (784 * h + h * c) + 2 * h + c + 784
    step = 2 * (784 + c) + 2
    assert abs(count - 100_000) <= step / 2


def test_measurements_on_a_trained_run(three_runs) -> None:
    dense: Path = three_runs[0]
    on_noise = claims.noise_reconstruction(dense, n=8)
    assert on_noise.mse > 0 and on_noise.baseline > 0
    assert on_noise.relative == pytest.approx(on_noise.mse / on_noise.baseline)
    scores = claims.denoising_scores(dense, 0.3)
    assert {"mse", "ssim", "input_mse"} <= set(scores) and scores["input_mse"] > 0
    purity = claims.unit_purity(dense, k=5)
    assert purity is None or 0.0 < purity <= 1.0
