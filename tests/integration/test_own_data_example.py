"""examples/own_data.py runs as pasted (small size) and finds the spiked signals."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_own_data_example_runs_and_scores_anomalies() -> None:
    env = os.environ | {"PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "own_data.py"), "--n", "800", "--epochs", "6"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "on 800 signals of 128 samples (python:SignalDataset, input_shape [1, 1, 128])" in (
        out.stdout
    )
    # the Dataset's test split (10%, by index) is evaluated batch by batch, PCA included
    test_mse, fit, pca_mse = re.search(
        r"test MSE ([\d.]+) on 80 held-out signals \(PCA with 8 components, fitted on (\d+) "
        r"signals: ([\d.]+)\)",
        out.stdout,
    ).groups()
    assert int(fit) == 648 and 0 < float(test_mse) < 0.05 and float(pca_mse) > 0
    normal, spiked, score = map(
        float,
        re.search(
            r"normal ([\d.]+), spiked ([\d.]+); AUROC \(spiked = anomaly\) ([\d.]+)", out.stdout
        ).groups(),
    )
    assert spiked > normal and score > 0.6
