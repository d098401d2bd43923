"""Figures: one module per figure; each function takes arrays or histories and returns a
matplotlib ``Figure``. Nothing here reads a run or writes a file except :func:`save_figure`
(``aelab.viz.save``), the one place figures are written.

``FIGURES`` names every figure a run can have (the file stem under ``figures/``) with the
caption the report shows, in the order the report shows them. ``FIGURE_SETS`` are the
choices of ``train.figures`` / ``--figures``: which of them an evaluation draws. Importing this package does
not import matplotlib.
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

# train.figures / --figures: "basic" keeps the two figures a quick look needs and costs
# a fraction of "all" (the feature, code-map and top-activating figures decode and sort
# every test code).
FIGURE_SETS: dict[str, tuple[str, ...]] = {
    "all": tuple(FIGURES),
    "basic": ("reconstructions", "loss_curves"),
    "none": (),
}
