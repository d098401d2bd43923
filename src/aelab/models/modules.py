"""Your own ``nn.Module`` pair as an aelab model: ``Autoencoder.from_modules(encoder, decoder)``.

The wrapped pair becomes the registered family ``modules``, so everything that works on an
aelab model works on it: the sparsity and noise regularisers, the trainer, evaluation and
reports, probes, anomaly scores, ONNX export.

- ``encoder``: images (B, C, H, W) float in [0, 1] -> a code of any shape (B, ...); the
  code is flattened to (B, latent_dim) for the regularisers and reshaped back for the
  decoder, so convolutional codes work too. Start with ``nn.Flatten()`` for an MLP.
- ``decoder``: code -> *logits* (B, C, H, W) or (B, C*H*W); the sigmoid is applied by
  ``reconstruct`` and fused into the BCE loss, so a decoder must not end in a sigmoid.

Saving and loading: the run directory holds the weights and a description of the two
modules (class names and parameter counts), never code. The weights load back only into
the same modules: ``aelab.load(run_dir, model=Autoencoder.from_modules(encoder, decoder,
input_shape=...))``; without ``model=`` loading fails with a message that says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from aelab.errors import ConfigError
from aelab.layers.noise import NoiseConfig
from aelab.layers.sparsity import SparsityConfig
from aelab.models.base import Autoencoder, ModelConfig, check_input_shape
from aelab.models.registry import register_model

FAMILY = "modules"


@dataclass(frozen=True)
class ModulesConfig(ModelConfig):
    """encoder, decoder: what the wrapped modules are ("Sequential, 50,240 parameters"), for
    the record and for the error when the weights are loaded into different modules."""

    family: str = FAMILY
    encoder: str = ""
    decoder: str = ""


def describe_module(module: nn.Module) -> str:
    """``"Sequential, 50,240 parameters"``: the class name and the parameter count."""
    return f"{type(module).__name__}, {sum(p.numel() for p in module.parameters()):,} parameters"


def needs_modules_error(config: ModulesConfig) -> ConfigError:
    return ConfigError(
        f"model family '{FAMILY}' wraps your own nn.Modules ({config.encoder or 'encoder'} / "
        f"{config.decoder or 'decoder'}); a config holds no code, so it cannot rebuild them. "
        "Pass the same modules: aelab.load(run_dir, model=aelab.Autoencoder.from_modules("
        f"encoder, decoder, input_shape={list(config.input_shape or ())}))."
    )


@register_model(FAMILY, ModulesConfig, listed=False)  # a config alone cannot build it
class ModulesAutoencoder(Autoencoder):
    """An encoder and a decoder you built, under the aelab contract (see the module doc)."""

    config: ModulesConfig

    def __init__(
        self,
        config: ModulesConfig,
        encoder: nn.Module | None = None,
        decoder: nn.Module | None = None,
    ) -> None:
        if encoder is None or decoder is None:
            raise needs_modules_error(config)
        super().__init__(config)
        self.encoder = encoder
        self.decoder = decoder
        self.code_shape = probe_code_shape(encoder, self.input_shape)
        check_decoder(decoder, self.code_shape, self.input_shape)
        # No init_weights(): the modules keep the initialisation their author chose.

    def features(self, x: Tensor) -> Tensor:
        return self.encoder(x).flatten(1)

    def decode(self, z: Tensor) -> Tensor:
        logits = self.decoder(z.reshape(len(z), *self.code_shape))
        return logits.reshape(len(z), *self.input_shape)

    def describe_architecture(self) -> str:
        return (
            f"{FAMILY} {type(self.encoder).__name__}->{self.latent_dim}"
            f"->{type(self.decoder).__name__}"
        )


@torch.no_grad()
def dummy_forward(module: nn.Module, shape: tuple[int, ...], what: str, hint: str) -> Any:
    """``module`` on a fixed random batch (2, *shape) in eval mode (its mode is restored);
    a ConfigError naming ``what`` failed, the shape, the cause and ``hint`` otherwise."""
    x = torch.rand(2, *shape, generator=torch.Generator().manual_seed(0))
    was_training = module.training
    module.eval()
    try:
        return module(x)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise ConfigError(
            f"the {what} failed on a dummy batch of shape (2, {', '.join(map(str, shape))}) "
            f"({str(exc).splitlines()[0][:200]}); {hint}"
        ) from None
    finally:
        module.train(was_training)


def probe_code_shape(encoder: nn.Module, input_shape: tuple[int, int, int]) -> tuple[int, ...]:
    """The shape of one sample's code, from a forward pass of a dummy batch (2, C, H, W)."""
    hint = "encoders take images (B, C, H, W): check input_shape, or start an MLP encoder with nn.Flatten()."
    code = dummy_forward(encoder, input_shape, "encoder", hint)
    if not isinstance(code, Tensor) or code.dim() < 2 or len(code) != 2:
        found = tuple(code.shape) if isinstance(code, Tensor) else type(code).__name__
        raise ConfigError(
            f"the encoder must return one tensor (B, ...) per batch; on a batch of 2 it "
            f"returned {found}."
        )
    return tuple(code.shape[1:])


