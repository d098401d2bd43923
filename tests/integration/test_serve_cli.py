"""`aelab serve RUN` as a user runs it: a subprocess on a free loopback port. Its scores equal
the Python API's, every bad request gets a 4xx JSON message and the next good request is
still served, and SIGTERM lets a request in flight finish before the process exits."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from PIL import Image  # noqa: E402

from aelab.reuse.detector import Detector  # noqa: E402
from aelab.reuse.inference import load  # noqa: E402
from detector_run import detector_run  # noqa: E402

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0  # seconds for the server to answer /health
STOP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    data, run = detector_run(tmp_path_factory.mktemp("serve-cli") / "class-1")
    return data, run


def start(run: Path, port: int, *extra: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    argv = [
        sys.executable,
        "-m",
        "aelab",
        "serve",
        str(run),
        "--port",
        str(port),
        "--device",
        "cpu",
        *extra,
    ]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_healthy(proc: subprocess.Popen, url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"aelab serve exited {proc.returncode}: {proc.stderr.read().decode()}"
            )
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"aelab serve did not answer /health within {START_TIMEOUT:.0f} s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT)


def floats(images: np.ndarray) -> list:
    return (images.astype(np.float32) / 255).tolist()


def png_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


JSON = {"content-type": "application/json"}
BAD = [  # (what, request kwargs, status)
    ("invalid JSON", {"content": b"{images", "headers": JSON}, 400),
    ("wrong shape", {"json": {"images": [[0.5] * 7]}}, 422),
    ("wrong dtype", {"json": {"images": [[True, "x"] * 72]}}, 422),
    ("NaN", {"content": b'{"images": [[NaN' + b", 0.5" * 143 + b"]]}", "headers": JSON}, 422),
    ("outside [0, 1]", {"json": {"images": [[-0.5] * 144]}}, 422),
    ("empty batch", {"json": {"images": []}}, 422),
    ("oversized body", {"content": b"[" + b"0.5," * 300_000 + b"0]", "headers": JSON}, 413),
    ("wrong content type", {"content": b"images=1", "headers": {"content-type": "text/csv"}}, 415),
    ("undecodable image", {"files": {"image": ("x.png", b"\x89PNG broken", "image/png")}}, 422),
]


def test_serve_scores_rejects_bad_requests_and_drains_on_sigterm(served):
    data, run = served
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start(run, port, "--max-body-mb", "1", "--batch-window-ms", "400")
    try:
        wait_healthy(proc, url)
        images = data.test.images[:16]
        good = {"json": {"images": floats(images)}}
        with httpx.Client(base_url=url, timeout=30) as client:
            r = client.post("/v1/score", **good)
            assert r.status_code == 200, r.text
            model, det = load(run), Detector.load(run)
            expected = det.score(model, images.astype(np.float32) / 255)
            np.testing.assert_allclose(r.json()["scores"], expected, rtol=1e-6, atol=1e-6)
            assert r.json()["anomaly"] == det.decide(expected).tolist()
            upload = {"files": {"image": ("a.png", png_bytes(images[0, 0]), "image/png")}}
            r = client.post("/v1/score", **upload)
            np.testing.assert_allclose(r.json()["scores"], expected[:1], rtol=1e-6, atol=1e-6)

            for what, kwargs, status in BAD:
                bad = client.post("/v1/score", **kwargs)
                assert bad.status_code == status, f"{what}: {bad.status_code} {bad.text}"
                assert bad.headers["content-type"] == "application/json", what
                assert bad.json()["error"], what
                assert client.post("/v1/score", **good).status_code == 200, f"after {what}"

        # SIGTERM while a request waits in its 400 ms micro-batch: it still gets its answer.
        # The signal goes only once /health says a request is waiting (no timing guess); a
        # request answered before the poll saw it is sent again (a few tries at most).
        result: dict = {}
        for _ in range(5):
            result.clear()

            def in_flight() -> None:
                result["response"] = httpx.post(f"{url}/v1/score", timeout=30, **good)

            thread = threading.Thread(target=in_flight)
            thread.start()
            seen = False
            while thread.is_alive() and not seen:
                seen = httpx.get(f"{url}/health", timeout=30).json()["waiting"] > 0
            if seen:
                break
            thread.join()
        assert seen, "no request was ever seen waiting in the micro-batch"
        proc.send_signal(signal.SIGTERM)
        thread.join(timeout=STOP_TIMEOUT)
        assert result["response"].status_code == 200
        # uvicorn shuts down gracefully, then re-raises the signal it caught (exit as by SIGTERM)
        assert proc.wait(timeout=STOP_TIMEOUT) in (0, -signal.SIGTERM)
        assert "Traceback" not in proc.stderr.read().decode()
    finally:
        stop(proc)


def test_serve_binds_loopback_and_rejects_a_missing_run(tmp_path):
    proc = start(tmp_path / "missing", free_port())
    try:
        assert proc.wait(timeout=STOP_TIMEOUT) == 2
        assert "missing" in proc.stderr.read().decode()
    finally:
        stop(proc)
