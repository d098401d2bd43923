"""The one model-to-numpy path: batching never changes a result, uint8 and float inputs agree."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aelab.models import config_class, create_model
from aelab.models.apply import (
    decode_codes,
    encode_distributions,
    encode_images,
    image_batches,
    reconstruct_images,
    row_batches,
)

SHAPE = (1, 8, 8)


def model_of(family: str):
    torch.manual_seed(0)
    cfg = config_class(family)(latent_dim=4, input_shape=SHAPE)
    return create_model(cfg).eval()


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (10, *SHAPE), dtype=np.uint8)


def test_image_batches_scale_integers_and_keep_order(images):
    batches = list(image_batches(images, 4))
    assert [len(b) for b in batches] == [4, 4, 2]
    joined = torch.cat(batches)
    assert joined.dtype == torch.float32
    assert torch.equal(joined, torch.from_numpy(images).float() / 255)
    floats = images.astype(np.float32) / 255
    assert torch.equal(torch.cat(list(image_batches(floats, 3))), joined)  # taken as they are
    as64 = torch.cat(list(row_batches(floats.reshape(10, -1), 4, dtype=torch.float64)))
    assert as64.dtype == torch.float64 and as64.shape == (10, 64)


@pytest.mark.parametrize("family", ["dense", "conv", "vae"])
def test_batched_equals_unbatched_and_uint8_equals_float(family, images):
    model = model_of(family)
    floats = images.astype(np.float32) / 255
    whole = encode_images(model, images, batch_size=len(images))
    assert whole.shape == (10, 4) and whole.dtype == np.float32
    np.testing.assert_allclose(encode_images(model, images, batch_size=3), whole, atol=1e-6)
    np.testing.assert_allclose(encode_images(model, floats, batch_size=3), whole, atol=1e-6)
    with torch.no_grad():
        expected = model.reconstruct(torch.from_numpy(floats)).numpy()
    recon = reconstruct_images(model, images, batch_size=4)
    assert recon.shape == images.shape and recon.dtype == np.float32
    np.testing.assert_allclose(recon, expected, atol=1e-6)
    np.testing.assert_allclose(reconstruct_images(model, floats, batch_size=7), expected, atol=1e-6)


def test_decode_codes_gives_pixels_in_batches():
    model = model_of("dense")
    codes = np.random.default_rng(1).normal(size=(9, 4)).astype(np.float32)
    with torch.no_grad():
        expected = torch.sigmoid(model.decode(torch.from_numpy(codes))).numpy()
    out = decode_codes(model, codes, batch_size=2)
    assert out.shape == (9, *SHAPE) and out.min() >= 0 and out.max() <= 1
    np.testing.assert_allclose(out, expected, atol=1e-6)
    np.testing.assert_allclose(decode_codes(model, codes.astype(np.float64)), expected, atol=1e-6)


def test_encode_distributions_split_mu_and_logvar(images):
    model = model_of("vae")
    mu, logvar = encode_distributions(model, images, batch_size=3)
    with torch.no_grad():
        want_mu, want_logvar = model.encode_distribution(torch.from_numpy(images).float() / 255)
    np.testing.assert_allclose(mu, want_mu.numpy(), atol=1e-6)
    np.testing.assert_allclose(logvar, want_logvar.numpy(), atol=1e-6)
    np.testing.assert_allclose(mu, encode_images(model, images), atol=1e-6)
