"""Evaluation of streamed data (torch Datasets and DataLoaders): the same numbers as the
same images in memory, a stated PCA sample, and a clear refusal before training when a
source has no test split."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import aelab
import fakedata
from aelab.config import RunConfig, TrainConfig
from aelab.data import as_splits
from aelab.data.stream import StreamSplits
from aelab.errors import ConfigError, DataError
from aelab.evaluation import streamed
from aelab.evaluation.evaluate import evaluate_run
from aelab.models.dense import DenseConfig
from aelab.training import train

SHAPE = (1, 8, 8)


@pytest.fixture(scope="module")
def data():
    return fakedata.tiny_splits(160, SHAPE, classes=4, n_test=60, name="bars")


def config(family_config=None) -> RunConfig:
    return RunConfig(
        name="streamed",
        model=family_config or DenseConfig(latent_dim=4, hidden=(16,), input_shape=SHAPE),
        train=TrainConfig(
            epochs=2, batch_size=32, lr=3e-3, device="cpu", threads=1, eval_batch_size=16
        ),
    )


def as_stream(data) -> StreamSplits:
    tensors = [torch.from_numpy(data.train.images), torch.from_numpy(data.train.labels)]
    test = TensorDataset(torch.from_numpy(data.test.images), torch.from_numpy(data.test.labels))
    return as_splits(TensorDataset(*tensors), val_size=0, test=test, name=data.name)


def sections(run_dir) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.mark.parametrize("family", ["dense", "vae"])
def test_streamed_test_split_gives_the_in_memory_numbers(data, tmp_path, family) -> None:
    """One pass over batches of 16 (eval_batch_size) = the in-memory evaluation, number for
    number; the PCA baseline is fitted on the same 160 images (in another order)."""
    model = None if family == "dense" else RunConfig.from_dict(
        {"model": {"family": "vae", "latent_dim": 4, "hidden": [16], "input_shape": SHAPE}}
    ).model  # fmt: skip
    run = tmp_path / "run"
    train(config(model), run, data=data, quiet=True)
    evaluate_run(run, data=data, quiet=True, figures="none")
    memory = sections(run)
    out = evaluate_run(run, data=as_stream(data), quiet=True)
    stream = sections(run)
    for name in ("reconstruction", "code"):
        for key, value in memory[name].items():
            assert stream[name][key] == pytest.approx(value, rel=1e-5, abs=1e-7), (name, key)
    assert stream["reconstruction"]["n_images"] == len(data.test) == 60
    assert memory["pca"]["fit_images"] == stream["pca"]["fit_images"] == 160
    assert stream["pca"]["mse"] == pytest.approx(memory["pca"]["mse"], rel=1e-4)
    assert stream["pca"]["ssim"] == pytest.approx(memory["pca"]["ssim"], rel=1e-4)
    stems = {p.rsplit("/", 1)[-1] for p in out["figures"]}
    assert {"reconstructions.png", "code_map.png", "code_activity.png"} <= stems
    assert (run / "report.html").is_file()
    assert (run / "figures" / "code_map").is_dir()
    if family == "vae":
        assert stream["code"]["kl_per_dim"] == pytest.approx(memory["code"]["kl_per_dim"])


def test_pca_and_figures_use_a_stated_sample(data, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(streamed, "PCA_FIT_SAMPLES", 50)
    monkeypatch.setattr(streamed, "FIGURE_SAMPLES", 25)
    run = tmp_path / "run"
    train(config(), run, data=data, quiet=True)
    result = streamed.evaluate_stream(aelab.load(run).model, as_stream(data), batch_size=16, seed=0)
    assert result.sections["pca"]["fit_images"] == 50
    assert result.n_images == 60 and len(result.codes) == 60  # every test sample scored
    assert len(result.images) == 25 and len(result.labels) == 25
    np.testing.assert_array_equal(result.labels, data.test.labels[:25])
    np.testing.assert_allclose(result.images, data.test.images[:25] / 255.0, atol=1e-7)
    evaluate_run(run, data=as_stream(data), quiet=True, figures="basic")
    assert sections(run)["pca"]["fit_images"] == 50
    from aelab.evaluation.evaluate import FigureInputs

    inputs = FigureInputs(
        model=aelab.load(run).model, config=config(), run_name="r", dataset="bars",
        images=result.images, labels=result.labels, codes=result.codes[:25], n_test=60,
    )  # fmt: skip
    assert inputs.sampled("test codes, PCA").endswith("test codes, PCA (first 25 of 60)")
    assert inputs.title("x") == inputs.sampled("x").removesuffix(" (first 25 of 60)")


def test_api_trains_and_evaluates_a_torch_dataset(data, tmp_path) -> None:
    """aelab.train(data=Dataset): 10% held out by index as the test split, evaluated."""
    images = torch.from_numpy(np.concatenate([data.train.images, data.test.images]))
    run = aelab.train(config(), data=TensorDataset(images), out=tmp_path / "run", progress=False)
    rec = run.metrics["reconstruction"]
    assert rec["n_images"] == 22  # round(220 * 0.1)
    assert 0 < rec["mse"] < 0.5 and run.metrics["pca"]["fit_images"] == 198 - 20
    assert (tmp_path / "run" / "report.html").is_file()


def test_a_loader_needs_test_data_and_says_so_before_training(data, tmp_path) -> None:
    loader = DataLoader(TensorDataset(torch.from_numpy(data.train.images)), batch_size=32)
    with pytest.raises(ConfigError, match="pass test_data="):
        aelab.train(config(), data=loader, out=tmp_path / "refused", progress=False)
    assert not (tmp_path / "refused").exists()  # refused before anything was written
    test = DataLoader(TensorDataset(torch.from_numpy(data.test.images)), batch_size=7)
    run = aelab.train(config(), data=loader, test_data=test, out=tmp_path / "run", progress=False)
    assert run.metrics["reconstruction"]["n_images"] == 60
    assert run.metrics["pca"]["fit_images"] == 160
    trained_only = aelab.train(
        config(), data=loader, evaluate=False, out=tmp_path / "noeval", progress=False
    )
    assert "reconstruction" not in trained_only.metrics


def test_test_data_of_another_shape_is_refused(data) -> None:
    train_set = TensorDataset(torch.from_numpy(data.train.images))
    other = TensorDataset(torch.zeros(5, 1, 4, 4))
    with pytest.raises(DataError, match=r"test=\): samples have shape \[1, 4, 4\]"):
        as_splits(train_set, test=other)
    with pytest.raises(DataError, match="test= for arrays takes arrays"):
        as_splits(data.train.images, test=other)
    held = as_splits(data.train.images, test=(data.test.images, data.test.labels), val_size=0)
    assert len(held.train) == 160 and len(held.test) == 60


def test_labels_that_are_not_class_indices_are_left_out_of_the_figures(data) -> None:
    """Items (x, name) or (x, one-hot): evaluated all the same, the figures uncoloured."""
    names = [f"item {i}" for i in range(len(data.test))]

    class Named(torch.utils.data.Dataset):
        def __len__(self):
            return len(data.test)

        def __getitem__(self, i):
            return torch.from_numpy(data.test.images[i]), names[i]

    onehot = torch.nn.functional.one_hot(torch.from_numpy(data.test.labels), 4)
    for test in (Named(), TensorDataset(torch.from_numpy(data.test.images), onehot)):
        splits = as_splits(TensorDataset(torch.from_numpy(data.train.images)), test=test)
        model = train(config(), None, data=data, quiet=True).model.eval()
        result = streamed.evaluate_stream(model, splits, batch_size=16)
        assert result.labels is None and result.n_images == 60
