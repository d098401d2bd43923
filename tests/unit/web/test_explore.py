"""The explore app in process (FastAPI's TestClient): a clicked point decodes to the PCA
inverse of that point, an upload's score equals the detector's, bad input gets a 4xx
message and the next good request works, and nothing is written into the run."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient
from PIL import Image

from aelab.errors import CheckpointError
from aelab.reuse.detector import Detector
from aelab.reuse.inference import load
from aelab.web.explore import create_explore_app, open_run
from explore_run import explore_run


@pytest.fixture(scope="module")
def explored(tmp_path_factory):
    return explore_run(tmp_path_factory.mktemp("explore") / "class-1")


@pytest.fixture(scope="module")
def client(explored):
    _, run = explored
    with TestClient(create_explore_app([run, run], device="cpu", max_body=256 * 1024)) as c:
        yield c


def pixels(uri: str) -> np.ndarray:
    data = base64.b64decode(uri.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)))


def png(array: np.ndarray, size=None) -> bytes:
    image = Image.fromarray(array)
    if size:
        image = image.resize(size)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_page_embeds_bokeh_inline_and_both_runs(client):
    html = client.get("/").text
    assert "cdn.bokeh.org" not in html and "<script src=" not in html
    assert 'id="run-0"' in html and 'id="run-1"' in html and 'id="slider-0-0"' in html


def test_a_clicked_point_decodes_its_pca_inverse(client, explored):
    _, run = explored
    r = client.post("/api/point", json={"run": 0, "x": 0.3, "y": -0.1})
    assert r.status_code == 200, r.text
    body = r.json()
    state = client.app.state.explored[0]
    expected_code = state.projection.inverse(np.array([[0.3, -0.1]], dtype=np.float32))[0]
    np.testing.assert_allclose(body["code"], expected_code, rtol=1e-5, atol=1e-5)
    decoded = load(run).decode(expected_code[None])[0, 0]
    np.testing.assert_allclose(pixels(body["image"]) / 255.0, decoded, atol=1 / 255 + 1e-6)
    assert 0 <= body["nearest"] < len(state.data)


def test_image_path_and_decode(client, explored):
    data, _ = explored
    r = client.get("/api/image/1/5")
    assert r.status_code == 200
    np.testing.assert_array_equal(pixels(r.json()["original"]), data.test.images[5, 0])
    r = client.post("/api/path", json={"run": 0, "a": 0, "b": 3, "steps": 5})
    assert len(r.json()["images"]) == 5
    info = client.get("/api/runs").json()[0]
    r = client.post("/api/decode", json={"run": 0, "codes": [info["mean"]]})
    assert r.status_code == 200 and len(r.json()["images"]) == 1


def test_upload_scores_like_the_detector(client, explored):
    data, run = explored
    image = data.test.images[7, 0]
    r = client.post("/api/upload", files={"image": ("x.png", png(image), "image/png")})
    assert r.status_code == 200, r.text
    first = r.json()["runs"][0]
    expected = Detector.load(run).score(load(run), image[None, None] / 255.0)[0]
    assert first["anomaly"]["score"] == pytest.approx(float(expected), rel=1e-5)
    assert first["note"] == "" and len(first["point"]) == 2
    # another size is resized to the model's, and says so
    r = client.post("/api/upload", files={"image": ("x.png", png(image, (40, 30)), "image/png")})
    assert r.json()["runs"][0]["note"] == "resized from 40x30 to the model's 12x12"


@pytest.mark.parametrize(
    ("kwargs", "status", "words"),
    [
        ({"files": {"image": ("x.txt", b"not an image", "text/plain")}}, 415, "PNG or JPEG"),
        ({"files": {"image": ("x.gif", b"GIF89a" + b"\0" * 20, "image/gif")}}, 415, "PNG or JPEG"),
        ({"files": {"image": ("x.png", b"\0" * 300_000, "image/png")}}, 413, "limit"),
        ({"json": {"run": 0}}, 415, "multipart"),
    ],
)
def test_bad_uploads_get_a_message_and_the_next_works(client, explored, kwargs, status, words):
    data, _ = explored
    r = client.post("/api/upload", **kwargs)
    assert r.status_code == status and words in r.json()["error"]
    good = client.post(
        "/api/upload", files={"image": ("x.png", png(data.test.images[0, 0]), "image/png")}
    )
    assert good.status_code == 200


@pytest.mark.parametrize(
    ("url", "body", "words"),
    [
        ("/api/point", {"run": 5, "x": 0, "y": 0}, "run 5 is unknown"),
        ("/api/point", {"run": 0, "x": "a"}, "x"),
        ("/api/path", {"run": 0, "a": 0, "b": 10_000}, "image 10000 is unknown"),
        ("/api/decode", {"run": 0, "codes": [[1, 2]]}, "expected 1-256 codes of 8"),
        ("/api/sample", {"run": 0}, "not generative"),
    ],
)
def test_bad_requests_name_the_problem(client, url, body, words):
    r = client.post(url, json=body)
    assert 400 <= r.status_code < 500 and words in r.json()["error"]


def test_nothing_is_written_into_the_run(explored):
    _, run = explored
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*")}
    with TestClient(create_explore_app([run], device="cpu")) as c:
        c.post("/api/point", json={"run": 0, "x": 0, "y": 0})
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*")} == before


def test_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(CheckpointError, match="aelab evaluate"):
        open_run(tmp_path)
    with pytest.raises(CheckpointError, match="not a directory"):
        open_run(tmp_path / "missing")
