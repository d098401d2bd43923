"""Section 3: one-key sweeps on Fashion-MNIST: code size (dense and conv, PCA beside them),
the weight or k of each sparsity mechanism, and the noise level of the denoising model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aelab.metrics.catalog import ACTIVE_THRESHOLD
from aelab.presets import load_preset
from aelab.report.tables import markdown_table
from aelab.rundir import read_metrics
from aelab.studies import claims
from aelab.studies.compare import summarize_run
from aelab.studies.sweep import Vary

from .columns import evidence, label, metric, show, text_column
from .context import DATASET_NAMES, DS, Context, Rows, rows_of
from .page import Section

TITLE = "## 3. Sweeps"
FAMILIES = ("dense", "conv")
CODE_COLUMNS = [
    metric("latent_dim", "code", "{} size"),
    *(metric("test_mse", fam, f"{fam} {{}}") for fam in FAMILIES),
    metric("pca_mse", "pca"),
    *(metric("dead_units", f"{fam}_dead", f"{fam} {{}}") for fam in FAMILIES),
    *(metric("parameters", f"{fam}_p", f"{fam} {{}}") for fam in FAMILIES),
]
SPARSITY_COLUMNS = [
    text_column("kind", "mechanism"),
    text_column("value", "weight / k"),
    *(metric(k) for k in ("l0", "dead_units", "test_mse", "test_bce")),
]
NOISE_COLUMNS = [
    text_column("level", "σ"),
    metric("test_mse", "clean", "{} on clean input"),
    evidence("noisy", "MSE on noisy input", "test_mse"),
    evidence("input", "MSE of the noisy input itself", "test_mse"),
    evidence("ssim", "SSIM on noisy input", "test_ssim"),
]


def run(ctx: Context, done: Mapping[str, Any]) -> tuple[list[str], dict[str, Rows]]:
    lines = [TITLE + "\n"]
    if "fashion-mnist" not in ctx.available:
        return [*lines, "Not run: Fashion-MNIST is not present.\n"], {}
    code_lines, found = sweep_code_size(ctx)
    return [*lines, *code_lines, *sweep_sparsity(ctx), *sweep_noise(ctx)], found


def sweep_code_size(
    ctx: Context, ds: str = DS, prefix: str = ""
) -> tuple[list[str], dict[str, Rows]]:
    """Code size, dense and conv (the ``r3-<ds>-*`` presets, runs in ``out/<prefix>sweep-code-*``);
    PCA's error at each size beside them."""
    from aelab.viz.comparison import sweep_lines

    p = ctx.profile
    code = Vary("model.latent_dim", p.code_sizes)
    found: dict[str, Rows] = {}
    series: dict[str, tuple[list[Any], dict[str, list[Any]]]] = {}
    for fam, preset in (("dense", f"r3-{ds}-vanilla"), ("conv", f"r3-{ds}-conv")):
        runs = ctx.sweep(f"{prefix}sweep-code-{fam}", ctx.config(preset), code, p.sweep_epochs)
        rows = found[f"code-{fam}"] = rows_of(runs)
        xs = [x for x in p.code_sizes if str(x) in rows]
        series[fam] = (xs, {label("test_mse"): [rows[str(x)]["test_mse"] for x in xs]})
        if fam == "dense":
            pca = [read_metrics(runs[str(x)]).get("pca", {}).get("mse") for x in xs]
            series["PCA"] = (xs, {label("test_mse"): pca})
    table = []
    for size in p.code_sizes:
        d, c = found["code-dense"].get(str(size), {}), found["code-conv"].get(str(size), {})
        pca = d.get("test_mse") / d["pca_ratio"] if d.get("pca_ratio") else None
        table.append(
            {"code": size, "dense": d.get("test_mse"), "conv": c.get("test_mse"), "pca": pca}
            | {f"{fam}_p": r.get("parameters") for fam, r in (("dense", d), ("conv", c))}
            | {f"{fam}_dead": r.get("dead_units") for fam, r in (("dense", d), ("conv", c))}
        )
    lines = [
        f"### Code size ({p.sweep_epochs} epoch(s) each)\n",
        markdown_table(table, CODE_COLUMNS),
    ]
    dead = [
        f"{fam} at code {size}"
        for size in p.code_sizes
        for fam in ("dense", "conv")
        if claims.collapsed(found[f"code-{fam}"].get(str(size)), size)
    ]
    if dead:
        lines.append(
            f"\nEvery code unit is dead (zero on every test image) for {', '.join(dead)}: "
            "the ReLU code collapsed during training and the decoder outputs one image for "
            "every input, so those points measure a failed run, not the capacity of the "
            "bottleneck (a linear code, `model.code_activation=identity`, cannot die this way).\n"
        )
    name = DATASET_NAMES[load_preset(f"r3-{ds}-vanilla").data.dataset]
    fig = sweep_lines("code size", series, title=f"{name} · test MSE against code size")
    saved = ctx.save(fig, f"{prefix.replace('/', '_')}code_size.png")
    lines.append(f"\n![Test MSE against code size]({saved})\n")
    return lines, found


