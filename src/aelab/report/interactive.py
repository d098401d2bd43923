"""The interactive parts of report.html, and the files they read.

The evaluation stores what the code map needs under ``RUN/figures/code_map/``
(:func:`write_code_map`): ``points.npz`` (2-D points, codes, per-image errors, labels,
code activity, and any extra colour columns such as an anomaly score or a cluster) and one
sprite sheet PNG per thumbnail kind (``originals.png``, ``reconstructions.png``). The report
reads them (:func:`read_code_map`) and computes nothing; ``aelab explore`` reads the same
files. The pages embed BokehJS inline (:func:`bokeh_resources`): no CDN, no request.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aelab.atomic import atomic_write_bytes
from aelab.errors import CheckpointError

MAP_DIR = Path("figures") / "code_map"
POINTS = "points.npz"
BOKEH_COMPONENTS = ("bokeh", "bokeh-gl", "bokeh-widgets")  # what the pages use, no more
# extra colour columns whose values are categories (cluster ids), not magnitudes
CATEGORICAL_EXTRAS = ("cluster",)


@dataclass
class CodeMapData:
    """The test set as the map shows it. ``points`` (N, 2) in the ``projection``'s
    coordinates; ``codes`` (N, d); ``error`` (N,) per-image MSE; ``labels`` (N,) ints or
    None; ``activity`` (N,) mean |z|; ``active`` (N,) units with |z| above the threshold;
    ``extra`` more colour columns {name: (N,)}; ``sprites`` {kind: PNG bytes}; ``image_shape``
    (C, H, W) of the thumbnails."""

    points: np.ndarray
    codes: np.ndarray
    error: np.ndarray
    labels: np.ndarray | None
    activity: np.ndarray
    active: np.ndarray
    projection: str
    image_shape: tuple[int, int, int]
    class_names: tuple[str, ...] | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    sprites: dict[str, bytes] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.points)

    def label_names(self) -> list[str]:
        """Each point's label as shown: the class name, the label, or "" without labels."""
        if self.labels is None:
            return [""] * len(self)
        names = self.class_names or ()
        return [names[int(v)] if 0 <= int(v) < len(names) else str(int(v)) for v in self.labels]

    def colour_values(self) -> dict[str, np.ndarray]:
        """{name: (N,)} the map can be coloured by, class first when there are labels."""
        values: dict[str, np.ndarray] = {}
        if self.labels is not None:
            values["class"] = np.asarray(self.label_names())
        values["per-image error"] = self.error
        values["code activity (mean |z|)"] = self.activity
        values["active units"] = self.active
        for name, column in self.extra.items():
            values[name.replace("_", " ")] = column
        return values

    def categorical(self) -> tuple[str, ...]:
        names = ["class"] + [n.replace("_", " ") for n in self.extra if n in CATEGORICAL_EXTRAS]
        return tuple(names)


def write_code_map(run_dir: str | Path, data: CodeMapData) -> Path:
    """Store ``data`` under ``run_dir/figures/code_map/``; return that folder."""
    folder = Path(run_dir) / MAP_DIR
    folder.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {
        "points": data.points.astype(np.float32),
        "codes": data.codes.astype(np.float32),
        "error": data.error.astype(np.float32),
        "activity": data.activity.astype(np.float32),
        "active": data.active.astype(np.int32),
        "projection": np.asarray(data.projection),
        "image_shape": np.asarray(data.image_shape, dtype=np.int64),
    }
    if data.labels is not None:
        arrays["labels"] = data.labels.astype(np.int64)
    if data.class_names:
        arrays["class_names"] = np.asarray(data.class_names, dtype=str)
    for name, column in data.extra.items():
        arrays[f"extra_{name}"] = np.asarray(column)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(folder / POINTS, buffer.getvalue())
    for kind, png in data.sprites.items():
        atomic_write_bytes(folder / f"{kind}.png", png)
    return folder


