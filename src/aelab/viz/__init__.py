"""Figures: one module per figure; each function takes arrays or histories and returns a
matplotlib ``Figure``. Nothing here reads a run or writes a file except :func:`save_figure`
(``aelab.viz.save``), the one place figures are written.

``FIGURES`` names every figure an evaluation can draw (the file stem under ``figures/``)
with the caption the report shows, in the order the report shows them. ``SECTION_FIGURES``
does the same for the downstream tasks: {metrics.json section: {stem: caption}} for the
figures a task writes to ``RUN/<section>/`` (``aelab.reuse.task``). ``FIGURE_SETS`` are the
choices of ``train.figures`` / ``--figures``: which of them an evaluation draws. Importing
this package does not import matplotlib.
"""

from __future__ import annotations

FIGURES: dict[str, str] = {
    "reconstructions": "Test images (top) and their reconstructions (bottom): the first "
    "test image of each class, the same images in every run.",
    "loss_curves": "Training and validation loss per epoch, one panel per loss part.",
    "code_activity": "Distribution of code activations over the test set, and the mean "
    "|activation| of each unit (dead units in red).",
    "features": "Learned features: each code unit decoded alone (a unit vector scaled to "
    "the unit's 99th-percentile activation), contrast-stretched per tile.",
    "decoder_weights": "Decoder weights of each code unit, reshaped to an image "
    "(single-layer dense decoders only), contrast-stretched per tile.",
    "code_map": "The test codes projected to two dimensions, coloured by label.",
    "code_map_tsne": "The test codes embedded with t-SNE, coloured by label.",
    "denoising": "Denoising: corrupted input, clean image and the model's reconstruction.",
    "vae_samples": "Images decoded from codes drawn from the prior N(0, I).",
    "vae_interpolation": "Decoded interpolations between the codes of pairs of test images.",
    "top_activating": "For the most used code units, the test images that activate each unit most.",
}

SECTION_FIGURES: dict[str, dict[str, str]] = {
    "downstream": {
        "probe_scores": "Test scores of each probe on the autoencoder's codes, on PCA at the "
        "code's size and on the raw pixels.",
    },
    "cluster": {
        "codes_by_cluster": "The test codes after IDEC fine-tuning (PCA to 2-D), coloured by "
        "their cluster.",
        "codes_by_class": "The same test codes coloured by their class.",
        "clusters": "The most confident test images of each cluster; the row label gives the "
        "cluster's size, its most common class and that class's share.",
        "n2d_by_cluster": "N2D: the test codes' UMAP embedding (its first two dimensions), "
        "coloured by the Gaussian mixture's cluster.",
        "n2d_by_class": "The same UMAP embedding coloured by class.",
        "n2d_clusters": "The test images N2D's mixture assigns most confidently to each "
        "cluster; row labels as above.",
    },
    "anomaly": {
        "roc": "ROC curves of the autoencoder's anomaly scores for this run's normal class "
        "(AUROC in the legend); the dashed diagonal is chance.",
        "extremes": "The test images this run finds most anomalous (highest combined score "
        "first) and least anomalous (lowest first), each with its score and true class (blue: "
        "the normal class, orange: an anomaly).",
        "maps": "The most and least anomalous test images with the model's reconstructions "
        "and per-pixel anomaly maps (squared reconstruction error, Gaussian-smoothed; one "
        "colour scale for all maps): where each image is odd.",
    },
}

# train.figures / --figures: "basic" keeps the two figures a quick look needs and costs
# a fraction of "all" (the feature, code-map and top-activating figures decode and sort
# every test code).
FIGURE_SETS: dict[str, tuple[str, ...]] = {
    "all": tuple(FIGURES),
    "basic": ("reconstructions", "loss_curves"),
    "none": (),
}
