"""DataConfig: which images a run uses and how they are split."""

from __future__ import annotations

from dataclasses import dataclass

from aelab.data.sources import SOURCES
from aelab.errors import check, check_choice, check_numbers

MAX_IMAGE_SIDE = 4096  # data.image_size: larger images are not what an autoencoder lab trains


@dataclass(frozen=True)
class DataConfig:
    """Where the images come from and how they are split.

    dataset: ``mnist``, ``fashion-mnist``, ``cifar10``, ``folder:PATH``, ``npy:PATH``, ``npz:PATH``.
    validation: ``split`` holds out ``val_size`` training images (deterministic by seed);
    ``test`` reports the test set as validation data each epoch, as Keras'
    ``validation_data=`` does (parity runs only: no model selection on it); ``none``.
    ``train_limit`` / ``val_limit`` / ``test_limit`` keep the first N images of each split
    (0 = all); ``val_limit`` caps the validation data whichever kind it is, so a quick run
    (``train_limit=1000, val_limit=1000``) does not validate on 10,000 images every epoch.
    """

    dataset: str = "fashion-mnist"
    data_dir: str | None = None
    validation: str = "split"
    val_size: int = 10000
    train_limit: int = 0
    val_limit: int = 0
    test_limit: int = 0
    image_size: tuple[int, int] | None = None
    mode: str | None = None
    mmap: bool = False

    def __post_init__(self) -> None:
        check_numbers(self)
        check(
            bool(self.dataset), "dataset", self.dataset, "a dataset name or folder:/npy:/npz: path"
        )
        check_choice("validation", self.validation, ("split", "test", "none"))
        check(self.val_size >= 0, "val_size", self.val_size, "an integer >= 0")
        check(self.train_limit >= 0, "train_limit", self.train_limit, "an integer >= 0 (0 = all)")
        check(self.val_limit >= 0, "val_limit", self.val_limit, "an integer >= 0 (0 = all)")
        check(self.test_limit >= 0, "test_limit", self.test_limit, "an integer >= 0 (0 = all)")
        # image_size and mode resize and convert the images of a folder: source as they are
        # read; every other source has its own fixed shape, so there they would be ignored
        resized = self.dataset.startswith("folder:")
        for name in ("image_size", "mode"):
            check(
                resized or getattr(self, name) is None,
                name,
                getattr(self, name),
                f"no value for dataset {self.dataset!r} (it applies to folder: datasets only, "
                "whose images it resizes or converts); remove it",
            )
        if self.image_size is not None:
            check(
                len(self.image_size) == 2
                and min(self.image_size) >= 1
                and max(self.image_size) <= MAX_IMAGE_SIDE,
                "image_size",
                self.image_size,
                f"[height, width], each from 1 to {MAX_IMAGE_SIDE:,} pixels",
            )
        if self.mode is not None:
            check_choice("mode", self.mode, ("L", "RGB"))


_MODE_CHANNELS = {"L": 1, "RGB": 3}


def dataset_shape(data: DataConfig) -> tuple[int, int, int] | None:
    """The (C, H, W) images of ``data`` will have, when it can be told without loading."""
    source = SOURCES.get(data.dataset)
    shape = source.shape if source else None
    channels = _MODE_CHANNELS.get(data.mode or "", shape[0] if shape else None)
    size = data.image_size or (shape[1:] if shape else None)
    if channels is None or size is None:
        return None
    return (channels, int(size[0]), int(size[1]))
