"""Downstream probes: how useful is a representation for classification and clustering?

Each representation (autoencoder codes, raw pixels, PCA at the same size) is probed with the
same three scikit-learn tools:

- ``logreg_acc``: multinomial logistic regression (L2, C=1, lbfgs stopped after at most
  ``LOGREG_MAX_ITER`` = 100 iterations, scikit-learn's default, for every representation
  alike) fitted on train, accuracy on test. A fixed budget keeps the probe's cost bounded:
  on the 60,000 raw Fashion-MNIST pixels lbfgs runs to its cap whatever the cap is, and the
  old cap of 1,000 took most of half an hour;
- ``knn_acc``: 5-nearest-neighbour vote (Euclidean, exact) of each test point among all
  train points;
- ``kmeans_nmi`` / ``kmeans_ari``: k-means (k = number of classes, 10 restarts) on the test
  features, agreement of its clusters with the test labels (NMI, ARI). Clustering is
  unsupervised, so it is scored where the labels are held out.

Features are used as they are by default (``standardize=False``): distances in the code
space are the geometry the representation learned, and this protocol reproduces the
reference figures for PCA-32 on Fashion-MNIST (81.5% logistic regression, 85.2% 5-NN,
0.515 NMI; 81.3% logistic regression at the 100-iteration budget). ``standardize=True``
z-scores every feature on the training set first. Everything uses a fixed ``random_state``
so two calls on the same inputs agree exactly. ``PROTOCOL`` names every setting; a result
stored under it (the baseline cache of ``aelab.reuse.probe``) is valid while it holds.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

from aelab.errors import DataError

PROBES = ("logreg_acc", "knn_acc", "kmeans_nmi", "kmeans_ari")
REPRESENTATIONS = ("autoencoder", "pca", "pixels")
BASELINES = ("pca", "pixels")
STEPS = ("logistic regression", "5-NN", "k-means")  # what ``status`` hears, in this order
KNN_K = 5
LOGREG_MAX_ITER = 100
KMEANS_N_INIT = 10
# Everything a probe's scores depend on besides its inputs.
PROTOCOL = {
    "logreg": f"lbfgs C=1 max_iter={LOGREG_MAX_ITER}",
    "knn": f"k={KNN_K} euclidean exact",
    "kmeans": f"n_init={KMEANS_N_INIT}",
    "pixels": "uint8/255",
    "version": 2,
}


def flatten(x: np.ndarray) -> np.ndarray:
    """(N, ...) -> (N, D) float32."""
    x = np.asarray(x)
    return x.reshape(len(x), -1).astype(np.float32, copy=False)


def _check_pair(name: str, x: np.ndarray, y: np.ndarray) -> None:
    if x.ndim != 2 or len(x) != len(y):
        raise DataError(
            f"{name}: expected features (N, D) and labels (N,) of the same length; "
            f"found features {x.shape} and labels {y.shape}."
        )
    if len(x) == 0:
        raise DataError(f"{name}: no samples to probe.")
    if not np.isfinite(x).all():
        raise DataError(f"{name}: features contain NaN or infinity; check the model's codes.")


def probe(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    *,
    n_classes: int | None = None,
    random_state: int = 0,
    standardize: bool = False,
    max_iter: int = LOGREG_MAX_ITER,
    status: Callable[[str], None] | None = None,
) -> dict[str, float]:
    """The four probe scores of one representation.

    train_x: (N, D), train_y: (N,) int; test_x: (M, D), test_y: (M,) int.
    ``n_classes`` (the k of k-means) defaults to the number of distinct train labels.
    Features are float arrays; lbfgs stopping at ``max_iter`` is accepted silently.
    ``status`` is called with each of ``STEPS`` as it starts (progress for the caller).
    """
    train_x, test_x = flatten(train_x), flatten(test_x)
    train_y, test_y = np.asarray(train_y).ravel(), np.asarray(test_y).ravel()
    _check_pair("train", train_x, train_y)
    _check_pair("test", test_x, test_y)
    if train_x.shape[1] != test_x.shape[1]:
        raise DataError(
            f"train and test features differ in size: {train_x.shape[1]} vs {test_x.shape[1]}."
        )
    k = n_classes or len(np.unique(train_y))
    if len(np.unique(train_y)) < 2:
        raise DataError("probes need at least 2 classes in the training labels; found 1.")

    tr, te = train_x, test_x
    if standardize:
        scaler = StandardScaler().fit(train_x)
        tr, te = scaler.transform(train_x), scaler.transform(test_x)

    say = status or (lambda step: None)
    with warnings.catch_warnings():
        # lbfgs stops at max_iter on raw pixels (the accuracy is what it is); k-means
        # warns when collapsed codes hold fewer distinct points than clusters.
        warnings.simplefilter("ignore", ConvergenceWarning)
        say(STEPS[0])
        logreg = LogisticRegression(max_iter=max_iter, random_state=random_state).fit(tr, train_y)
        logreg_acc = float(logreg.score(te, test_y))
        say(STEPS[1])
        knn = KNeighborsClassifier(n_neighbors=min(KNN_K, len(tr)))
        knn_acc = float(knn.fit(tr, train_y).score(te, test_y))
        say(STEPS[2])
        kmeans = KMeans(n_clusters=min(k, len(te)), n_init=KMEANS_N_INIT, random_state=random_state)
        clusters = kmeans.fit_predict(te)
    return {
        "logreg_acc": logreg_acc,
        "knn_acc": knn_acc,
        "kmeans_nmi": float(normalized_mutual_info_score(test_y, clusters)),
        "kmeans_ari": float(adjusted_rand_score(test_y, clusters)),
    }


def pca_features(
    train_x: np.ndarray, test_x: np.ndarray, n_components: int, *, random_state: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """PCA fitted on train, applied to both: (N, n_components), (M, n_components)."""
    train_x, test_x = flatten(train_x), flatten(test_x)
    n = min(n_components, train_x.shape[0], train_x.shape[1])
    pca = PCA(n_components=n, random_state=random_state).fit(train_x)
    return pca.transform(train_x), pca.transform(test_x)


def compare(
    train_codes: np.ndarray,
    test_codes: np.ndarray,
    train_pixels: np.ndarray,
    test_pixels: np.ndarray,
    train_y: np.ndarray,
    test_y: np.ndarray,
    *,
    n_classes: int | None = None,
    random_state: int = 0,
    standardize: bool = False,
    known: Mapping[str, dict[str, float]] | None = None,
    status: Callable[[str], None] | None = None,
) -> dict[str, dict[str, float]]:
    """Probe the autoencoder codes, PCA at the code's size and the raw pixels side by side.

    Pixels may be uint8 or float images of any shape (N, ...); they are scaled to [0, 1]
    first so PCA sees what the autoencoder saw. Returns the metrics.json "downstream" section:
    ``{"autoencoder"|"pca"|"pixels": {logreg_acc, knn_acc, kmeans_nmi, kmeans_ari}}``.
    ``known``: baseline scores computed before on the same inputs (a cache), used as they
    are. ``status`` hears ``"<representation>: <step>"`` as each step starts.
    """
    known = known or {}
    common = {"n_classes": n_classes, "random_state": random_state, "standardize": standardize}
    results = {
        "autoencoder": probe(
            train_codes, train_y, test_codes, test_y, **common, status=_named(status, "autoencoder")
        )
    }
    latent = flatten(train_codes).shape[1]
    for name in BASELINES:
        if name in known:
            results[name] = dict(known[name])
            continue
        train_x, test_x = baseline_features(
            name, train_pixels, test_pixels, latent, random_state=random_state
        )
        results[name] = probe(
            train_x, train_y, test_x, test_y, **common, status=_named(status, name)
        )
    return results


def baseline_features(
    name: str,
    train_pixels: np.ndarray,
    test_pixels: np.ndarray,
    latent_dim: int,
    *,
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The features of baseline ``name`` (one of ``BASELINES``) for images (N, ...) uint8 or
    float in [0, 1]: the pixels scaled to [0, 1], or PCA (fitted on train) at ``latent_dim``."""
    train_pix, test_pix = _unit_pixels(train_pixels), _unit_pixels(test_pixels)
    if name == "pixels":
        return train_pix, test_pix
    if name == "pca":
        return pca_features(train_pix, test_pix, latent_dim, random_state=random_state)
    raise ValueError(f"unknown baseline {name!r}: expected one of {', '.join(BASELINES)}")


def _named(status: Callable[[str], None] | None, name: str) -> Callable[[str], None] | None:
    if status is None:
        return None
    return lambda step: status(f"{name}: {step}")


def _unit_pixels(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype == np.uint8:
        return flatten(x) / np.float32(255.0)
    return flatten(x)
