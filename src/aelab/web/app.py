"""The one ASGI app behind ``aelab serve`` (and, later, ``aelab explore``).

``create_app(run_dir)`` returns a FastAPI app serving one run:

- ``POST /v1/score``: images -> ``{"scores", "anomaly", "threshold", "score"}`` (the run's
  ``detector.json``; 409 without one);
- ``POST /v1/encode`` -> ``{"codes"}``; ``POST /v1/reconstruct`` -> ``{"images"}``;
- ``GET /v1/model`` (config, detector, shapes); ``GET /health``; ``/openapi.json``, ``/docs``.

Images come as JSON ``{"images": ...}``: floats in [0, 1] shaped (N, C, H, W), (N, H, W) or
(N, H*W), or as one uploaded PNG/JPEG (multipart field ``image``). Request bodies above
``max_body`` bytes get 413 before any parsing (:class:`BodyLimit` counts the declared
Content-Length and the streamed bytes). Concurrent requests are micro-batched
(:class:`MicroBatcher`: gathered for ``batch_window`` seconds, computed as one batch in a
worker thread). Every bad request gets a 4xx ``{"error": "..."}`` naming the problem.
Other front ends mount more routes on the app this returns (``app.state.served`` holds the
loaded model and detector).
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from aelab import __version__
from aelab.errors import AelabError
from aelab.reuse.detector import DETECTOR_FILE, Detector, scoring_checkpoint
from aelab.reuse.inference import TrainedModel, load

MAX_BODY = 32 * 1024 * 1024  # bytes
BATCH_WINDOW = 0.005  # seconds a batch waits for more requests
MAX_BATCH = 2048  # images per computed batch
IMAGE_TYPES = ("image/png", "image/jpeg")


class RequestError(Exception):
    """A bad request: ``status`` and a one-line message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