def check_decoder(
    decoder: nn.Module, code_shape: tuple[int, ...], input_shape: tuple[int, int, int]
) -> None:
    """The decoder maps codes back to logits of the input's size (not to probabilities)."""
    if isinstance(decoder, nn.Sequential) and len(decoder) and isinstance(decoder[-1], nn.Sigmoid):
        raise ConfigError(
            "the decoder ends in nn.Sigmoid; aelab decoders return logits (reconstruct() "
            "applies the sigmoid and the BCE loss fuses it): drop the final nn.Sigmoid()."
        )
    hint = "decoders take the encoder's codes."
    out = dummy_forward(decoder, code_shape, "decoder", hint)
    if not isinstance(out, Tensor) or out.numel() != 2 * math.prod(input_shape):
        found = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ConfigError(
            f"the decoder returned {found} for 2 codes; expected logits "
            f"(2, {', '.join(map(str, input_shape))}) or (2, {math.prod(input_shape)})."
        )


def _as_config(cls: type, value: Any, name: str) -> Any:
    if isinstance(value, cls):
        return value
    if isinstance(value, dict):
        return cls(**value)
    if value is None:
        return cls()
    raise TypeError(f"{name}={value!r}: expected a {cls.__name__} or a dict of its fields.")


def from_modules(
    encoder: nn.Module,
    decoder: nn.Module,
    *,
    input_shape: tuple[int, int, int],
    latent_dim: int | None = None,
    loss: str = "bce",
    reduction: str = "mean",
    sparsity: SparsityConfig | dict[str, Any] | None = None,
    noise: NoiseConfig | dict[str, Any] | None = None,
) -> ModulesAutoencoder:
    """Wrap ``encoder`` and ``decoder`` as an aelab model (family ``modules``).

    ``latent_dim`` is inferred from a dummy forward pass (and checked when given);
    ``sparsity`` and ``noise`` take configs or dicts (``{"kind": "topk", "k": 16}``).
    """
    for name, module in (("encoder", encoder), ("decoder", decoder)):
        if not isinstance(module, nn.Module):
            what = (
                f"the class {module.__name__}; pass an instance"
                if isinstance(module, type)
                else f"a {type(module).__name__}; wrap it in an nn.Module"
            )
            raise ConfigError(
                f"from_modules: the {name} is {what} (expected a torch.nn.Module instance, "
                "e.g. nn.Sequential(...))."
            )
    check_input_shape(input_shape)  # before the dummy forward pass that would fail on it
    shape = tuple(int(s) for s in input_shape)
    code_size = math.prod(probe_code_shape(encoder, shape))  # type: ignore[arg-type]
    if latent_dim is not None and latent_dim != code_size:
        raise ConfigError(
            f"latent_dim={latent_dim} does not match the encoder, whose code has {code_size} "
            "values per image; leave latent_dim out to take it from the encoder."
        )
    config = ModulesConfig(
        latent_dim=code_size,
        loss=loss,
        reduction=reduction,
        input_shape=shape,  # type: ignore[arg-type]
        sparsity=_as_config(SparsityConfig, sparsity, "sparsity"),
        noise=_as_config(NoiseConfig, noise, "noise"),
        encoder=describe_module(encoder),
        decoder=describe_module(decoder),
    )
    model = ModulesAutoencoder(config, encoder, decoder)
    if config.sparsity.kind == "kl":
        code = dummy_forward(encoder, shape, "encoder", "")  # it ran above: cannot fail
        if float(code.min()) < 0 or float(code.max()) > 1:
            raise ConfigError(
                "sparsity.kind='kl' needs a code in (0, 1) (its rates are mean activations); "
                "end the encoder with nn.Sigmoid()."
            )
    return model


Autoencoder.from_modules = staticmethod(from_modules)  # see the note in aelab.models.base