def sweep_sparsity(ctx: Context) -> list[str]:
    """Weight or k per sparsity mechanism, and the reconstruction-vs-L0 trade-off."""
    from aelab.viz.comparison import tradeoff_scatter

    points: dict[str, list[claims.TradeoffPoint]] = {}
    rows = []
    for kind, vary in ctx.profile.sparsity.items():
        values: dict[str, Any] = {"model.sparsity.kind": kind}
        if kind == "topk":
            values |= {"model.sparsity.weight": 0, "model.sparsity.k": vary.values[0]}
        base = ctx.config(f"r3-{DS}-sparse", values)
        runs = ctx.sweep(f"sweep-sparsity-{kind}", base, vary, ctx.profile.sweep_epochs)
        found = rows_of(runs)
        points[kind] = []
        for value in (v for v in vary.labels if v in found):
            tag = f"k={value}" if kind == "topk" else value
            points[kind].append((found[value].get("l0"), found[value].get("test_mse"), tag))
            rows.append({"kind": kind, "value": tag, **found[value]})
    win = claims.best_at_low_l0(points)
    rule = (
        "no sparse runs finished."
        if win is None
        else f"among runs with {label('l0')} ≤ {show('l0', win.median_l0)} (the median over all "
        f"sparse runs), the lowest {label('test_mse')} is **{win.mechanism}** ({win.label}, MSE "
        f"{show('test_mse', win.mse)})."
    )
    fig = tradeoff_scatter(points, title="Fashion-MNIST · reconstruction against code sparsity")
    return [
        f"### Sparsity: weight or k per mechanism ({ctx.profile.sweep_epochs} epoch(s) each)\n",
        markdown_table(rows, SPARSITY_COLUMNS),
        f"\nL0 counts code units with |z| > {ACTIVE_THRESHOLD:g} (aelab's definition); KL "
        "sparsity uses a sigmoid code that is never exactly zero, so its L0 is the code size "
        "and its sparsity shows in the mean activation instead.\n",
        f"\nAt a given sparsity: {rule}\n",
        f"\n![Reconstruction against L0]({ctx.save(fig, 'sparsity_tradeoff.png')})\n",
    ]


def sweep_noise(ctx: Context) -> list[str]:
    """Noise level for denoising: clean and noisy test reconstruction."""
    from aelab.viz.comparison import sweep_lines

    p = ctx.profile
    noise = Vary("model.noise.level", p.noise_levels)
    runs = ctx.sweep("sweep-noise", ctx.config(f"r3-{DS}-denoising"), noise, p.sweep_epochs)
    rows = []
    for level in (v for v in p.noise_levels if str(v) in runs):
        noisy = claims.denoising_scores(runs[str(level)], level)
        clean = summarize_run(runs[str(level)])[0].get("test_mse")
        rows.append(
            {"level": level, "clean": clean, "noisy": noisy["mse"], "input": noisy["input_mse"]}
            | {"ssim": noisy["ssim"]}
        )
    lines = [
        f"### Noise level for denoising ({p.sweep_epochs} epoch(s) each)\n",
        "Trained with Gaussian noise of std σ; tested on clean images, and on test images "
        "corrupted the same way (target: the clean image).\n",
        markdown_table(rows, NOISE_COLUMNS),
    ]
    if rows:
        xs = [r["level"] for r in rows]
        curves = {
            f"{k} input": (xs, {label("test_mse"): [r[k] for r in rows]})
            for k in ("clean", "noisy")
        }
        title = "Fashion-MNIST · denoising: test MSE against training noise"
        fig = sweep_lines("noise σ", curves, title=title)
        lines.append(f"\n![Denoising against noise level]({ctx.save(fig, 'noise_level.png')})\n")
    return lines


SECTION = Section("sweeps", TITLE, run)
