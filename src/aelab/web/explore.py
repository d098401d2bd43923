"""``aelab explore``: look into the code space of one or more runs, live.

``create_explore_app(runs)`` returns a FastAPI app (the stack of ``aelab serve``: the same
:class:`~aelab.web.app.BodyLimit`, error handlers and upload decoding) with one page and a
few JSON endpoints. Each run shows its test codes as a 2-D map (Bokeh, BokehJS inlined,
from the files the evaluation stored under ``RUN/figures/code_map/``):

- ``POST /api/point``: a clicked map position -> its code (the projection's inverse: PCA
  exactly, UMAP's ``inverse_transform``), the decoded image and the nearest test image;
- ``GET /api/image/{run}/{index}``: a test image, its code and reconstruction;
- ``POST /api/decode``: codes -> images (the page's sliders move a code along its principal
  directions, ``GET /api/runs`` gives them);
- ``POST /api/path``: the decoded path between two test images' codes;
- ``POST /api/sample``: samples from the prior (generative models);
- ``POST /api/upload``: a PNG/JPEG, converted to the model's channels and resized to its
  input size -> code, reconstruction, map position and (RUN/detector.json) anomaly score.

Runs are read, never written. Bad requests get a 4xx ``{"error"}`` the page shows.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from aelab import __version__
from aelab.errors import AelabError, CheckpointError
from aelab.evaluation.code_map import Projection, as_uint8, fit_projection
from aelab.report.interactive import (
    CodeMapData,
    bokeh_resources,
    map_columns,
    read_code_map,
)
from aelab.reuse.detector import DETECTOR_FILE, Detector
from aelab.reuse.inference import TrainedModel, load
from aelab.web.app import BodyLimit, RequestError, add_error_handlers, image_from_upload

MAX_UPLOAD = 8 * 1024 * 1024  # bytes
UPLOAD_FORMATS = ("PNG", "JPEG")
SLIDERS = 8  # principal directions of the code shown as sliders
MAX_STEPS = 32  # frames of a decoded path
MAX_SAMPLES = 32  # prior samples per request
MAX_DECODE = 256  # codes per decode request
THUMB_PX = 112  # shown size (longer side) of the images the page decodes


@dataclass
class ExploredRun:
    """One run as the explorer holds it: model, detector, stored map, its projection and
    the codes' principal directions (``mean`` (d,), ``directions`` (K, d), ``spread`` (K,))."""

    name: str
    run_dir: Path
    model: TrainedModel
    detector: Detector | None
    data: CodeMapData
    projection: Projection
    originals: np.ndarray  # (N, C, H, W) uint8, cut from the stored sprite sheet
    mean: np.ndarray
    directions: np.ndarray
    spread: np.ndarray

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "run": str(self.run_dir),
            "points": len(self.data),
            "latent_dim": self.model.latent_dim,
            "input_shape": list(self.model.input_shape),
            "projection": self.projection.name,
            "decodes_points": self.projection.can_transform,
            "generative": bool(self.model.model.is_generative),
            "detector": self.detector is not None,
            "mean": self.mean.tolist(),
            "directions": self.directions.tolist(),
            "spread": self.spread.tolist(),
        }


def _tiles(png: bytes | None, count: int, shape: tuple[int, int, int]) -> np.ndarray:
    """The ``count`` tiles (N, C, H, W) uint8 of a sprite sheet (zeros without one)."""
    from PIL import Image

    from aelab.viz.interactive import SpriteLayout

    c, h, w = shape
    if png is None:
        return np.zeros((count, c, h, w), dtype=np.uint8)
    sheet = np.asarray(Image.open(io.BytesIO(png)).convert("L" if c == 1 else "RGB"))
    sheet = sheet[..., None] if sheet.ndim == 2 else sheet
    cols = SpriteLayout.for_images(count, h, w).columns
    out = np.empty((count, c, h, w), dtype=np.uint8)
    for i in range(count):
        r, k = divmod(i, cols)
        out[i] = sheet[r * h : (r + 1) * h, k * w : (k + 1) * w].transpose(2, 0, 1)
    return out


