"""Open an HTML file in headless Chromium and report what a person would see go wrong.

Talks the Chrome DevTools protocol over ``--remote-debugging-pipe`` (fd 3: commands in,
fd 4: replies out, NUL-separated JSON) with the standard library only: no Selenium, no
Playwright, no network port. ``check_page(path)`` returns the page title, the natural width
of every ``<img>`` (0 = not decoded) and every console error, uncaught exception or failed
load. ``chromium_binary()`` is None where no Chromium is installed; tests skip then.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

IMAGES_JS = """
(async () => {
  const imgs = Array.from(document.images);
  await Promise.all(imgs.map(img => img.decode().catch(() => null)));
  return JSON.stringify({
    title: document.title,
    images: imgs.map(img => ({alt: img.alt, naturalWidth: img.naturalWidth,
                              src: img.src.slice(0, 40)})),
  });
})()
"""


@dataclass
class PageCheck:
    title: str
    images: list[dict[str, Any]]
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # URLs the page fetched

    @property
    def broken_images(self) -> list[dict[str, Any]]:
        return [img for img in self.images if img["naturalWidth"] <= 0]


def chromium_binary() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class _Pipe:
    """One DevTools connection over two pipes."""

    def __init__(self, proc: subprocess.Popen, to_browser: int, from_browser: int) -> None:
        self.proc = proc
        self.out = to_browser
        self.inp = from_browser
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.out, json.dumps(message).encode() + b"\0")
        return self.next_id

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply from chromium")
            ready, _, _ = select.select([self.inp], [], [], left)
            if ready:
                chunk = os.read(self.inp, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self.buffer += chunk
        raw, _, self.buffer = self.buffer.partition(b"\0")
        return json.loads(raw)

    def call(
        self, method: str, params: dict | None = None, session: str | None = None, timeout=30.0
    ) -> dict[str, Any]:
        wanted = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            message = self._read_message(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_event(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event["method"] == method:
                return event
        while True:
            message = self._read_message(deadline)
            if "method" in message:
                self.events.append(message)
                if message["method"] == method:
                    return message


def _errors(events: list[dict[str, Any]]) -> list[str]:
    errors = []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = params.get("args", [])
            errors.append("console: " + " ".join(str(a.get("value", a)) for a in args))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            description = details.get("exception", {}).get("description", "")
            errors.append(f"exception: {details.get('text')} {description}".strip())
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            errors.append(f"log: {entry.get('text')} {entry.get('url', '')}")
        elif method == "Network.loadingFailed":
            errors.append(f"load failed: {params.get('errorText')}")
    return errors


def check_page(path: str | Path, *, timeout: float = 60.0) -> PageCheck:
    """Load ``path`` (an HTML file) in headless Chromium and report title, images, errors."""
    binary = chromium_binary()
    if binary is None:
        raise RuntimeError("no chromium binary found")
    url = Path(path).resolve().as_uri()
    to_browser_r, to_browser_w = os.pipe()
    from_browser_r, from_browser_w = os.pipe()

    # Chromium reads commands on fd 3 and writes replies on fd 4. Move the child's ends out
    # of the way first, so the dup2 onto 3 and 4 cannot clobber one of them.
    child_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, 100)
    child_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, 100)
    os.close(to_browser_r)
    os.close(from_browser_w)

    def plumb() -> None:  # runs in the child before exec; dup2 leaves 3 and 4 inheritable
        os.dup2(child_r, 3)
        os.dup2(child_w, 4)

    with tempfile.TemporaryDirectory(prefix="aelab-chromium-") as profile:
        args = [
            binary,
            "--headless=new",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-gpu",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--mute-audio",
        ]
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to run as root with the sandbox
        proc = subprocess.Popen(
            [*args, "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=plumb,
            pass_fds=(3, 4),  # keep the dup2'ed fds open through exec
        )
        os.close(child_r)
        os.close(child_w)
        pipe = _Pipe(proc, to_browser_w, from_browser_r)
        try:
            target = pipe.call("Target.createTarget", {"url": "about:blank"}, timeout=timeout)
            session = pipe.call(
                "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
            )["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                pipe.call(f"{domain}.enable", session=session)
            requests: list[str] = []
            pipe.call("Page.navigate", {"url": url}, session=session)
            pipe.wait_event("Page.loadEventFired", timeout=timeout)
            result = pipe.call(
                "Runtime.evaluate",
                {"expression": IMAGES_JS, "awaitPromise": True, "returnByValue": True},
                session=session,
                timeout=timeout,
            )
            page = json.loads(result["result"]["value"])
            for event in pipe.events:
                if event["method"] == "Network.requestWillBeSent":
                    requests.append(event["params"]["request"]["url"])
            with contextlib.suppress(RuntimeError, TimeoutError):
                pipe.call("Browser.close", timeout=5)
        finally:
            os.close(to_browser_w)
            os.close(from_browser_r)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return PageCheck(
        title=page["title"], images=page["images"], errors=_errors(pipe.events), requests=requests
    )


if __name__ == "__main__":  # python tests/browser.py runs/X/report.html
    import sys

    print(check_page(sys.argv[1]))
