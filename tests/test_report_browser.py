"""The report opens in headless Chromium (as the web viewer's test drives it): no errors, no requests
beyond the page itself, every image decoded, and a screenshot that shows the page."""

import asyncio
import base64
import io
import json
import shutil
import socket
import subprocess
import time
import urllib.request

import numpy as np
import pytest

from _viz_fixtures import SphereSolver, figure8_coil, sphere_head
from test_report import _result
from tmsfield.report import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (Debian: apt-get install chromium); "
                                                         "the browser test of the report needs it")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url, timeout_s):
    t0 = time.time()
    while time.time() - t0 < timeout_s:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read()
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout_s} s")


async def _open(ws_url, page_url):
    """Load the page; return (events seen, image check, body text, screenshot PNG)."""
    import aiohttp

    events = []
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(ws_url, max_msg_size=0) as ws:
            ids = iter(range(1, 10 ** 6))

            async def call(method, **params):
                i = next(ids)
                await ws.send_json({"id": i, "method": method, "params": params})
                while True:
                    msg = await asyncio.wait_for(ws.receive_json(), 60)
                    if "method" in msg:
                        events.append(msg)
                    if msg.get("id") == i:
                        if "error" in msg:
                            raise RuntimeError(f"{method}: {msg['error']}")
                        return msg["result"]

            for domain in ("Page", "Runtime", "Log", "Network"):
                await call(f"{domain}.enable")
            await call("Emulation.setDeviceMetricsOverride", width=1200, height=1600, deviceScaleFactor=1, mobile=False)
            await call("Page.navigate", url=page_url)
            t0 = time.time()
            while not any(e["method"] == "Page.loadEventFired" for e in events) and time.time() - t0 < 60:
                try:
                    msg = await asyncio.wait_for(ws.receive_json(), 5)
                    if "method" in msg:
                        events.append(msg)
                except asyncio.TimeoutError:
                    pass
            images = (await call("Runtime.evaluate", returnByValue=True, expression=(
                "JSON.stringify(Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight]))"
            )))["result"]["value"]
            text = (await call("Runtime.evaluate", expression="document.body.innerText"))["result"]["value"]
            shot = await call("Page.captureScreenshot", format="png")
            return events, json.loads(images), text, base64.b64decode(shot["data"])


def test_report_opens_in_headless_chromium(tmp_path):
    from PIL import Image

    head = sphere_head(3)
    res = _result(head)
    out = write_report(res, tmp_path / "report.html", size=(320, 240), head=head, coil=figure8_coil(),
                       solver=SphereSolver(head))["html"]
    dbg = _free_port()
    browser = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", f"--remote-debugging-port={dbg}",
         "--remote-debugging-address=127.0.0.1", "--window-size=1200,1600", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_http(f"http://127.0.0.1:{dbg}/json/version", 30)
        targets = json.loads(_wait_http(f"http://127.0.0.1:{dbg}/json/list", 10))
        page = next(t for t in targets if t.get("type") == "page")
        events, images, text, png = asyncio.run(_open(page["webSocketDebuggerUrl"], out.resolve().as_uri()))
    finally:
        browser.terminate()
        try:
            browser.wait(10)
        except subprocess.TimeoutExpired:
            browser.kill()
    (tmp_path / "report_in_browser.png").write_bytes(png)
    names = [e["method"] for e in events]
    assert "Page.loadEventFired" in names, names
    errors = [e for e in events if e["method"] in ("Runtime.exceptionThrown", "Network.loadingFailed")
              or (e["method"] == "Log.entryAdded" and e["params"]["entry"].get("level") == "error")
              or (e["method"] == "Runtime.consoleAPICalled" and e["params"].get("type") == "error")]
    assert not errors, errors[:3]
    # the only request is the page itself (images are data: URIs, which Chromium does not fetch over a network)
    urls = [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]
    assert all(u.startswith("file://") or u.startswith("data:") for u in urls), urls
    assert sum(u.startswith("file://") for u in urls) == 1, urls
    assert len(images) == 3 and all(ok and w == 320 and h == 240 for ok, w, h in images), images
    assert "Placements" in text and "Motor-threshold dose" in text and "EEG F3" in text
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    assert img.shape[:2] == (1600, 1200) and img.std() > 10      # the page drew (not a blank frame)