def _principal(codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, the first ``k`` principal directions (k, d) and their standard deviations."""
    mean = codes.mean(axis=0)
    centred = codes - mean
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(k, len(vt))
    spread = s[:k] / np.sqrt(max(len(codes) - 1, 1))
    return mean.astype(np.float32), vt[:k].astype(np.float32), spread.astype(np.float32)


def open_run(
    run_dir: str | Path,
    *,
    checkpoint: str = "best",
    device: str = "cpu",
    projection: str = "pca",
    seed: int = 0,
) -> ExploredRun:
    """Load a run for exploring; a folder that is not an evaluated run -> CheckpointError."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir} is not a directory; pass a run folder (runs/NAME).")
    data = read_code_map(run_dir)
    if data is None:
        raise CheckpointError(
            f"{run_dir} has no code map data (figures/code_map/points.npz): it is not a run, "
            f"or was evaluated with --figures basic; run `aelab evaluate {run_dir} --figures all`."
        )
    model = load(run_dir, checkpoint=checkpoint, device=device)
    if data.codes.shape[1] != model.latent_dim:
        raise CheckpointError(
            f"{run_dir}: the stored codes have {data.codes.shape[1]} units but the model's code "
            f"has {model.latent_dim}; re-evaluate the run (aelab evaluate {run_dir})."
        )
    detector = Detector.load(run_dir) if (run_dir / DETECTOR_FILE).is_file() else None
    mean, directions, spread = _principal(data.codes.astype(np.float64), SLIDERS)
    fitted = fit_projection(data.codes, projection, seed=seed)
    data.points, data.projection = fitted.points, fitted.name
    originals = _tiles(data.sprites.get("originals"), len(data), tuple(model.input_shape))
    if detector is not None and "anomaly_score" not in data.extra:
        data.extra["anomaly_score"] = detector.score(model, originals).astype(np.float32)
    return ExploredRun(
        run_dir.resolve().name,
        run_dir,
        model,
        detector,
        data,
        fitted,
        originals,
        mean,
        directions,
        spread,
    )


# --------------------------------------------------------------------------- images out


def png_uri(image: np.ndarray) -> str:
    """One image (C, H, W) uint8 or float in [0, 1] -> a PNG data URI."""
    from PIL import Image

    pixels = as_uint8(np.asarray(image)).transpose(1, 2, 0)
    mode = "L" if pixels.shape[2] == 1 else "RGB"
    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0] if mode == "L" else pixels, mode).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def upload_image(data: bytes, shape: tuple[int, int, int]) -> tuple[np.ndarray, str]:
    """An uploaded PNG/JPEG -> (1, C, H, W) float32 in [0, 1] the way the run's data are
    (grey or RGB, the model's size), and a note saying what was converted ("" if nothing)."""
    from PIL import Image

    c, h, w = shape
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
    except Image.DecompressionBombError as exc:
        raise RequestError(413, f"the uploaded image is too large to decode ({exc}).") from None
    except (OSError, ValueError):
        kind = None
    if kind not in UPLOAD_FORMATS:
        found = f"a {kind} image" if kind else f"{len(data):,} bytes that are no image"
        raise RequestError(
            415, f"the uploaded file is {found}: choose a PNG or JPEG image (.png, .jpg)."
        )
    pixels = image_from_upload(data, c)
    found = pixels.shape[-2:]
    if tuple(found) == (h, w):
        return pixels, ""
    channels_last = as_uint8(pixels[0]).transpose(1, 2, 0)
    image = Image.fromarray(channels_last[..., 0] if c == 1 else channels_last)
    image = image.resize((w, h), Image.Resampling.LANCZOS)
    resized = np.asarray(image, dtype=np.float32) / 255.0
    resized = resized[None] if resized.ndim == 2 else resized.transpose(2, 0, 1)
    note = f"resized from {found[1]}x{found[0]} to the model's {w}x{h}"
    return resized[None], note


# --------------------------------------------------------------------------- the app


def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("aelab.web", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )


