"""``AutoencoderTransformer``: any aelab autoencoder as a scikit-learn transformer;
``AutoencoderOutlierDetector``: its calibrated one-class anomaly detector as an outlier
detector (``fit``, ``score_samples``, ``decision_function``, ``predict`` giving +1/-1).

    from sklearn.pipeline import make_pipeline
    from aelab.sklearn import AutoencoderTransformer

    pipe = make_pipeline(AutoencoderTransformer(latent_dim=16, epochs=20), LogisticRegression())

``fit`` trains in memory through :func:`aelab.training.train` (nothing is written to disk);
``transform`` gives the codes, ``inverse_transform`` the reconstructions in the original
feature scale, ``score_samples`` the negative per-sample reconstruction error.

Feature scaling. Autoencoders here reconstruct values in [0, 1] (sigmoid outputs, BCE
targets), but a feature matrix is rarely in [0, 1]. Rather than reject such data, ``fit``
stores each feature's training minimum and maximum (``data_min_``, ``data_max_``) and maps
features to [0, 1] (a constant feature maps to 0); later inputs outside the training range
are clipped to it. The trainer's in-memory batches hold 8-bit images, so the training data
is quantised to 256 levels per feature (the precision of the images it was built for);
``transform`` and the scores use the unquantised values.
"""

from __future__ import annotations

import copy
import dataclasses
from numbers import Integral, Real

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    OutlierMixin,
    TransformerMixin,
)
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from aelab.config import (
    ConfigError,
    DataConfig,
    NoiseConfig,
    RunConfig,
    SparsityConfig,
    TrainConfig,
)
from aelab.data.splits import DatasetSplits, Split
from aelab.models.apply import map_batches, row_batches
from aelab.models.registry import config_class
from aelab.training import train

_BATCH = 4096  # inference batch size: codes and reconstructions are computed in chunks


def image_rows(X) -> tuple[object, tuple[int, int, int] | None]:
    """Images (N, C, H, W) / (N, H, W) (what ``aelab.load_dataset`` gives) -> rows
    (N, C*H*W) and their (C, H, W); other input unchanged (validate_data checks it)."""
    shape = getattr(X, "shape", None)
    if shape is None or len(shape) not in (3, 4):
        return X, None
    image = (1, *shape[1:]) if len(shape) == 3 else tuple(shape[1:])
    return np.asarray(X).reshape(shape[0], -1), tuple(int(s) for s in image)


def check_image_shape(image_shape: tuple[int, ...] | None, fitted: tuple[int, ...]) -> None:
    """Images given after fit must have the (C, H, W) the estimator was fitted on."""
    if image_shape is not None and tuple(image_shape) != tuple(fitted):
        raise ValueError(
            f"X holds images of shape {image_shape}; the estimator was fitted on {tuple(fitted)}."
        )


class AutoencoderTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Learn a ``latent_dim``-dimensional code of the features with an aelab autoencoder.

    X is rows (n_samples, n_features) or images (N, C, H, W) / (N, H, W), such as
    ``aelab.load_dataset(...).train.images``; images are taken as rows laid out as those images.

    Parameters
    ----------
    family : {"dense", "vae", "conv", "lstm"} or any registered family, default="dense"
        The model family; conv and lstm need ``image_shape``.
    latent_dim : int, default=32
        Size of the code (the number of output features of ``transform``).
    hidden : tuple of int, default=(256,)
        Encoder hidden layer sizes (the decoder mirrors them), for the families whose
        config has a ``hidden`` list (dense, vae); other families use their own defaults.
    sparsity : {"none", "l1", "kl", "topk"}, default="none"
        Sparsity regulariser on the code (not for the vae).
    sparsity_weight : float, default=1e-5
        Weight of the l1 or kl penalty.
    sparsity_k : int or None, default=None
        Active units kept by ``topk`` (None: a quarter of ``latent_dim``, at least 1).
    noise : {"none", "gaussian", "mask", "saltpepper"}, default="none"
        Input corruption while training (a denoising autoencoder).
    noise_level : float, default=0.1
        Standard deviation (gaussian) or probability (mask, saltpepper) of the corruption.
    epochs, batch_size, lr : training length, batch size and Adam learning rate.
    image_shape : tuple (C, H, W) or None, default=None
        How a row of X is laid out as an image (C*H*W must equal n_features); None means
        the shape of the images X holds, or (1, 1, n_features) for rows (fine for the dense
        and vae families).
    device : str, default="cpu"
        "cpu", "cuda", "cuda:N" or "auto".
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the shuffling and the noise; an int gives identical fits.
    verbose : int, default=0
        >0 prints one line per epoch.

    Attributes
    ----------
    model_ : aelab.models.base.Autoencoder
        The trained model (eval mode, on ``device``).
    config_ : aelab.config.RunConfig
        The configuration it was trained with.
    history_ : aelab.History
        One row per epoch (training losses); ``history_["train_loss"]`` reads a column.
    data_min_, data_max_ : ndarray of shape (n_features_in_,)
        Per-feature training range used to scale features to [0, 1].
    input_shape_ : tuple (C, H, W)
        How a row is laid out as an image.
    n_features_in_ : int
    feature_names_in_ : ndarray of str, when X has string column names.
    """

    _parameter_constraints: dict = {  # noqa: RUF012  (scikit-learn's convention)
        "family": [str],
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "hidden": ["array-like"],
        "sparsity": [StrOptions({"none", "l1", "kl", "topk"})],
        "sparsity_weight": [Interval(Real, 0, None, closed="left")],
        "sparsity_k": [Interval(Integral, 1, None, closed="left"), None],
        "noise": [StrOptions({"none", "gaussian", "mask", "saltpepper"})],
        "noise_level": [Interval(Real, 0, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "image_shape": ["array-like", None],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        family: str = "dense",
        latent_dim: int = 32,
        hidden: tuple[int, ...] = (256,),
        sparsity: str = "none",
        sparsity_weight: float = 1e-5,
        sparsity_k: int | None = None,
        noise: str = "none",
        noise_level: float = 0.1,
        epochs: int = 10,
        batch_size: int = 128,
        lr: float = 1e-3,
        image_shape: tuple[int, int, int] | None = None,
        device: str = "cpu",
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
    ) -> None:
        self.family = family
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.sparsity = sparsity
        self.sparsity_weight = sparsity_weight
        self.sparsity_k = sparsity_k
        self.noise = noise
        self.noise_level = noise_level
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.image_shape = image_shape
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # -- configuration ---------------------------------------------------------------

    def _input_shape(
        self, n_features: int, images: tuple[int, int, int] | None = None
    ) -> tuple[int, int, int]:
        """The (C, H, W) a row is laid out as: ``image_shape``, else the shape of the images
        X held (``images``), else (1, 1, n_features)."""
        if self.image_shape is None:
            return images or (1, 1, n_features)
        shape = tuple(int(s) for s in self.image_shape)
        if images is not None and shape != images:
            raise ConfigError(
                f"image_shape={self.image_shape!r} does not match the images in X, "
                f"{images}; pass image_shape=None or images of that shape."
            )
        if len(shape) != 3 or min(shape) < 1 or int(np.prod(shape)) != n_features:
            raise ConfigError(
                f"image_shape={self.image_shape!r} is invalid: expected (channels, height, "
                f"width) with channels*height*width = n_features = {n_features}."
            )
        return shape  # type: ignore[return-value]

    def _run_config(
        self, n_features: int, seed: int, images: tuple[int, int, int] | None = None
    ) -> RunConfig:
        model_cls = config_class(self.family)
        names = {f.name for f in dataclasses.fields(model_cls)}
        model: dict = {
            "family": self.family,
            "latent_dim": int(self.latent_dim),
            "input_shape": self._input_shape(n_features, images),
        }
        if "hidden" in names and isinstance(model_cls.hidden, tuple):
            model["hidden"] = tuple(int(h) for h in self.hidden)
        if self.sparsity != "none":
            k = self.sparsity_k or max(1, self.latent_dim // 4)
            model["sparsity"] = SparsityConfig(
                kind=self.sparsity,
                weight=float(self.sparsity_weight),
                k=int(k) if self.sparsity == "topk" else 0,
            )
        if self.noise != "none":
            model["noise"] = NoiseConfig(kind=self.noise, level=float(self.noise_level))
        return RunConfig(
            name="sklearn",
            data=DataConfig(dataset="array", validation="none"),
            model=model_cls(**model),
            train=TrainConfig(
                epochs=int(self.epochs),
                batch_size=int(self.batch_size),
                lr=float(self.lr),
                seed=seed,
                device=self.device,
            ),
        )

    # -- scaling ---------------------------------------------------------------------

    def _scale(self, X: np.ndarray) -> np.ndarray:
        """X -> [0, 1] per feature, in X's float dtype."""
        span = self.data_max_ - self.data_min_
        span = np.where(span > 0, span, 1.0)
        return np.clip((X - self.data_min_) / span, 0.0, 1.0).astype(X.dtype, copy=False)

    def _unscale(self, U: np.ndarray) -> np.ndarray:
        span = self.data_max_ - self.data_min_
        return U * np.where(span > 0, span, 0.0) + self.data_min_

    # -- the estimator API -------------------------------------------------------------

    def fit(self, X, y=None):
        """Train on X: rows (n_samples, n_features) or images (N, C, H, W) / (N, H, W), then
        laid out as those images; ``y`` is ignored."""
        self._validate_params()
        X, images = image_rows(X)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=True)

        self.data_min_ = X.min(axis=0).astype(np.float64)
        self.data_max_ = X.max(axis=0).astype(np.float64)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        config = self._run_config(X.shape[1], seed, images)
        self.input_shape_ = tuple(config.model.input_shape)
        pixels = (
            np.rint(self._scale(X) * 255.0).astype(np.uint8).reshape(len(X), *self.input_shape_)
        )
        data = DatasetSplits(name="array", train=Split(pixels), test=Split(pixels[:1]))
        result = train(config, None, data=data, quiet=not self.verbose)
        self.model_ = result.model.eval()
        self.config_ = result.config
        self.history_ = result.history
        return self

    def _map(self, U: np.ndarray, fn) -> np.ndarray:
        """Apply ``fn(model, batch)`` in chunks, computing in U's dtype: float64 inputs run
        through a float64 copy of the model, so a row's result does not depend on which
        other rows share its batch (float32 matrix products differ in the last bit)."""
        model, dtype = self.model_, torch.float32
        if U.dtype == np.float64:
            model, dtype = copy.deepcopy(model).double(), torch.float64
        batches = row_batches(U, _BATCH, next(model.parameters()).device, dtype)
        return map_batches(lambda batch: fn(model, batch), batches).cpu().numpy()

    def _validated(self, X) -> np.ndarray:
        """X (rows, or images of the fitted shape) as validated rows."""
        check_is_fitted(self)
        X, images = image_rows(X)
        check_image_shape(images, self.input_shape_)
        return validate_data(self, X, dtype=[np.float64, np.float32], reset=False)

    def transform(self, X):
        """Codes (n_samples, latent_dim), in the dtype of X (integer pixels give float64)."""
        X = self._validated(X)
        U = self._scale(X).reshape(len(X), *self.input_shape_)
        return self._map(U, lambda model, x: model.encode(x))

    def inverse_transform(self, X):
        """Reconstructions (n_samples, n_features_in_) of codes X (n_samples, latent_dim),
        in the original feature scale."""
        check_is_fitted(self)
        Z = check_array(X, dtype=[np.float64, np.float32])
        if Z.shape[1] != self.latent_dim:
            raise ValueError(
                f"X has {Z.shape[1]} features, but inverse_transform expects codes of "
                f"{self.latent_dim} features (latent_dim)."
            )
        pixels = self._map(Z, lambda model, z: torch.sigmoid(model.decode(z)))
        return self._unscale(pixels.reshape(len(Z), -1)).astype(Z.dtype, copy=False)

    def score_samples(self, X):
        """Negative mean squared reconstruction error per sample (n_samples,), measured on
        the [0, 1]-scaled features (what the model was trained on): higher = more typical."""
        X = self._validated(X)
        U = self._scale(X).reshape(len(X), *self.input_shape_)

        def error(model, x: torch.Tensor) -> torch.Tensor:
            return F.mse_loss(model.reconstruct(x), x, reduction="none").flatten(1).mean(1)

        return -self._map(U, error).astype(np.float64)

    def score(self, X, y=None):
        """Mean of :meth:`score_samples` (higher is better), so GridSearchCV can select."""
        return float(np.mean(self.score_samples(X)))

    @property
    def _n_features_out(self) -> int:
        return int(self.latent_dim)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class AutoencoderOutlierDetector(OutlierMixin, BaseEstimator):
    """One-class outlier detection with an aelab autoencoder, as scikit-learn's outlier
    detectors (IsolationForest, OneClassSVM) do it.

    ``fit`` holds out ``validation_fraction`` of X, trains an :class:`AutoencoderTransformer`
    on the rest and calibrates an :class:`aelab.reuse.detector.Detector` on the held-out rows:
    its threshold is their (1 - ``fpr``) score quantile, so about a fraction ``fpr`` of new
    inliers is flagged. X is flat rows (n_samples, n_features), images (N, C, H, W) or
    (N, H, W) (flattened; their shape is the model's input shape). Features are scaled to
    [0, 1] on the training range, as in :class:`AutoencoderTransformer`.

    Parameters
    ----------
    anomaly_score : {"combined", "reconstruction", "code"}, default="combined"
        The anomaly score (see :mod:`aelab.reuse.anomaly`).
    k : int, default=5
        Neighbours of the code distance (mean distance to the k nearest training codes).
    fpr : float in (0, 0.5], default=0.05
        Target false-positive rate of the threshold (the share of inliers called outliers).
    validation_fraction : float in [0, 0.5], default=0.2
        Share of X held out to calibrate; 0 (or too few rows) calibrates on the training
        rows with each code left out of its neighbours (expect a higher false-positive rate).
    family, latent_dim, hidden, epochs, batch_size, lr, device, verbose :
        As :class:`AutoencoderTransformer`.
    random_state : int, RandomState instance or None, default=None
        Seeds the split, the weights and the shuffling; an int gives identical fits.

    Attributes
    ----------
    autoencoder_ : AutoencoderTransformer
    detector_ : aelab.reuse.detector.Detector
    offset_ : float
        ``-detector_.threshold``: ``decision_function = score_samples - offset_``.
    input_shape_ : tuple (C, H, W) of the images (or (1, 1, n_features) for rows).
    n_features_in_ : int
    """

    _parameter_constraints: dict = {  # noqa: RUF012  (scikit-learn's convention)
        "anomaly_score": [StrOptions({"combined", "reconstruction", "code"})],
        "k": [Interval(Integral, 1, None, closed="left")],
        "fpr": [Interval(Real, 0, 0.5, closed="right")],
        "validation_fraction": [Interval(Real, 0, 0.5, closed="both")],
        "family": [str],
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "hidden": ["array-like"],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        anomaly_score: str = "combined",
        k: int = 5,
        fpr: float = 0.05,
        validation_fraction: float = 0.2,
        family: str = "dense",
        latent_dim: int = 16,
        hidden: tuple[int, ...] = (128,),
        epochs: int = 20,
        batch_size: int = 64,
        lr: float = 1e-3,
        device: str = "cpu",
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
    ) -> None:
        self.anomaly_score = anomaly_score
        self.k = k
        self.fpr = fpr
        self.validation_fraction = validation_fraction
        self.family = family
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _parts(self, X) -> dict[str, np.ndarray]:
        """The raw scores (reconstruction MSE, code distance) of validated rows X, in float64
        (the transformer computes float64 rows with a float64 model: batch-independent)."""
        X = np.asarray(X, dtype=np.float64)
        parts = {}
        if self.anomaly_score != "code":
            parts["reconstruction"] = -self.autoencoder_.score_samples(X)
        if self.anomaly_score != "reconstruction":
            parts["code"] = self.detector_.code_distance(self.autoencoder_.transform(X))
        return parts

    def fit(self, X, y=None):
        """Train on X (rows or images; all taken as inliers) and calibrate the threshold."""
        from aelab.reuse.detector import code_distance, fit_detector

        self._validate_params()
        X, image_shape = image_rows(X)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=True)
        n = len(X)
        if n < 2:
            raise ValueError(f"n_samples={n}: the detector needs at least 2 samples to calibrate.")
        rng = check_random_state(self.random_state)
        order = rng.permutation(n)
        n_val = int(n * self.validation_fraction)
        if n - n_val < 2 or n_val < 2:
            n_val = 0
        fit_rows, val_rows = X[order[n_val:]], X[order[:n_val]]
        self.input_shape_ = image_shape or (1, 1, X.shape[1])
        self.autoencoder_ = AutoencoderTransformer(
            family=self.family,
            latent_dim=self.latent_dim,
            hidden=self.hidden,
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            image_shape=image_shape,
            device=self.device,
            random_state=int(rng.randint(np.iinfo(np.int32).max)),
            verbose=self.verbose,
        ).fit(fit_rows)
        fit64 = np.asarray(fit_rows, dtype=np.float64)
        codes = self.autoencoder_.transform(fit64)
        held_out = n_val > 0
        ref = np.asarray(val_rows if held_out else fit_rows, dtype=np.float64)
        reference = {}
        if self.anomaly_score != "code":
            reference["reconstruction"] = -self.autoencoder_.score_samples(ref)
        if self.anomaly_score != "reconstruction":
            ref_codes = self.autoencoder_.transform(ref) if held_out else codes
            reference["code"] = code_distance(
                codes, ref_codes, k=self.k, leave_self_out=not held_out
            )
        self.detector_ = fit_detector(
            self.anomaly_score,
            codes,
            reference,
            self.fpr,
            k=self.k,
            calibration={"n_fit": len(fit_rows)},
        )
        self.offset_ = -float(self.detector_.threshold)
        return self

    def _validated(self, X) -> np.ndarray:
        check_is_fitted(self)
        X, image_shape = image_rows(X)
        check_image_shape(image_shape, self.input_shape_)
        return validate_data(self, X, dtype=[np.float64, np.float32], reset=False)

    def score_samples(self, X):
        """(n_samples,) float64: the negated anomaly score (higher = more normal), as
        scikit-learn's outlier detectors."""
        X = self._validated(X)
        return -self.detector_.combine(self._parts(X))

    def decision_function(self, X):
        """(n_samples,) ``score_samples(X) - offset_``: negative for outliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """(n_samples,) +1 for inliers, -1 for outliers (score above the threshold)."""
        decision = self.decision_function(X)
        return np.where(decision < 0, -1, 1)
