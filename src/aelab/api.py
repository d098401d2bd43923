"""The Python API's model entry points: ``build_model`` and R5's ``autoencoder``.

``build_model`` accepts a RunConfig, a ModelConfig or a preset name; the input shape comes
from (in order) ``model.input_shape``, the ``input_shape`` argument, or the dataset name
(its registered source in :mod:`aelab.data.sources`, adjusted by ``data.image_size`` /
``data.mode``).
"""

from __future__ import annotations

import dataclasses

from aelab.config import DataConfig, ModelConfig, RunConfig
from aelab.data.sources import SOURCES
from aelab.errors import ConfigError
from aelab.models import Autoencoder, autoencoder, create_model
from aelab.presets import load_preset

# dataset name -> (channels, height, width) of the built-in sources
KNOWN_SHAPES: dict[str, tuple[int, int, int]] = {name: s.shape for name, s in SOURCES.items()}

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


def build_model(
    config: RunConfig | ModelConfig | str, input_shape: tuple[int, int, int] | None = None
) -> Autoencoder:
    """Build the model of ``config`` (a RunConfig, a ModelConfig or a preset name).

    ``input_shape`` (C, H, W) is needed only when the config does not set
    ``model.input_shape`` and its dataset's shape is not known in advance.
    """
    if isinstance(config, str):
        config = load_preset(config)
    model_cfg = config.model if isinstance(config, RunConfig) else config
    if model_cfg.input_shape is None:
        shape = input_shape
        if shape is None and isinstance(config, RunConfig):
            shape = dataset_shape(config.data)
        if shape is None:
            raise ConfigError(
                "model.input_shape is not set and cannot be inferred: pass "
                "input_shape=(channels, height, width) to build_model, or set "
                f"model.input_shape (known datasets: {', '.join(SOURCES)})."
            )
        model_cfg = dataclasses.replace(model_cfg, input_shape=tuple(int(s) for s in shape))
    return create_model(model_cfg)


__all__ = ["KNOWN_SHAPES", "autoencoder", "build_model", "dataset_shape"]
