"""AutoencoderTransformer takes the images ``aelab.load_dataset`` returns, (N, C, H, W) uint8,
and (N, H, W), as AutoencoderOutlierDetector does: laid out as those images."""

from __future__ import annotations

import numpy as np
import pytest

from aelab.errors import ConfigError
from aelab.sklearn import AutoencoderTransformer
from fakedata import tiny_splits


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return tiny_splits(n=64, shape=(1, 8, 8), classes=4).train.images  # (N, 1, 8, 8) uint8


def test_transformer_fits_and_transforms_nchw_images(images):
    assert images.ndim == 4 and images.dtype == np.uint8
    est = AutoencoderTransformer(family="conv", latent_dim=4, epochs=1, random_state=0)
    codes = est.fit(images).transform(images)
    assert codes.shape == (len(images), 4) and np.isfinite(codes).all()
    assert est.input_shape_ == (1, 8, 8) and est.n_features_in_ == 64
    rows = images.reshape(len(images), -1)
    np.testing.assert_allclose(est.transform(rows), codes)  # the same data as rows
    assert est.score_samples(images).shape == (len(images),)


def test_transformer_takes_nhw_images_and_checks_their_shape(images):
    est = AutoencoderTransformer(latent_dim=3, epochs=1, random_state=0).fit(images[:, 0])
    assert est.input_shape_ == (1, 8, 8)
    assert est.transform(images[:, 0]).shape == (len(images), 3)
    with pytest.raises(ValueError, match=r"images of shape \(1, 4, 16\).*fitted on \(1, 8, 8\)"):
        est.transform(images.reshape(len(images), 1, 4, 16))
    with pytest.raises(ConfigError, match="does not match the images"):
        AutoencoderTransformer(image_shape=(1, 4, 16), epochs=1).fit(images)
