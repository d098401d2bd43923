"""R5's Keras-style factory: ``autoencoder(input_dims, hidden_layers, latent_dims, lambtha)``.

Returns ``(encoder, decoder, auto)`` torch modules on flat inputs (B, input_dims), so users
of the Keras function switch by changing an import:

- ``encoder(x)`` -> code (B, latent_dims): hidden layers (ReLU), then the latent layer
  (ReLU) carrying an L1 activity penalty of weight ``lambtha``;
- ``decoder(z)`` -> sigmoid outputs (B, input_dims): the hidden layers in reverse (ReLU),
  then a sigmoid layer of ``input_dims``;
- ``auto(x)`` -> sigmoid outputs (B, input_dims); ``auto.loss(x)`` is BCE (Keras' mean
  over features, then batch) plus the L1 term, as a :class:`LossOutput`.

All three share one :class:`DenseAutoencoder` (``auto.model``), so training ``auto``
trains the encoder and decoder too. Keras initialisation (Glorot-uniform, zero biases).
"""

from __future__ import annotations

from torch import Tensor, nn

from aelab.errors import check
from aelab.layers.sparsity import SparsityConfig
from aelab.models.base import LossOutput
from aelab.models.dense import DenseAutoencoder, DenseConfig


class _Flat(nn.Module):
    """Views flat (B, D) inputs as the (B, 1, 1, D) images the wrapped model expects."""

    def __init__(self, model: DenseAutoencoder) -> None:
        super().__init__()
        self.model = model

    def as_images(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], *self.model.input_shape)


class FlatEncoder(_Flat):
    def forward(self, x: Tensor) -> Tensor:
        return self.model.encode(self.as_images(x))


class FlatDecoder(_Flat):
    def forward(self, z: Tensor) -> Tensor:
        return self.model.decode(z).sigmoid().flatten(1)


class FlatAutoencoder(_Flat):
    def forward(self, x: Tensor) -> Tensor:
        return self.model.reconstruct(self.as_images(x)).flatten(1)

    def loss(self, x: Tensor) -> LossOutput:
        return self.model.loss(self.as_images(x))


def autoencoder(
    input_dims: int, hidden_layers: list[int], latent_dims: int, lambtha: float = 0.0
) -> tuple[FlatEncoder, FlatDecoder, FlatAutoencoder]:
    """Build R5's ``(encoder, decoder, auto)`` (see the module docstring)."""
    check(input_dims >= 1, "input_dims", input_dims, "an integer >= 1")
    sparsity = SparsityConfig(kind="l1", weight=lambtha) if lambtha else SparsityConfig()
    config = DenseConfig(
        hidden=tuple(hidden_layers),
        latent_dim=latent_dims,
        activation="relu",
        code_activation="relu",
        loss="bce",
        reduction="mean",
        init="keras",
        input_shape=(1, 1, input_dims),
        sparsity=sparsity,
    )
    model = DenseAutoencoder(config)
    return FlatEncoder(model), FlatDecoder(model), FlatAutoencoder(model)
