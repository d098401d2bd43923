"""Interactive figures (Bokeh): the code map and the loss curves of report.html and of
``aelab explore``.

Like the rest of ``aelab.viz`` these take arrays and return figures (Bokeh layouts here);
they read no run and write no file. Thumbnails are not one data URI per point: each kind
(originals, reconstructions) is ONE sprite sheet (:func:`sprite_sheet`, a PNG of every
image on a grid), set once on the page as a CSS custom property (``--aelab-sprite-<kind>``,
:func:`sprite_css`) that inherits into Bokeh's shadow DOM; a point's tooltip shows its
tile with ``background-position`` (the ``pos`` column). 10,000 points cost two PNGs,
not 20,000 strings.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

SPRITE_KINDS = ("originals", "reconstructions")
TILE_PX = 56  # shown size of a thumbnail (pixels, longer side)
CLASS_COLOUR = "class"


# --------------------------------------------------------------------------- sprites


@dataclass(frozen=True)
class SpriteLayout:
    """Where tile i lies on a sheet: ``columns`` tiles per row, each ``height`` x ``width``."""

    count: int
    height: int
    width: int
    columns: int

    @classmethod
    def for_images(cls, count: int, height: int, width: int) -> SpriteLayout:
        return cls(count, height, width, max(1, math.ceil(math.sqrt(count))))

    @property
    def rows(self) -> int:
        return max(1, math.ceil(self.count / self.columns))

    @property
    def scale(self) -> float:
        return TILE_PX / max(self.height, self.width)

    def positions(self) -> list[str]:
        """CSS ``background-position`` of every tile at the shown scale."""
        s = self.scale
        i = np.arange(self.count)
        x = (i % self.columns) * self.width * s
        y = (i // self.columns) * self.height * s
        return [f"-{a:g}px -{b:g}px" for a, b in zip(x.round(2), y.round(2), strict=True)]

    def css_size(self) -> tuple[str, str, str]:
        """(tile width, tile height, whole sheet's background-size) in CSS pixels."""
        s = self.scale
        return (
            f"{self.width * s:g}px",
            f"{self.height * s:g}px",
            f"{self.columns * self.width * s:g}px {self.rows * self.height * s:g}px",
        )


def sprite_sheet(images: np.ndarray, layout: SpriteLayout) -> bytes:
    """``images`` (N, C, H, W) uint8 (C = 1 or 3) -> one PNG holding them on ``layout``'s grid."""
    from PIL import Image

    n, c, h, w = images.shape
    sheet = np.zeros((layout.rows * h, layout.columns * w, c), dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, layout.columns)
        sheet[r * h : (r + 1) * h, col * w : (col + 1) * w] = images[i].transpose(1, 2, 0)
    image = Image.fromarray(sheet[..., 0] if c == 1 else sheet, "L" if c == 1 else "RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")  # optimize=True: 1% smaller, 7x slower (0.28 s a sheet)
    return buffer.getvalue()


def sprite_css(sheets: Mapping[str, bytes]) -> str:
    """The CSS that sets each sheet once as ``--aelab-sprite-<kind>`` on the page."""
    lines = [
        f"--aelab-sprite-{kind}: url(data:image/png;base64,{base64.b64encode(png).decode()});"
        for kind, png in sheets.items()
    ]
    return ":root {\n" + "\n".join(lines) + "\n}" if lines else ""


def _tile_html(kind: str, layout: SpriteLayout, position: str) -> str:
    width, height, size = layout.css_size()
    return (
        f'<div title="{kind}" style="width:{width};height:{height};'
        f"background-image:var(--aelab-sprite-{kind});background-size:{size};"
        f'background-position:{position};image-rendering:pixelated;border:1px solid #ccc"></div>'
    )


# --------------------------------------------------------------------------- code map


@dataclass
class MapColumns:
    """What a code map shows: ``points`` (N, 2), per-point ``values`` to colour by
    ({name: (N,) numbers}; ``categorical`` names are classes/clusters) and ``labels``
    (N,) str for the tooltip, with ``error`` (N,) the per-image reconstruction error."""

    points: np.ndarray
    labels: Sequence[str]
    error: np.ndarray
    values: dict[str, np.ndarray]
    categorical: tuple[str, ...] = ()
    layout: SpriteLayout | None = None
    projection: str = "PCA"


def _palette(n: int) -> list[str]:
    from bokeh.palettes import Category10, Category20, Turbo256

    if n <= 10:
        return list(Category10[10][: max(n, 3)])[:n] if n >= 3 else list(Category10[3][:n])
    if n <= 20:
        return list(Category20[n])
    return [Turbo256[int(i)] for i in np.linspace(0, 255, n)]


def code_map_figure(
    data: MapColumns,
    *,
    title: str,
    height: int = 560,
    tap: str | None = None,
    selected_panel: bool = True,
    marks: str | None = None,
) -> Any:
    """The 2-D code map: hover shows the image, its reconstruction, label and error; a
    Select colours by each of ``data.values``; box/lasso select lists the selected images.
    ``tap``: JavaScript run on a click with ``x`` and ``y`` (map coordinates) in scope;
    ``marks``: the name of an empty data source (``x``, ``y``, ``colour``) drawn as crosses on
    top, for a page to mark positions in (BokehJS ``get_model_by_name``)."""
    from bokeh.events import DoubleTap, Tap
    from bokeh.layouts import column, row
    from bokeh.models import (
        ColorBar,
        ColumnDataSource,
        CustomJS,
        Div,
        HoverTool,
        Select,
    )
    from bokeh.palettes import Viridis256
    from bokeh.plotting import figure
    from bokeh.transform import factor_cmap, linear_cmap

    n = len(data.points)
    source: dict[str, Any] = {
        "x": data.points[:, 0].astype(np.float32),
        "y": data.points[:, 1].astype(np.float32),
        "label": list(data.labels),
        "error": np.asarray(data.error, dtype=np.float32),
        "index": np.arange(n, dtype=np.int32),
    }
    if data.layout is not None:
        source["pos"] = data.layout.positions()
    keys = {name: "label" if name == CLASS_COLOUR else f"c_{name}" for name in data.values}
    for name, values in data.values.items():
        if name == CLASS_COLOUR:
            continue  # the class is the label column, not a second copy of it
        if name in data.categorical:
            source[keys[name]] = [str(v) for v in values]
        else:
            source[keys[name]] = np.asarray(values, dtype=np.float32)
    cds = ColumnDataSource(source)
    tips = ""
    if data.layout is not None:
        tiles = "".join(_tile_html(k, data.layout, "@pos") for k in SPRITE_KINDS)
        tips = f'<div style="display:flex;gap:4px">{tiles}</div>'
    tooltip = (
        f'<div class="aelab-tip">{tips}<div>#@index · <b>@label</b></div>'
        "<div>error @error{0.00000}</div></div>"
    )
    fig = figure(
        title=title,
        height=height,
        sizing_mode="stretch_width",
        tools="pan,wheel_zoom,box_zoom,box_select,lasso_select,reset,save",
        active_scroll="wheel_zoom",
        x_axis_label=f"{data.projection} 1",
        y_axis_label=f"{data.projection} 2",
        output_backend="webgl" if n > 5000 else "canvas",
    )
    renderers, bars = [], []
    size = 6 if n <= 2000 else 4
    for i, (name, values) in enumerate(data.values.items()):
        key = keys[name]
        if name in data.categorical:
            factors = sorted(set(source[key]), key=lambda s: (len(s), s))
            colour = factor_cmap(key, _palette(len(factors)), factors)
            bar = None
        else:
            finite = np.asarray(values, dtype=np.float64)
            finite = finite[np.isfinite(finite)]
            lo, hi = np.quantile(finite, [0.01, 0.99]) if len(finite) else (0.0, 1.0)
            hi = hi if hi > lo else lo + 1e-12
            colour = linear_cmap(key, Viridis256, float(lo), float(hi))
            bar = ColorBar(color_mapper=colour.transform, title=name, visible=i == 0)
            fig.add_layout(bar, "right")
        r = fig.scatter(
            "x",
            "y",
            source=cds,
            size=size,
            fill_color=colour,
            line_color=None,
            fill_alpha=0.75,
            visible=i == 0,
            selection_line_color="black",
            nonselection_fill_alpha=0.15,
        )
        renderers.append(r)
        bars.append(bar)
    fig.add_tools(HoverTool(renderers=renderers, tooltips=tooltip))
    if marks:
        marked = ColumnDataSource({"x": [], "y": [], "colour": []}, name=marks)
        fig.scatter("x", "y", source=marked, marker="x", size=16, line_width=3, color="colour")
    fig.toolbar.autohide = False
    names = list(data.values)
    select = Select(title="colour by", value=names[0], options=names, width=220)
    select.js_on_change(
        "value",
        CustomJS(
            args={"renderers": renderers, "bars": [b for b in bars if b], "names": names},
            code="""
const k = names.indexOf(this.value);
renderers.forEach((r, i) => { r.visible = i === k; });
bars.forEach((b) => { b.visible = b.title === this.value; });
""",
        ),
    )
    if tap:
        # a second click soon after the first is a double tap to BokehJS: decode it too
        for event in (Tap, DoubleTap):
            fig.js_on_event(event, CustomJS(code=f"const x = cb_obj.x, y = cb_obj.y; {tap}"))
    items: list[Any] = [select, fig]
    if selected_panel:
        panel = Div(text="<i>box- or lasso-select points to list their images</i>", width=300)
        cds.selected.js_on_change(
            "indices",
            CustomJS(
                args={
                    "source": cds,
                    "panel": panel,
                    "tile": _tile_html("originals", data.layout, "POS") if data.layout else "",
                },
                code="""
const ids = source.selected.indices;
const d = source.data;
const shown = ids.slice(0, 200);
let html = `<b>${ids.length} selected</b>` + (ids.length > shown.length ? ` (first ${shown.length})` : "");
html += '<div style="display:flex;flex-wrap:wrap;gap:2px;max-height:500px;overflow:auto">';
for (const i of shown) {
  const img = tile ? tile.replace("POS", d.pos[i]) : "";
  html += `<div title="#${i} ${d.label[i]} · error ${d.error[i].toFixed(5)}">${img || ("#" + i)}</div>`;
}
panel.text = html + "</div>";
""",
            ),
        )
        return column(
            row(select), row(fig, panel, sizing_mode="stretch_width"), sizing_mode="stretch_width"
        )
    return column(*items, sizing_mode="stretch_width")


# --------------------------------------------------------------------------- loss curves


def loss_curves_figure(history: Sequence[Mapping[str, float]], *, title: str) -> Any | None:
    """Every loss column of ``history`` (rows of history.csv) against the epoch: hover
    shows the values, clicking a legend entry hides its series. None without rows."""
    from bokeh.models import ColumnDataSource, HoverTool
    from bokeh.palettes import Category10

    rows = [r for r in history if "epoch" in r]
    if not rows:
        return None
    series = [k for k in rows[0] if k != "epoch" and _is_loss(k)]
    if not series:
        return None
    data = {"epoch": [r["epoch"] for r in rows]}
    for k in series:
        data[k] = [r.get(k, float("nan")) for r in rows]
    source = ColumnDataSource(data)
    fig = _loss_axes(title, height=360)
    palette = Category10[10]
    for i, k in enumerate(series):
        colour = palette[i % len(palette)]
        dash = "dashed" if k.startswith("val") else "solid"
        line = fig.line(
            "epoch", k, source=source, legend_label=k, color=colour, line_dash=dash, line_width=2
        )
        fig.add_tools(
            HoverTool(
                renderers=[line],
                tooltips=[("series", k), ("epoch", "@epoch"), ("value", f"@{{{k}}}{{0.00000}}")],
                mode="vline",
            )
        )
    fig.legend.click_policy = "hide"
    fig.legend.location = "top_right"
    return fig


def overlay_loss_curves_figure(
    histories: Mapping[str, Sequence[Mapping[str, Any]]], *, title: str
) -> Any | None:
    """The total training (solid) and validation (dashed) loss per epoch of several runs on
    one axis, one colour per run (``{run name: history rows}``): hover shows the run and
    the value, clicking a legend entry hides its series. Only for runs whose losses share
    one definition. None when no run has a loss column."""
    from bokeh.models import ColumnDataSource, HoverTool

    palette = _palette(max(len(histories), 1))
    fig = _loss_axes(title, height=380)
    drawn = 0
    for colour, (name, history) in zip(palette, histories.items(), strict=False):
        rows = [r for r in history if "epoch" in r]
        for split, dash in (("train", "solid"), ("val", "dashed")):
            values = [_finite(r.get(f"{split}_loss")) for r in rows]
            if all(math.isnan(v) for v in values):
                continue
            source = ColumnDataSource(
                {"epoch": [r["epoch"] for r in rows], "loss": values, "run": [name] * len(rows)}
            )
            label = f"{name} · {split}"
            line = fig.line(
                "epoch", "loss", source=source, legend_label=label, color=colour,
                line_dash=dash, line_width=2,
            )  # fmt: skip
            fig.scatter("epoch", "loss", source=source, color=colour, size=4, legend_label=label)
            tooltips = [("run", "@run"), ("split", split), ("epoch", "@epoch")]
            tooltips.append(("loss", "@loss{0.00000}"))
            fig.add_tools(HoverTool(renderers=[line], tooltips=tooltips))
            drawn += 1
    if not drawn:
        return None
    fig.xaxis.ticker.min_interval = 1  # whole epochs
    fig.legend.click_policy = "hide"
    fig.legend.location = "top_right"
    return fig


def _loss_axes(title: str, *, height: int) -> Any:
    """An empty figure of loss against epoch, as wide as the page."""
    from bokeh.plotting import figure

    return figure(
        title=title,
        height=height,
        sizing_mode="stretch_width",
        x_axis_label="epoch",
        y_axis_label="loss",
        tools="pan,wheel_zoom,box_zoom,reset,save",
    )


def _finite(value: Any) -> float:
    """A history cell as a float, NaN when blank or not a number (Bokeh draws a gap)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _is_loss(column: str) -> bool:
    """history.csv columns that are losses (``train_*``, ``val_*``; not seconds or lr)."""
    return column.startswith(("train_", "val_"))


__all__ = [
    "SPRITE_KINDS",
    "MapColumns",
    "SpriteLayout",
    "code_map_figure",
    "loss_curves_figure",
    "overlay_loss_curves_figure",
    "sprite_css",
    "sprite_sheet",
]
