"""The interactive report and `aelab explore` in the system Chromium (Playwright; no
browser download). Report: hovering the map shows an image, nothing but the file and data:
URIs is requested, no console error. Explorer (a subprocess on a free 127.0.0.1 port,
always stopped): a click on the map changes the decoded image, a slider changes the
reconstruction, an upload shows a score, a bad upload shows an error and the next good one
works. (The README's screenshot, of real runs, is made by
docs/images/make_explore_screenshot.py.)"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from explore_run import explore_run

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
START_TIMEOUT = 90.0

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
)
if not Path(CHROMIUM).exists():
    pytest.skip(
        f"no system Chromium at {CHROMIUM} (Debian: apt-get install chromium)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def explored(tmp_path_factory):
    return explore_run(tmp_path_factory.mktemp("explore-browser") / "class-1")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM)
        try:
            yield b
        finally:
            b.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def png_file(path: Path, array) -> Path:
    Image.fromarray(array).save(path)
    return path


def hover_until_tip(page, selector: str) -> bool:
    """Move the mouse over a grid of the map until a tooltip with thumbnails shows."""
    box = page.locator(f"{selector} canvas").first.bounding_box()
    for fx in range(5, 100, 4):
        for fy in range(5, 100, 6):
            page.mouse.move(box["x"] + box["width"] * fx / 100, box["y"] + box["height"] * fy / 100)
            tip = page.locator(".aelab-tip")
            if tip.count() and tip.first.is_visible():
                return True
    return False


def test_report_map_hover_shows_the_image_offline(explored, browser, tmp_path):
    _, run = explored
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((run / "report.html").as_uri())
    page.locator("#code-map canvas").first.wait_for(timeout=15000)
    page.locator("#code-map").scroll_into_view_if_needed()
    assert hover_until_tip(page, "#code-map"), "no tooltip appeared over the map"
    tile = page.locator(".aelab-tip div[title=originals]").first
    # the thumbnail is the sprite sheet shown through the CSS custom property
    assert tile.evaluate("e => getComputedStyle(e).backgroundImage").startswith(
        'url("data:image/png;base64,'
    )
    assert tile.bounding_box()["width"] > 20
    page.screenshot(path=str(tmp_path / "report-map-hover.png"))
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    assert errors == []
    page.close()


def test_explore_click_slider_upload(explored, browser, tmp_path):
    data, run = explored
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "aelab", "explore", str(run), "--port", str(port),
         "--no-browser", "--device", "cpu"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "aelab explore did not start"
                time.sleep(0.3)
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        page.goto(url)
        page.wait_for_selector("body[data-ready='1']", timeout=20000)
        # a click on the map decodes that position (far positions may all decode to the
        # decoder's bias image, so several positions, at least two different images)
        box = page.locator("#run-0 canvas").first.bounding_box()
        decoded = []
        for fx, fy in ((0.45, 0.5), (0.3, 0.7), (0.6, 0.4), (0.9, 0.2)):
            text = page.inner_text("#point-0")
            page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
            page.wait_for_function(
                "t => document.getElementById('point-0').textContent !== t", arg=text, polling=100
            )
            decoded.append(page.get_attribute("#decoded-0", "src"))
        assert all(src.startswith("data:image/png;base64,") for src in decoded)
        assert len(set(decoded)) >= 2, "every click decoded the same image"
        # moving a slider changes the reconstruction
        recon = page.get_attribute("#recon-0", "src")
        page.focus("#slider-0-0")
        page.keyboard.press("End")
        page.wait_for_function(
            "s => document.getElementById('recon-0').src !== s", arg=recon, polling=100
        )
        # an upload shows a score
        good = png_file(tmp_path / "good.png", data.test.images[3, 0])
        page.set_input_files("#upload", str(good))
        page.wait_for_selector("#score-0")
        assert "score" in page.inner_text("#score-0")
        # the decoded path between two images
        page.click("#show-path")
        page.wait_for_selector("#path-0 img")
        page.screenshot(path=str(tmp_path / "explore.png"), full_page=True)
        # a bad upload shows an error; the next good one works and clears it
        page.set_input_files(
            "#upload", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}]
        )
        page.wait_for_selector("#error.shown")
        assert "PNG or JPEG" in page.inner_text("#error")
        page.evaluate("document.getElementById('upload-0').textContent = ''")
        big = Image.fromarray(data.test.images[5, 0]).resize((60, 60))
        buffer = io.BytesIO()
        big.save(buffer, format="JPEG")
        page.set_input_files(
            "#upload",
            files=[{"name": "big.jpg", "mimeType": "image/jpeg", "buffer": buffer.getvalue()}],
        )
        page.wait_for_selector("#score-0")
        assert "resized from 60x60" in page.inner_text("#upload-0")
        assert not page.locator("#error.shown").count()
        page.close()
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before  # nothing written