# --------------------------------------------------------------------------- body limit


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` gets 413 JSON, decided from the
    Content-Length header before the app runs, or while the body streams (chunked uploads)."""

    def __init__(self, app: Callable, max_bytes: int = MAX_BODY) -> None:
        self.app, self.max_bytes = app, max_bytes

    def _message(self) -> str:
        return (
            f"request body is larger than the limit of {self.max_bytes:,} bytes; "
            "send fewer images per request."
        )

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _error(400, "Content-Length is not an integer.")(scope, receive, send)
                    return
                if declared > self.max_bytes:
                    await _error(413, self._message())(scope, receive, send)
                    return
        seen, started = 0, False

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def watched(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await _error(413, self._message())(scope, receive, send)


# --------------------------------------------------------------------------- micro-batching


@dataclass
class _Job:
    images: np.ndarray
    future: asyncio.Future


class MicroBatcher:
    """Gathers concurrent calls for up to ``window`` seconds (or ``max_batch`` images) and
    runs ``fn`` once on their concatenation in a worker thread; each caller gets its rows.
    ``fn``: (N, C, H, W) float32 -> dict of arrays with N rows."""

    def __init__(
        self,
        fn: Callable[[np.ndarray], dict],
        *,
        window: float = BATCH_WINDOW,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.fn, self.window, self.max_batch = fn, window, max_batch
        self.queue: asyncio.Queue[_Job] = asyncio.Queue()
        self.task: asyncio.Task | None = None
        self.batches = 0  # computed batches (for tests and the benchmark)
        self.waiting = 0  # requests queued or being computed (GET /health reports them)

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    async def __call__(self, images: np.ndarray) -> dict:
        future = asyncio.get_running_loop().create_future()
        self.waiting += 1
        try:
            await self.queue.put(_Job(images, future))
            return await future
        finally:
            self.waiting -= 1

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await self.queue.get()]
            size = len(jobs[0].images)
            deadline = loop.time() + self.window
            while size < self.max_batch:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self.queue.get(), remaining)
                except asyncio.TimeoutError:
                    break
                jobs.append(job)
                size += len(job.images)
            await self._compute(jobs)

    async def _compute(self, jobs: list[_Job]) -> None:
        try:
            batch = np.concatenate([j.images for j in jobs])
            out = await asyncio.to_thread(self.fn, batch)
        except Exception as exc:  # the callers get the failure; the batcher keeps serving
            for j in jobs:
                if not j.future.done():
                    j.future.set_exception(exc)
            return
        self.batches += 1
        start = 0
        for j in jobs:
            end = start + len(j.images)
            if not j.future.done():
                j.future.set_result({k: v[start:end] for k, v in out.items()})
            start = end


# --------------------------------------------------------------------------- inputs


def images_from_json(body: bytes) -> np.ndarray:
    """``{"images": [...]}`` -> float32 array, checked: numbers, finite, in [0, 1], not empty."""
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RequestError(400, f"body is not valid JSON ({exc}).") from None
    if not isinstance(payload, dict) or "images" not in payload:
        raise RequestError(422, 'expected a JSON object with the key "images".')
    try:
        array = np.asarray(payload["images"])
    except ValueError:
        raise RequestError(422, "images is ragged: every image must have the same shape.") from None
    if array.dtype == object:
        raise RequestError(422, "images is ragged: every image must have the same shape.")
    if array.size == 0:
        raise RequestError(422, "images is empty: send at least one image.")
    if array.dtype.kind not in "iuf":
        raise RequestError(
            422, f"images has the wrong dtype ({array.dtype.kind!r}): expected numbers in [0, 1]."
        )
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise RequestError(422, "images contain NaN or infinity: expected floats in [0, 1].")
    lo, hi = float(array.min()), float(array.max())
    if lo < 0 or hi > 1:
        raise RequestError(
            422,
            f"images have values in [{lo:g}, {hi:g}]: expected floats in [0, 1] (divide pixels by 255).",
        )
    return array.astype(np.float32)


def image_from_upload(data: bytes, channels: int) -> np.ndarray:
    """A PNG/JPEG file -> (1, C, H, W) float32 in [0, 1] (grey or RGB, as the model takes)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image = image.convert("L" if channels == 1 else "RGB")
            pixels = np.asarray(image, dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise RequestError(
            422, f"the uploaded file is not a decodable PNG or JPEG image ({exc})."
        ) from None
    pixels = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
    return pixels[None]


# --------------------------------------------------------------------------- the app


def add_error_handlers(app: FastAPI) -> None:
    """Answer every bad request of ``app`` with a 4xx ``{"error": "..."}`` (shared with
    ``aelab explore``'s app, :mod:`aelab.web.explore`)."""

    @app.exception_handler(RequestError)
    async def _bad_request(request: Request, exc: RequestError) -> JSONResponse:
        return _error(exc.status, exc.message)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, f"invalid request: {exc.errors()}")


@dataclass
class Served:
    """What the app serves: the run's model, its detector (None without detector.json)."""

    run_dir: Path
    model: TrainedModel
    detector: Detector | None


def create_app(
    run_dir: str | Path,
    *,
    checkpoint: str | None = None,
    device: str = "cpu",
    max_body: int = MAX_BODY,
    batch_window: float = BATCH_WINDOW,
    max_batch: int = MAX_BATCH,
) -> FastAPI:
    """The app serving the run in ``run_dir`` (loaded now, so a bad run fails at start).
    ``checkpoint``: None takes the one the run's detector was calibrated on, else "best"."""
    run_dir = Path(run_dir)
    detector = Detector.load(run_dir) if (run_dir / DETECTOR_FILE).is_file() else None
    checkpoint = scoring_checkpoint(run_dir, checkpoint, detector=detector)
    model = load(run_dir, checkpoint=checkpoint, device=device)
    served = Served(run_dir, model, detector)

    def as_batch(images: np.ndarray) -> np.ndarray:
        try:
            return np.ascontiguousarray(model.as_images(images), dtype=np.float32)
        except AelabError as exc:
            raise RequestError(422, str(exc)) from None

    def score(batch: np.ndarray) -> dict:
        assert detector is not None
        s = detector.score(model, batch)
        return {"scores": s, "anomaly": detector.decide(s)}

    batchers = {
        "score": MicroBatcher(score, window=batch_window, max_batch=max_batch),
        "encode": MicroBatcher(
            lambda b: {"codes": model.encode(b)}, window=batch_window, max_batch=max_batch
        ),
        "reconstruct": MicroBatcher(
            lambda b: {"images": model.reconstruct(b)}, window=batch_window, max_batch=max_batch
        ),
    }

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        for b in batchers.values():
            b.start()
        yield
        for b in batchers.values():
            await b.stop()

    app = FastAPI(
        title="aelab serve",
        version=__version__,
        description=f"The autoencoder of the run {run_dir.name}: anomaly scores, codes and "
        "reconstructions of images sent as JSON arrays of floats in [0, 1] or as PNG/JPEG.",
        lifespan=lifespan,
    )
    app.state.served = served
    app.state.batchers = batchers
    app.add_middleware(BodyLimit, max_bytes=max_body)

    add_error_handlers(app)

    async def read_images(request: Request) -> np.ndarray:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/json":
            return as_batch(images_from_json(await request.body()))
        if kind == "multipart/form-data":
            form = await request.form()
            upload = form.get("image") or form.get("file")
            if upload is None or isinstance(upload, str):
                raise RequestError(422, 'expected an uploaded file in the multipart field "image".')
            if upload.content_type not in IMAGE_TYPES:
                raise RequestError(
                    415,
                    f"uploaded file has type {upload.content_type!r}: expected a PNG or JPEG image.",
                )
            return as_batch(image_from_upload(await upload.read(), model.input_shape[0]))
        raise RequestError(
            415,
            f"content type {kind or 'none'!r} is not accepted: send application/json "
            '({"images": [...]}) or multipart/form-data with a PNG/JPEG in the field "image".',
        )

    async def run(name: str, request: Request) -> dict:
        images = await read_images(request)
        try:
            return await batchers[name](images)
        except AelabError as exc:
            raise RequestError(422, str(exc)) from None

    @app.get("/health")
    async def health() -> dict:
        return {
            "status": "ok",
            "run": str(run_dir),
            "detector": detector is not None,
            "waiting": sum(b.waiting for b in batchers.values()),
        }

    @app.get("/v1/model")
    async def model_info() -> dict:
        config = model.config.to_dict() if model.config is not None else None
        return {
            "run": str(run_dir),
            "input_shape": list(model.input_shape),
            "latent_dim": model.latent_dim,
            "config": json.loads(json.dumps(config, default=str)),
            "detector": detector.to_dict() if detector is not None else None,
            "aelab_version": __version__,
        }

    @app.post("/v1/score")
    async def score_images(request: Request) -> dict:
        """Anomaly scores (higher = more anomalous) and decisions (score > threshold)."""
        if detector is None:
            raise RequestError(
                409, f"this run has no {DETECTOR_FILE}: calibrate one (aelab anomaly --save-runs)."
            )
        out = await run("score", request)
        return {
            "scores": [float(v) for v in out["scores"]],
            "anomaly": [bool(v) for v in out["anomaly"]],
            "threshold": detector.threshold,
            "score": detector.score_name,
        }

    @app.post("/v1/encode")
    async def encode(request: Request) -> dict:
        """Codes (N, latent_dim)."""
        return {"codes": (await run("encode", request))["codes"].tolist()}

    @app.post("/v1/reconstruct")
    async def reconstruct(request: Request) -> dict:
        """Reconstructions (N, C, H, W) in [0, 1]."""
        return {"images": (await run("reconstruct", request))["images"].tolist()}

    return app


__all__ = ["MAX_BODY", "BodyLimit", "MicroBatcher", "Served", "add_error_handlers", "create_app"]
