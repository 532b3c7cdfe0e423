"""The browser viewer: trame serves the scene on 127.0.0.1 and headless Chromium sees it rendered.

Chromium is driven over its DevTools protocol (loopback only) with aiohttp's websocket client
(aiohttp comes with trame's wslink). Skipped with the reason where Chromium is not installed
(`apt-get install chromium`; run.sh installs it for the test command).
"""

import asyncio
import base64
import io
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (Debian: apt-get install chromium); "
                                                         "the browser test of `tmsfield view --web` needs it")


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


def _listen_addresses(port):
    """Local IPv4/IPv6 addresses listening on ``port`` (from /proc/net/tcp*), or None off Linux."""
    found = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            return None
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, p = local.rsplit(":", 1)
            if state == "0A" and int(p, 16) == port:   # 0A = LISTEN
                found.append(addr)
    return found


def _scene_pixels(png):
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    hot = (r > 150) & (r - b > 80) & (g < r)               # the field's orange/red/yellow colours
    coil = (b - r > 70) & (b - g > 40)                     # blue coil windings
    return img, int(hot.sum()), int(coil.sum())


async def _drive(ws_url, page_url, tmp_path):
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(ws_url, max_msg_size=0) as ws:
            ids = iter(range(1, 10 ** 6))

            async def call(method, **params):
                i = next(ids)
                await ws.send_json({"id": i, "method": method, "params": params})
                while True:
                    msg = await asyncio.wait_for(ws.receive_json(), 60)
                    if msg.get("id") == i:
                        if "error" in msg:
                            raise RuntimeError(f"{method}: {msg['error']}")
                        return msg["result"]

            await call("Page.enable")
            await call("Emulation.setDeviceMetricsOverride", width=1280, height=800, deviceScaleFactor=1, mobile=False)
            await call("Page.navigate", url=page_url)
            png, hot, coil = None, 0, 0
            t0 = time.time()
            while time.time() - t0 < 150:   # generous: a loaded 2-core CI machine renders slowly
                await asyncio.sleep(1.0)
                shot = await call("Page.captureScreenshot", format="png")
                png = base64.b64decode(shot["data"])
                _, hot, coil = _scene_pixels(png)
                if hot > 300 and coil > 100:
                    break
            (tmp_path / "browser.png").write_bytes(png)
            title = (await call("Runtime.evaluate", expression="document.body.innerText"))["result"]["value"]
            # press "save pose" in the page
            await call("Runtime.evaluate", expression=(
                "Array.from(document.querySelectorAll('button')).find(b => b.innerText.toLowerCase().includes('save pose')).click()"))
            return hot, coil, title


def test_web_viewer_in_headless_chromium(tmp_path):
    port, dbg = _free_port(), _free_port()
    save = tmp_path / "saved_pose.json"
    server = subprocess.Popen([sys.executable, str(HERE / "_viz_web_server.py"), str(port), str(save)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    browser = None
    try:
        _wait_http(f"http://127.0.0.1:{port}/index.html", 90)
        addrs = _listen_addresses(port)
        if addrs is not None:   # loopback only: 127.0.0.1 (0100007F), never 0.0.0.0 or ::
            assert addrs and all(a == "0100007F" for a in addrs), f"server listens on {addrs}, not only 127.0.0.1"
        browser = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'chromium-profile'}", f"--remote-debugging-port={dbg}",
             "--remote-debugging-address=127.0.0.1", "--window-size=1280,800", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_http(f"http://127.0.0.1:{dbg}/json/version", 30)
        targets = json.loads(_wait_http(f"http://127.0.0.1:{dbg}/json/list", 10))
        page = next(t for t in targets if t.get("type") == "page")
        hot, coil, text = asyncio.run(_drive(page["webSocketDebuggerUrl"], f"http://127.0.0.1:{port}/", tmp_path))
        assert "tmsfield" in text and "V/m" in text, text[:500]
        assert hot > 300, f"the browser shows no field colours ({hot} px); screenshot in {tmp_path / 'browser.png'}"
        assert coil > 100, f"the browser shows no coil ({coil} px); screenshot in {tmp_path / 'browser.png'}"
        t0 = time.time()
        while not save.exists() and time.time() - t0 < 60:
            time.sleep(0.3)
        saved = json.loads(save.read_text())
        assert saved["schema"] == "tmsfield-placement/1" and saved["method"] == "manual"
    finally:
        for proc in (browser, server):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
