"""Use a trained autoencoder from plain Python: ``aelab.load(run_dir)``.

``TrainedModel`` wraps a model in eval mode and does the chores every user repeats: it accepts
numpy arrays or tensors, uint8 pixels (0-255) or floats in [0, 1], images as (N, C, H, W),
(N, H, W, C), (N, H, W) for one channel or flat (N, C*H*W); it runs in batches without
gradients and returns numpy arrays (``as_tensor=True`` returns tensors).

    model = aelab.load("runs/r1")
    codes = model.encode(test_images_uint8)      # (N, latent_dim) float32
    pixels = model.reconstruct(test_images_uint8) # (N, C, H, W) in [0, 1]
    errors = model.score(test_images_uint8)       # (N,) per-image reconstruction error
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from aelab.config import RunConfig
from aelab.errors import ConfigError, DataError, did_you_mean
from aelab.models.apply import image_batches, map_batches, row_batches
from aelab.models.base import Autoencoder
from aelab.training import load_run

ArrayLike = np.ndarray | Tensor
SCORES = ("mse", "bce")
_RANGE_TOLERANCE = 1e-4


def _to_numpy_or_tensor(x: Any) -> ArrayLike:
    if isinstance(x, (np.ndarray, Tensor)):
        return x
    return np.asarray(x)


def _image_layout(shape: tuple[int, ...], input_shape: tuple[int, int, int]) -> str | None:
    """How an array of ``shape`` holds images of ``input_shape``: "nchw", "nhwc", "nhw",
    "flat", or None when it cannot."""
    c, h, w = input_shape
    if len(shape) == 4 and tuple(shape[1:]) == (c, h, w):
        return "nchw"
    if len(shape) == 4 and tuple(shape[1:]) == (h, w, c):
        return "nhwc"
    if len(shape) == 3 and c == 1 and tuple(shape[1:]) == (h, w):
        return "nhw"
    if len(shape) == 2 and shape[1] == c * h * w:
        return "flat"
    return None


def _shape_error(shape: tuple[int, ...], input_shape: tuple[int, int, int]) -> DataError:
    c, h, w = input_shape
    accepted = [f"(N, {c}, {h}, {w})", f"(N, {h}, {w}, {c})"]
    if c == 1:
        accepted.append(f"(N, {h}, {w})")
    accepted.append(f"(N, {c * h * w})")
    hint = ""
    if len(shape) == 4:
        found_c, found_hw = (
            (shape[1], shape[2:]) if shape[1] in (1, 3, 4) else (shape[3], shape[1:3])
        )
        if tuple(found_hw) != (h, w):
            hint = (
                f" The model takes {h}x{w} images, these are {found_hw[0]}x{found_hw[1]}: "
                "resize them to the training size."
            )
        elif found_c != c:
            hint = f" The model takes {c} channel(s), these have {found_c}: " + (
                "convert to grayscale." if c == 1 else "convert to RGB."
            )
    elif len(shape) == 3 and tuple(shape[1:]) != (h, w):
        hint = f" The model takes {h}x{w} images, these are {shape[1]}x{shape[2]}."
    elif len(shape) == 3 and c != 1:
        hint = f" The model takes {c} channels; pass (N, {c}, {h}, {w})."
    elif len(shape) < 2:
        hint = " Pass a batch: add a leading axis (x[None]) for a single image."
    return DataError(
        f"expected images of shape {' or '.join(accepted)} for a model with input shape "
        f"{(c, h, w)}; found shape {tuple(shape)}.{hint}"
    )


def _is_float(x: ArrayLike) -> bool:
    return x.is_floating_point() if isinstance(x, Tensor) else np.issubdtype(x.dtype, np.floating)


def _all_finite(x: ArrayLike) -> bool:
    return bool(torch.isfinite(x).all()) if isinstance(x, Tensor) else bool(np.isfinite(x).all())


def _check_values(x: ArrayLike, what: str) -> None:
    """Floats must be finite and in [0, 1]; integers must be 8-bit pixel values."""
    if len(x) == 0 or x.shape[-1] == 0:
        return
    lo, hi = (float(x.min()), float(x.max()))
    if _is_float(x):
        if not _all_finite(x):
            raise DataError(
                f"{what} contain NaN or infinity; expected finite floats in [0, 1]. "
                "Clean or impute the data before passing it."
            )
        if lo < -_RANGE_TOLERANCE or hi > 1 + _RANGE_TOLERANCE:
            hint = " divide by 255 or pass uint8 pixels" if hi > 1 else " rescale them"
            raise DataError(
                f"{what} are floats in [{lo:g}, {hi:g}]; expected floats in [0, 1] or uint8 "
                f"pixels in 0-255:{hint}."
            )
        return
    if x.dtype in (torch.bool, np.bool_):
        return
    if lo < 0 or hi > 255:
        raise DataError(
            f"{what} are integers in [{lo:g}, {hi:g}]; expected uint8 pixels in 0-255 or "
            "floats in [0, 1]."
        )


def html_table(title: str, rows: dict[str, str]) -> str:
    """``rows`` as a two-column HTML table under ``title`` (escaped), for ``_repr_html_``."""
    body = "".join(
        f"<tr><th style='text-align:left'>{escape(k)}</th><td>{escape(v)}</td></tr>"
        for k, v in rows.items()
    )
    return f"<b>{escape(title)}</b><table>{body}</table>"


class TrainedModel:
    """A trained autoencoder for inference. ``model`` is the underlying ``Autoencoder``
    (eval mode); ``config`` the run's ``RunConfig`` (None when built from a bare model)."""

    def __init__(
        self,
        model: Autoencoder,
        config: RunConfig | None = None,
        *,
        device: str | torch.device = "cpu",
        batch_size: int = 1024,
        run_dir: str | Path | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.config = config
        self.batch_size = batch_size
        self.run_dir = Path(run_dir) if run_dir is not None else None

    def __repr__(self) -> str:
        what = self.model.describe()
        where = f", run_dir='{self.run_dir}'" if self.run_dir else ""
        return (
            f"TrainedModel({what}, input_shape={self.input_shape}, device='{self.device}'{where})"
        )

    def _repr_html_(self) -> str:
        """A small table for Jupyter: the model, its shapes, parameters and run."""
        rows = {
            "model": self.model.describe(),
            "input shape": " x ".join(map(str, self.input_shape)),
            "code size": str(self.latent_dim),
            "parameters": f"{self.model.num_parameters():,}",
            "device": str(self.device),
        }
        if self.run_dir is not None:
            rows["run"] = str(self.run_dir)
        return html_table("TrainedModel", rows)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.model.input_shape)  # type: ignore[return-value]

    @property
    def latent_dim(self) -> int:
        return int(self.model.latent_dim)

    # -- input handling ----------------------------------------------------------------

    def as_images(self, x: Any) -> ArrayLike:
        """Validate ``x`` (any accepted image layout and value range) and return it as
        (N, C, H, W), a view where the layout allows."""
        x = _to_numpy_or_tensor(x)
        layout = _image_layout(tuple(x.shape), self.input_shape)
        if layout is None:
            raise _shape_error(tuple(x.shape), self.input_shape)
        _check_values(x, "images")
        if layout == "nhwc":
            x = x.permute(0, 3, 1, 2) if isinstance(x, Tensor) else x.transpose(0, 3, 1, 2)
        return x.reshape(len(x), *self.input_shape)

    def as_codes(self, z: Any) -> ArrayLike:
        """Validate codes ``z`` (N, latent_dim)."""
        z = _to_numpy_or_tensor(z)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise DataError(
                f"expected codes of shape (N, {self.latent_dim}); found shape {tuple(z.shape)}."
                + (" Add a leading axis (z[None]) for one code." if z.ndim == 1 else "")
            )
        if _is_float(z) and not _all_finite(z):
            raise DataError("codes contain NaN or infinity; expected finite floats.")
        return z

    # -- the four verbs ------------------------------------------------------------------

    def _map(
        self, fn: Callable[[Tensor], Tensor], x: ArrayLike, as_tensor: bool, *, images: bool = True
    ) -> np.ndarray | Tensor:
        """``fn`` over ``x`` in batches (images scaled to [0, 1], or codes) as float32."""
        if len(x) == 0:
            raise DataError("no inputs: expected at least one image or code, found an empty array.")
        if images:
            # values within the tolerance of _check_values are clamped into [0, 1]
            batches = image_batches(x, self.batch_size, self.device)
            out = map_batches(lambda b: fn(b.clamp(0.0, 1.0)).float(), batches)
        else:
            out = map_batches(lambda b: fn(b).float(), row_batches(x, self.batch_size, self.device))
        return out if as_tensor else out.cpu().numpy()

    def encode(self, x: Any, *, as_tensor: bool = False) -> np.ndarray | Tensor:
        """Images -> codes (N, latent_dim) float32 (the VAE's mean code)."""
        return self._map(self.model.encode, self.as_images(x), as_tensor)

    def decode(self, z: Any, *, as_tensor: bool = False) -> np.ndarray | Tensor:
        """Codes (N, latent_dim) -> pixels (N, C, H, W) float32 in [0, 1]."""
        return self._map(self._decode_pixels, self.as_codes(z), as_tensor, images=False)

    def _decode_pixels(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self.model.decode(z))

    def reconstruct(self, x: Any, *, as_tensor: bool = False) -> np.ndarray | Tensor:
        """Images -> reconstructions (N, C, H, W) float32 in [0, 1]."""
        return self._map(self.model.reconstruct, self.as_images(x), as_tensor)

    def score(self, x: Any, *, metric: str = "mse", as_tensor: bool = False) -> np.ndarray | Tensor:
        """Per-image reconstruction error (N,): mean squared error over pixels (``mse``) or
        mean binary cross-entropy (``bce``). Higher means worse reconstructed (more unusual)."""
        if metric not in SCORES:
            raise ConfigError(
                f"score metric {metric!r} is unknown; expected one of {', '.join(SCORES)}."
                + did_you_mean(metric, SCORES)
            )

        def error(batch: Tensor) -> Tensor:
            logits = self.model(batch)
            if metric == "bce":
                per_pixel = F.binary_cross_entropy_with_logits(logits, batch, reduction="none")
            else:
                per_pixel = (torch.sigmoid(logits) - batch).square()
            return per_pixel.flatten(1).mean(1)

        return self._map(error, self.as_images(x), as_tensor)

    # -- generate and export -------------------------------------------------------------

    def sample(
        self, n: int, *, seed: int | None = None, as_tensor: bool = False
    ) -> np.ndarray | Tensor:
        """``n`` new images (n, C, H, W) float32 in [0, 1] decoded from the prior (generative
        families, the VAE); ``seed`` makes them repeatable."""
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        with torch.no_grad():
            out = self.model.sample(n, generator=generator).float()
        return out if as_tensor else out.cpu().numpy()

    def export(
        self, path: str | Path, *, format: str = "onnx", part: str = "full", detector: Any = None
    ) -> Path:
        """Write ``part`` ("encoder" | "decoder" | "full" | "scorer") to ``path`` as ONNX or
        TorchScript (``format``); the scorer needs the run's calibrated ``detector``
        (``aelab.load(run_dir).export(..., part="scorer")`` reads it from the run)."""
        from aelab.reuse.export import export

        return export(self.model, path, format=format, part=part, detector=detector)


def load(
    run_dir: str | Path,
    *,
    checkpoint: str = "best",
    device: str = "cpu",
    batch_size: int = 1024,
    model: Autoencoder | None = None,
    cls: type[TrainedModel] | None = None,
) -> TrainedModel:
    """Load the ``checkpoint`` ("best" falls back to "last") of the run in ``run_dir``.

    ``model``: load the weights into this model (required for a run of your own modules,
    ``Autoencoder.from_modules``: pass one built from the same modules). ``cls``: the
    :class:`TrainedModel` subclass to return (``aelab.load`` returns ``aelab.api``'s)."""
    model, config = load_run(run_dir, checkpoint=checkpoint, device=device, model=model)
    cls = cls or TrainedModel
    return cls(model, config, device=device, batch_size=batch_size, run_dir=run_dir)
