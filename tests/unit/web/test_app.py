"""The serve app in process (FastAPI's TestClient): scores equal the Python API's, every bad
request gets a 4xx JSON message naming the problem, and the next good request still works."""

from __future__ import annotations

import asyncio
import io
import json

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient
from PIL import Image

from aelab.reuse.detector import Detector
from aelab.reuse.inference import load
from aelab.web.app import MicroBatcher, create_app
from detector_run import detector_run


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    data, run = detector_run(tmp_path_factory.mktemp("serve") / "class-1")
    return data, run


@pytest.fixture(scope="module")
def client(served):
    _, run = served
    with TestClient(create_app(run, max_body=64 * 1024)) as c:
        yield c


def floats(images: np.ndarray) -> list:
    return (images.astype(np.float32) / 255).tolist()


def test_scores_equal_the_python_api(client, served):
    data, run = served
    images = data.test.images[:20]
    r = client.post("/v1/score", json={"images": floats(images)})
    assert r.status_code == 200, r.text
    body = r.json()
    # served with the weights the detector was calibrated on (the class run's "last")
    model, det = load(run, checkpoint="last"), Detector.load(run)
    expected = det.score(model, images.astype(np.float32) / 255)
    np.testing.assert_allclose(body["scores"], expected, rtol=1e-6, atol=1e-6)
    assert body["anomaly"] == det.decide(expected).tolist()
    assert body["threshold"] == det.threshold and body["score"] == "combined"
    # (N, H, W) and (N, H*W) are the same images
    for shaped in (images[:, 0], images.reshape(20, -1)):
        again = client.post("/v1/score", json={"images": floats(shaped)}).json()
        np.testing.assert_allclose(again["scores"], body["scores"], rtol=1e-6)


def test_encode_reconstruct_model_health_and_openapi(client, served):
    data, run = served
    images = data.test.images[:3]
    codes = client.post("/v1/encode", json={"images": floats(images)}).json()["codes"]
    np.testing.assert_allclose(codes, load(run).encode(images), rtol=1e-5, atol=1e-6)
    recon = client.post("/v1/reconstruct", json={"images": floats(images)}).json()["images"]
    assert np.asarray(recon).shape == (3, 1, 12, 12)
    info = client.get("/v1/model").json()
    assert info["input_shape"] == [1, 12, 12] and info["detector"]["target_fpr"] == 0.1
    assert info["config"]["model"]["latent_dim"] == 8
    assert client.get("/health").json()["status"] == "ok"
    schema = client.get("/openapi.json").json()
    assert {"/v1/score", "/v1/encode", "/v1/reconstruct", "/v1/model", "/health"} <= set(
        schema["paths"]
    )
    assert client.get("/docs").status_code == 200


def png(image: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt)
    return buf.getvalue()


def test_uploaded_png_scores_as_the_array(client, served):
    data, _ = served
    image = data.test.images[0, 0]
    r = client.post("/v1/score", files={"image": ("x.png", png(image), "image/png")})
    assert r.status_code == 200, r.text
    same = client.post("/v1/score", json={"images": floats(data.test.images[:1])}).json()
    np.testing.assert_allclose(r.json()["scores"], same["scores"], rtol=1e-6)


BAD = {
    "invalid JSON": (
        dict(content=b"{images: [", headers={"content-type": "application/json"}),
        400,
        "JSON",
    ),
    "no images key": (dict(json={"pixels": [[0.5]]}), 422, "images"),
    "wrong shape": (dict(json={"images": [[[0.5] * 5] * 5]}), 422, "shape"),
    "ragged": (dict(json={"images": [[0.5, 0.5], [0.5]]}), 422, "ragged"),
    "wrong dtype": (dict(json={"images": [["a"] * 144]}), 422, "dtype"),
    "NaN": (
        dict(
            content=b'{"images": [[NaN' + b", 0.5" * 143 + b"]]}",
            headers={"content-type": "application/json"},
        ),
        422,
        "NaN",
    ),
    "out of range": (dict(json={"images": [[2.0] * 144]}), 422, "[0, 1]"),
    "empty batch": (dict(json={"images": []}), 422, "empty"),
    "oversized body": (dict(json={"images": [[0.5] * 144] * 200}), 413, "limit"),
    "wrong content type": (
        dict(content=b"x", headers={"content-type": "text/plain"}),
        415,
        "content type",
    ),
    "undecodable image": (
        dict(files={"image": ("x.png", b"not a png", "image/png")}),
        422,
        "decodable",
    ),
    "upload not an image": (dict(files={"image": ("x.txt", b"hello", "text/plain")}), 415, "PNG"),
    "image of the wrong size": (
        dict(files={"image": ("x.png", png(np.zeros((20, 20), np.uint8)), "image/png")}),
        422,
        "12x12",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_requests_get_4xx_json_and_the_server_keeps_serving(client, served, case):
    kwargs, status, needle = BAD[case]
    r = client.post("/v1/score", **kwargs)
    assert r.status_code == status, r.text
    assert needle in r.json()["error"]
    data, _ = served
    good = client.post("/v1/score", json={"images": floats(data.test.images[:2])})
    assert good.status_code == 200


def test_streamed_body_over_the_limit_is_413_before_parsing(client):
    def chunks():
        yield b'{"images": ['
        for _ in range(100):
            yield json.dumps([0.5] * 1000).encode() + b","
        yield b"[0.5]]}"

    r = client.post("/v1/score", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "limit" in r.json()["error"]


def test_micro_batcher_gathers_concurrent_calls():
    calls = []

    def fn(batch):
        calls.append(len(batch))
        return {"double": batch * 2}

    async def main():
        batcher = MicroBatcher(fn, window=0.05)
        batcher.start()
        parts = [np.full((i + 1, 1), float(i)) for i in range(5)]
        outs = await asyncio.gather(*(batcher(p) for p in parts))
        await batcher.stop()
        return parts, outs

    parts, outs = asyncio.run(main())
    assert calls == [15]  # one batch for the five callers
    for p, o in zip(parts, outs, strict=True):
        np.testing.assert_array_equal(o["double"], p * 2)


def test_a_run_without_detector_scores_409(served, tmp_path):
    import shutil

    _, run = served
    bare = tmp_path / "bare"
    shutil.copytree(run, bare)
    (bare / "detector.json").unlink()
    with TestClient(create_app(bare)) as c:
        r = c.post("/v1/score", json={"images": [[0.5] * 144]})
        assert r.status_code == 409 and "detector.json" in r.json()["error"]
        assert c.post("/v1/encode", json={"images": [[0.5] * 144]}).status_code == 200
