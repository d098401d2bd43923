"""Make the README's screenshot of `aelab explore` (docs/images/explore.png) from real runs.

Starts `aelab explore RUN [RUN ...]` on a free 127.0.0.1 port, drives the page in the system
Chromium (Playwright for Python; no browser download): clicks a position on the map, shows
test image A, moves the first principal-direction slider, uploads a real test image (saved
as a PNG first), shows the decoded path A -> B, then saves a full-page screenshot and stops
the server. Writes nothing into the runs.

The runs behind the README's screenshot: R1 on the real Fashion-MNIST, and R1's model
trained on Trouser (class 1) only as a calibrated anomaly detector (CPU, about 2 minutes;
`anomaly --save-runs` skips the code-map figures, hence the `evaluate --figures all`):

    aelab train --preset r1-fashion-sparse --out /tmp/shot/r1-fashion-sparse
    aelab anomaly --preset r1-fashion-sparse --normal-class 1 --set data.validation=split \\
        --epochs 20 --fpr 0.05 --save-runs --out /tmp/shot/a-fashion
    aelab evaluate /tmp/shot/a-fashion/class-1 --figures all
    python docs/images/make_explore_screenshot.py /tmp/shot/r1-fashion-sparse \\
        /tmp/shot/a-fashion/class-1

The defaults click the maps inside the data, take test images #0 (an ankle boot) and #1
(a pullover) as A and B, and upload test image #18 (a bag: an anomaly to the detector).

Needs aelab[serve], `pip install playwright` and Chromium at /usr/bin/chromium (or
--chromium PATH).
"""

from __future__ import annotations

import argparse
import base64
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(proc: subprocess.Popen, url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"aelab explore exited with {proc.returncode}")
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"aelab explore did not answer at {url} in {START_TIMEOUT:g}s"
                ) from None
            time.sleep(0.5)


def save_test_image(url: str, index: int, path: Path) -> str:
    """Test image `index` of the first run as a PNG file (as the server stores it); its label."""
    with urllib.request.urlopen(f"{url}/api/image/0/{index}", timeout=30) as response:
        out = json.load(response)
    path.write_bytes(base64.b64decode(out["original"].split(",", 1)[1]))
    return out["label"]


def drive(page, runs: int, args: argparse.Namespace, upload: Path) -> None:
    page.wait_for_selector("body[data-ready='1']", timeout=60000)
    # a click on the first map decodes that position (the page decodes every run's own map)
    for i in range(runs):
        box = page.locator(f"#run-{i} canvas").first.bounding_box()
        text = page.inner_text(f"#point-{i}")
        page.mouse.click(
            box["x"] + box["width"] * args.click[0], box["y"] + box["height"] * args.click[1]
        )
        page.wait_for_function(
            "([i, t]) => document.getElementById(`point-${i}`).textContent !== t",
            arg=[i, text],
            polling=100,
        )
    # image A and B, the path between them
    page.fill("#index-a", str(args.a))
    page.fill("#index-b", str(args.b))
    page.fill("#steps", str(args.steps))
    page.click("#show-a")
    page.wait_for_function(
        "a => document.getElementById('title-a-0').textContent === `image A: #${a}`",
        arg=args.a,
        polling=100,
    )
    # move the first slider of every run; wait for the new reconstruction
    for i in range(runs):
        recon = page.get_attribute(f"#recon-{i}", "src")
        page.eval_on_selector(
            f"#slider-{i}-0",
            "(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }",
            str(args.slider),
        )
        page.wait_for_function(
            "([i, s]) => document.getElementById(`recon-${i}`).src !== s",
            arg=[i, recon],
            polling=100,
        )
    page.set_input_files("#upload", str(upload))
    page.wait_for_function(
        f"() => document.querySelectorAll('[id^=upload-] img').length >= {2 * runs}", polling=100
    )
    page.click("#show-path")
    page.wait_for_function(
        f"() => document.querySelectorAll('#path-{runs - 1} img').length === {args.steps}",
        polling=100,
    )
    page.wait_for_timeout(500)  # let Bokeh repaint the marks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories to explore")
    parser.add_argument("--out", type=Path, default=ROOT / "docs/images/explore.png")
    parser.add_argument("--a", type=int, default=0, help="test index of image A")
    parser.add_argument("--b", type=int, default=1, help="test index of image B")
    parser.add_argument("--steps", type=int, default=9, help="frames of the path A -> B")
    parser.add_argument("--upload", type=int, default=18, help="test index of the uploaded image")
    parser.add_argument("--slider", type=float, default=0.0, help="value of the PC 1 slider")
    parser.add_argument(
        "--click", type=float, nargs=2, default=(0.58, 0.53), metavar=("FX", "FY"),
        help="where to click the map, as fractions of its width and height",
    )  # fmt: skip
    parser.add_argument("--width", type=int, default=1300, help="viewport width in px")
    parser.add_argument(
        "--colors", type=int, default=256,
        help="quantise the PNG to this many colours to keep it small (0: keep full colour)",
    )  # fmt: skip
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "aelab", "explore", *map(str, args.runs),
               "--port", str(port), "--no-browser", "--device", "cpu", "--quiet"]  # fmt: skip
    proc = subprocess.Popen(command)
    try:
        wait_until_up(proc, url)
        with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
            upload = Path(tmp) / f"test-{args.upload}.png"
            label = save_test_image(url, args.upload, upload)
            browser = p.chromium.launch(executable_path=args.chromium)
            try:
                page = browser.new_page(viewport={"width": args.width, "height": 900})
                page.goto(url)
                drive(page, len(args.runs), args, upload)
                page.screenshot(path=str(args.out), full_page=True)
            finally:
                browser.close()
        if args.colors:
            with Image.open(args.out) as shot:
                small = shot.convert("RGB").quantize(args.colors, dither=Image.Dither.NONE)
            small.save(args.out, optimize=True)
        print(f"wrote {args.out} (uploaded test image #{args.upload}, {label})")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
