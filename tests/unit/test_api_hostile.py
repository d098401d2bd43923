"""The Python API refuses what it cannot use, before any data is read or any training
starts, saying what aelab expected: a callback that is not a Callback, from_modules given
a function, a negative or fractional input_shape, Dataset items of different sizes or of
an unexpected structure (a triple)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

import aelab
from aelab.data import as_splits
from aelab.errors import ConfigError, DataError
from aelab.models.modules import from_modules
from aelab.training import Callback
from aelab.training.callbacks import check_callbacks

ENC = nn.Sequential(nn.Flatten(), nn.Linear(64, 4))
DEC = nn.Sequential(nn.Linear(4, 64), nn.Unflatten(1, (1, 8, 8)))


class Items(Dataset):
    """32 items of 8x8 images; ``make(i)`` says what item i is."""

    def __init__(self, make, n: int = 32) -> None:
        self.make, self.n = make, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        return self.make(i)


class Reads(Dataset):
    """Counts reads: a refused train call must not have read the data."""

    def __init__(self) -> None:
        self.reads = 0

    def __len__(self) -> int:
        return 32

    def __getitem__(self, i: int):
        self.reads += 1
        return torch.rand(1, 8, 8), 0


class Mine(Callback):
    pass


@pytest.mark.parametrize(
    ("callbacks", "message"),
    [
        ([print], r"callbacks\[0\] is a builtin_function_or_method .*expected an instance of"),
        ([Mine(), Mine], r"callbacks\[1\] is the class Mine; pass an instance: Mine\(\)"),
        ([lambda *a: None], r"callbacks\[0\] is a function"),
        (Mine(), "expected a list of aelab.training.Callback instances"),
    ],
)
def test_a_callback_that_is_not_a_callback_is_refused_before_the_data_is_read(
    callbacks, message, tmp_path
):
    with pytest.raises(ConfigError, match=message):
        check_callbacks(callbacks)
    data = Reads()
    with pytest.raises(ConfigError, match=message):
        aelab.train(
            "r1-fashion-sparse", data=data, callbacks=callbacks, out=tmp_path / "run", epochs=1
        )
    assert data.reads == 0 and not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("encoder", "message"),
    [
        (lambda x: x, "the encoder is a function; wrap it in an nn.Module"),
        (nn.Linear, "the encoder is the class Linear; pass an instance"),
    ],
)
def test_from_modules_takes_module_instances_only(encoder, message):
    with pytest.raises(ConfigError, match=message):
        from_modules(encoder, DEC, input_shape=(1, 8, 8))


@pytest.mark.parametrize("shape", [(-1, 8, 8), (1, 8, 8.5), (1, 8, True), (1, 8), "1x8x8"])
def test_input_shape_is_three_positive_integers(shape):
    with pytest.raises(ConfigError, match=r"input_shape=.* three integers > 0"):
        from_modules(ENC, DEC, input_shape=shape)
    with pytest.raises(ConfigError, match=r"input_shape=.* three integers > 0"):
        aelab.build_model(aelab.ModelConfig(family="dense", latent_dim=4), input_shape=shape)
    assert from_modules(ENC, DEC, input_shape=(1, 8, 8)).config.input_shape == (1, 8, 8)


def test_dataset_items_of_different_sizes_are_refused_before_training():
    data = Items(lambda i: torch.rand(1, 8, 8) if i < 20 else torch.rand(1, 9, 9))
    with pytest.raises(DataError, match=r"item \d+ has shape \[1, 9, 9\], item 0 \[1, 8, 8\]"):
        as_splits(data, val_size=0)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda i: (torch.rand(1, 8, 8), 0, "extra"),
            "items must be x or \\(x, y\\), found a tuple of 3",
        ),
        (lambda i: [], "found a list of 0"),
        (lambda i: {"x": torch.rand(1, 8, 8)}, "found dict"),
    ],
)
def test_items_of_an_unexpected_structure_are_refused(make, message):
    with pytest.raises(DataError, match=message):
        as_splits(Items(make), val_size=0)


def test_an_odd_item_between_the_sampled_ones_fails_as_one_line_in_the_batch():
    from aelab.data.stream import BatchFetch

    data = Items(lambda i: torch.rand(1, 9, 9) if i == 3 else torch.rand(1, 8, 8))
    as_splits(data, val_size=0)  # item 3 is not among the sampled items
    with pytest.raises(DataError, match=r"Items: items 0..7 cannot form one batch") as info:
        BatchFetch(data)[torch.arange(8)]
    assert "\n" not in str(info.value)


def test_x_alone_and_one_tuples_still_work():
    assert as_splits(Items(lambda i: torch.rand(1, 8, 8)), val_size=0).shape == (1, 8, 8)
    assert as_splits(Items(lambda i: (torch.rand(64),)), val_size=0).shape == (1, 1, 64)