def render_page(runs: list[ExploredRun]) -> str:
    """The explorer's HTML: BokehJS inline, one map per run, the controls and their JS."""
    from bokeh.embed import components

    from aelab.viz.interactive import code_map_figure, sprite_css

    figures = {}
    for i, run in enumerate(runs):
        figures[f"map{i}"] = code_map_figure(
            map_columns(run.data),
            title=f"{run.name}: {run.projection.name} of {len(run.data):,} test codes",
            height=420,
            tap=f"window.aelab && window.aelab.tap({i}, x, y);",
            selected_panel=False,
            marks=f"marks-{i}",
        )
    script, divs = components(figures)
    css = "\n".join(
        sprite_css(run.data.sprites).replace(":root", f".run-{i}") for i, run in enumerate(runs)
    )
    return (
        _environment()
        .get_template("explore.html.j2")
        .render(
            runs=[r.summary() for r in runs],
            runs_json=json.dumps([r.summary() for r in runs]),
            resources=bokeh_resources(),
            css=css,
            script=script,
            divs=[divs[f"map{i}"] for i in range(len(runs))],
            version=__version__,
            max_upload_mb=MAX_UPLOAD / 1024 / 1024,
        )
    )


def create_explore_app(
    runs: list[str | Path] | list[ExploredRun],
    *,
    checkpoint: str = "best",
    device: str = "cpu",
    projection: str = "pca",
    max_body: int = MAX_UPLOAD,
) -> FastAPI:
    """The explorer of ``runs`` (folders, loaded now so a bad one fails at start)."""
    explored = [
        r
        if isinstance(r, ExploredRun)
        else open_run(r, checkpoint=checkpoint, device=device, projection=projection)
        for r in runs
    ]
    if not explored:
        raise CheckpointError("no run to explore: pass at least one run folder.")
    page = render_page(explored)
    app = FastAPI(title="aelab explore", version=__version__, docs_url=None, redoc_url=None)
    app.state.explored = explored
    app.add_middleware(BodyLimit, max_bytes=max_body)
    add_error_handlers(app)

    def get_run(i: Any) -> ExploredRun:
        if not isinstance(i, int) or not 0 <= i < len(explored):
            raise RequestError(422, f"run {i!r} is unknown: expected 0-{len(explored) - 1}.")
        return explored[i]

    def get_index(run: ExploredRun, i: Any) -> int:
        if not isinstance(i, int) or not 0 <= i < len(run.data):
            raise RequestError(
                422, f"image {i!r} is unknown: expected a test index 0-{len(run.data) - 1}."
            )
        return i

    async def body(request: Request) -> dict:
        try:
            payload = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RequestError(400, f"body is not valid JSON ({exc}).") from None
        if not isinstance(payload, dict):
            raise RequestError(422, "expected a JSON object.")
        return payload

    def decode(run: ExploredRun, codes: np.ndarray) -> list[str]:
        try:
            images = run.model.decode(codes.astype(np.float32))
        except AelabError as exc:
            raise RequestError(422, str(exc)) from None
        return [png_uri(im) for im in images]

    def nearest(run: ExploredRun, point: np.ndarray) -> int:
        return int(np.argmin(((run.data.points - point) ** 2).sum(axis=1)))

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        return page

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "runs": [str(r.run_dir) for r in explored]}

    @app.get("/api/runs")
    async def runs_info() -> list[dict]:
        return [r.summary() for r in explored]

    @app.post("/api/point")
    async def point(request: Request) -> dict:
        """A map position -> its code and decoded image, and the nearest test image."""
        p = await body(request)
        run = get_run(p.get("run"))
        try:
            xy = np.asarray([[float(p["x"]), float(p["y"])]], dtype=np.float32)
        except (KeyError, TypeError, ValueError):
            raise RequestError(422, 'expected numbers "x" and "y" (a map position).') from None
        if not np.isfinite(xy).all():
            raise RequestError(422, "x and y must be finite numbers.")
        try:
            code = run.projection.inverse(xy)
        except AelabError as exc:
            raise RequestError(409, str(exc)) from None
        return {
            "code": code[0].tolist(),
            "image": decode(run, code)[0],
            "nearest": nearest(run, xy[0]),
        }

    @app.get("/api/image/{run_index}/{index}")
    async def image(run_index: int, index: int) -> dict:
        run = get_run(run_index)
        index = get_index(run, index)
        code = run.data.codes[index : index + 1]
        labels = run.data.label_names()
        return {
            "index": index,
            "label": labels[index],
            "error": float(run.data.error[index]),
            "code": code[0].tolist(),
            "point": run.data.points[index].tolist(),
            "original": png_uri(run.originals[index]),
            "reconstruction": decode(run, code)[0],
        }

    @app.post("/api/decode")
    async def decode_codes(request: Request) -> dict:
        p = await body(request)
        run = get_run(p.get("run"))
        try:
            codes = np.asarray(p["codes"], dtype=np.float32)
        except (KeyError, TypeError, ValueError):
            raise RequestError(
                422, 'expected "codes": a list of codes (lists of numbers).'
            ) from None
        if (
            codes.ndim != 2
            or codes.shape[1] != run.model.latent_dim
            or not 0 < len(codes) <= MAX_DECODE
        ):
            raise RequestError(
                422,
                f"codes have shape {list(codes.shape)}: expected 1-{MAX_DECODE} codes of "
                f"{run.model.latent_dim} numbers.",
            )
        return {"images": decode(run, codes)}

    @app.post("/api/path")
    async def path(request: Request) -> dict:
        """The decoded straight path between the codes of test images ``a`` and ``b``."""
        p = await body(request)
        run = get_run(p.get("run"))
        a, b = get_index(run, p.get("a")), get_index(run, p.get("b"))
        steps = p.get("steps", 9)
        if not isinstance(steps, int) or not 2 <= steps <= MAX_STEPS:
            raise RequestError(422, f"steps {steps!r} is invalid: expected 2-{MAX_STEPS}.")
        t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
        codes = (1 - t) * run.data.codes[a] + t * run.data.codes[b]
        return {
            "images": decode(run, codes),
            "points": run.projection.transform(codes).tolist()
            if run.projection.can_transform
            else None,
        }

    @app.post("/api/sample")
    async def sample(request: Request) -> dict:
        import torch

        p = await body(request)
        run = get_run(p.get("run"))
        n = p.get("n", 8)
        if not run.model.model.is_generative:
            raise RequestError(409, f"{run.name} is not generative: only VAEs sample from a prior.")
        if not isinstance(n, int) or not 1 <= n <= MAX_SAMPLES:
            raise RequestError(422, f"n {n!r} is invalid: expected 1-{MAX_SAMPLES}.")
        with torch.inference_mode():
            images = run.model.model.sample(n).float().cpu().numpy()
        return {"images": [png_uri(im) for im in images]}

    @app.post("/api/upload")
    async def upload(request: Request) -> dict:
        """An uploaded image in every run: code, reconstruction, map position, score."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "multipart/form-data":
            raise RequestError(415, 'send the image as multipart/form-data in the field "image".')
        form = await request.form()
        upload = form.get("image")
        if upload is None or isinstance(upload, str):
            raise RequestError(422, 'expected an uploaded file in the multipart field "image".')
        data = await upload.read()
        if not data:
            raise RequestError(422, "the uploaded file is empty: choose a PNG or JPEG image.")
        out = []
        for run in explored:
            pixels, note = upload_image(data, tuple(run.model.input_shape))
            code = run.model.encode(pixels)
            recon = run.model.reconstruct(pixels)
            where = run.projection.transform(code) if run.projection.can_transform else None
            score = None
            if run.detector is not None:
                s = run.detector.score(run.model, pixels)
                score = {
                    "score": float(s[0]),
                    "anomaly": bool(run.detector.decide(s)[0]),
                    "threshold": run.detector.threshold,
                    "name": run.detector.score_name,
                }
            out.append(
                {
                    "name": run.name,
                    "note": note,
                    "input": png_uri(pixels[0]),
                    "code": code[0].tolist(),
                    "reconstruction": png_uri(recon[0]),
                    "point": None if where is None else where[0].tolist(),
                    "error": float(((recon - pixels) ** 2).mean()),
                    "anomaly": score,
                }
            )
        return {"runs": out}

    return app


__all__ = [
    "ExploredRun",
    "create_explore_app",
    "open_run",
    "png_uri",
    "render_page",
    "upload_image",
]
