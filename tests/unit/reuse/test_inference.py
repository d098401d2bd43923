"""aelab.load / TrainedModel: every accepted input layout gives the same answer; bad inputs
give errors that name the expected shape."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import aelab
from aelab.errors import ConfigError, DataError
from aelab.reuse.inference import TrainedModel


@pytest.fixture(scope="module")
def model(run_dir) -> TrainedModel:
    return aelab.load(run_dir)


@pytest.fixture(scope="module")
def images(tiny_data) -> np.ndarray:
    return tiny_data.test.images[:20]  # (20, 1, 12, 12) uint8


def test_load_gives_a_model_of_the_run(model, run_dir):
    assert model.input_shape == (1, 12, 12)
    assert model.latent_dim == 8
    assert model.config is not None and model.config.model.family == "dense"
    assert "run_dir" in repr(model)
    assert not model.model.training


def test_encode_decode_reconstruct_score_shapes(model, images):
    codes = model.encode(images)
    assert codes.shape == (20, 8) and codes.dtype == np.float32
    pixels = model.decode(codes)
    assert pixels.shape == (20, 1, 12, 12) and pixels.dtype == np.float32
    assert pixels.min() >= 0.0 and pixels.max() <= 1.0
    recon = model.reconstruct(images)
    np.testing.assert_allclose(recon, pixels, atol=1e-6)
    errors = model.score(images)
    assert errors.shape == (20,)
    np.testing.assert_allclose(
        errors, ((recon - images / 255.0) ** 2).reshape(20, -1).mean(1), rtol=1e-4, atol=1e-7
    )
    assert model.score(images, metric="bce").shape == (20,)


def test_every_layout_and_dtype_agrees(model, images):
    reference = model.encode(images)
    floats = images.astype(np.float32) / 255.0
    variants = {
        "nchw float": floats,
        "float64": floats.astype(np.float64),
        "nhwc": images.transpose(0, 2, 3, 1),
        "nhw": images[:, 0],
        "flat": images.reshape(20, -1),
        "tensor uint8": torch.from_numpy(images),
        "tensor float": torch.from_numpy(floats),
        "list": images.tolist(),
    }
    for name, x in variants.items():
        np.testing.assert_allclose(model.encode(x), reference, atol=1e-5, err_msg=name)


def test_as_tensor_and_batching_agree(model, images):
    out = model.encode(images, as_tensor=True)
    assert isinstance(out, torch.Tensor) and out.shape == (20, 8)
    small = TrainedModel(model.model, model.config, batch_size=3)
    np.testing.assert_allclose(small.encode(images), out.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        (np.zeros((2, 1, 28, 28), np.uint8), "12x12"),
        (np.zeros((2, 3, 12, 12), np.uint8), "channel"),
        (np.zeros((2, 12, 12, 3), np.uint8), "channel"),
        (np.zeros((2, 100), np.uint8), "(N, 144)"),
        (np.zeros((1, 12), np.uint8), "(N, 1, 12, 12)"),
        (np.zeros((12, 12), np.uint8)[0], "single image"),
    ],
)
def test_wrong_shapes_name_the_expected_shape(model, bad, fragment):
    with pytest.raises(DataError) as info:
        model.encode(bad)
    message = str(info.value)
    assert "(N, 1, 12, 12)" in message and fragment in message


def test_nan_and_out_of_range_values_are_refused(model, images):
    floats = images.astype(np.float32) / 255.0
    floats[3, 0, 4, 4] = np.nan
    with pytest.raises(DataError, match="NaN"):
        model.reconstruct(floats)
    with pytest.raises(DataError, match="divide by 255"):
        model.encode(images.astype(np.float32))
    with pytest.raises(DataError, match="0-255"):
        model.encode(images.astype(np.int64) * 10)
    with pytest.raises(DataError, match=r"\(N, 8\)"):
        model.decode(np.zeros((2, 5), np.float32))
    with pytest.raises(DataError, match="NaN"):
        model.decode(np.full((2, 8), np.nan, np.float32))
    with pytest.raises(ConfigError, match="mse"):
        model.score(images, metric="mae")
