"""``examples/notebook.py`` runs top to bottom on tiny generated data: your own modules
trained with ``aelab.train``, the figures, the probes, and an ONNX encoder that gives the
model's codes."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fakedata import write_idx_dataset

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "notebook.py"


def test_the_notebook_example_runs_on_tiny_data(tmp_path, monkeypatch):
    ort = pytest.importorskip("onnxruntime", reason="the ONNX step needs onnxruntime")
    write_idx_dataset(tmp_path / "idx", n_train=96, n_test=32, shape=(8, 8), classes=4)
    out = tmp_path / "nb"
    argv = ["notebook.py", "--dataset", f"idx:{tmp_path / 'idx'}", "--val-size", "16",
            "--epochs", "1", "--out", str(out)]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.chdir(tmp_path)
    cells = runpy.run_path(str(EXAMPLE), run_name="__main__")

    run, data = cells["run"], cells["data"]
    assert run.model.family == "modules" and run.model.latent_dim == 32
    assert run.status == "completed" and list(run.history["epoch"]) == [1]
    assert (out / "run" / "report.html").exists()
    for figure in ("history.png", "reconstructions.png"):
        assert (out / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    probes = cells["probes"]
    assert set(probes) == {"autoencoder", "pca", "pixels"}
    assert 0 <= probes["autoencoder"]["knn_acc"] <= 1

    x = data.test.images[:5].astype(np.float32) / 255
    session = ort.InferenceSession(str(out / "encoder.onnx"), providers=["CPUExecutionProvider"])
    (codes,) = session.run(None, {"input": x})
    with torch.no_grad():
        expected = run.model.eval().encode(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(codes, expected, atol=1e-5)
    assert ((codes != 0).sum(1) == 8).all()  # top-k survived the export