def read_code_map(run_dir: str | Path) -> CodeMapData | None:
    """The stored code map of ``run_dir``, None when the evaluation wrote none."""
    folder = Path(run_dir) / MAP_DIR
    path = folder / POINTS
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            names = set(z.files)
            data = CodeMapData(
                points=z["points"],
                codes=z["codes"],
                error=z["error"],
                labels=z["labels"] if "labels" in names else None,
                activity=z["activity"],
                active=z["active"],
                projection=str(z["projection"]),
                image_shape=tuple(int(v) for v in z["image_shape"]),  # type: ignore[arg-type]
                class_names=tuple(str(v) for v in z["class_names"])
                if "class_names" in names
                else None,
                extra={n[len("extra_") :]: z[n] for n in sorted(names) if n.startswith("extra_")},
            )
    except (OSError, ValueError, KeyError) as exc:
        raise CheckpointError(
            f"{path} is unreadable ({exc}); re-create it with `aelab evaluate {run_dir}`."
        ) from None
    for png in sorted(folder.glob("*.png")):
        data.sprites[png.stem] = png.read_bytes()
    return data


def add_map_column(run_dir: str | Path, name: str, values: np.ndarray) -> bool:
    """Add (or replace) the colour column ``name`` (N,) of the stored map, e.g. a task's
    anomaly scores or clusters of the test images; False when the run has no map."""
    data = read_code_map(run_dir)
    if data is None or len(values) != len(data):
        return False
    data.extra[name] = np.asarray(values)
    data.sprites = {}  # unchanged on disk
    write_code_map(run_dir, data)
    return True


ANOMALY_SCORES = Path("anomaly") / "scores.csv"  # written by `aelab anomaly` per test image


def task_columns(run_dir: str | Path, n: int) -> dict[str, np.ndarray]:
    """Colour columns the downstream tasks stored per test image: the anomaly task's
    combined score (``anomaly/scores.csv``, by test index) when it covers all ``n`` images."""
    import csv

    path = Path(run_dir) / ANOMALY_SCORES
    if not path.is_file():
        return {}
    score = np.full(n, np.nan, dtype=np.float32)
    with path.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            try:
                i, value = int(row["index"]), float(row["combined"])
            except (KeyError, TypeError, ValueError):
                return {}
            if 0 <= i < n:
                score[i] = value
    return {"anomaly_score": score} if np.isfinite(score).all() else {}


# --------------------------------------------------------------------------- embedding


def bokeh_resources() -> str:
    """The ``<script>`` tags of BokehJS, inlined (the page fetches nothing)."""
    from bokeh.resources import Resources

    return Resources(mode="inline", components=list(BOKEH_COMPONENTS)).render_js()


def map_columns(data: CodeMapData) -> Any:
    """``data`` as :class:`aelab.viz.interactive.MapColumns`."""
    from aelab.viz.interactive import MapColumns, SpriteLayout

    _, h, w = data.image_shape
    layout = SpriteLayout.for_images(len(data), h, w) if data.sprites else None
    return MapColumns(
        points=data.points,
        labels=data.label_names(),
        error=data.error,
        values=data.colour_values(),
        categorical=data.categorical(),
        layout=layout,
        projection=data.projection,
    )


@dataclass
class Interactive:
    """What report.html.j2 inserts: BokehJS, the sprite CSS, the script that draws the
    figures and one ``<div>`` per figure (``divs[name]``)."""

    resources: str
    css: str
    script: str
    divs: dict[str, str]


def interactive_figures(
    run_dir: str | Path, history: list[dict[str, Any]], name: str
) -> Interactive | None:
    """The interactive figures of ``run_dir`` (code map, loss curves) ready to embed; None
    when it has neither stored map data nor a history."""
    from bokeh.embed import components

    from aelab.viz.interactive import code_map_figure, loss_curves_figure, sprite_css

    figures: dict[str, Any] = {}
    data = read_code_map(run_dir)
    if data is not None and len(data):
        data.extra = {**task_columns(run_dir, len(data)), **data.extra}
        figures["code_map"] = code_map_figure(
            map_columns(data), title=f"{name}: test codes ({data.projection}), {len(data):,} images"
        )
    curves = loss_curves_figure(history, title=f"{name}: loss per epoch")
    if curves is not None:
        figures["loss_curves"] = curves
    if not figures:
        return None
    script, divs = components(figures)
    css = sprite_css(data.sprites) if data is not None else ""
    return Interactive(bokeh_resources(), css, script, dict(divs))


__all__ = [
    "MAP_DIR",
    "CodeMapData",
    "Interactive",
    "add_map_column",
    "bokeh_resources",
    "interactive_figures",
    "map_columns",
    "read_code_map",
    "write_code_map",
]
