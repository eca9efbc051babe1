"""The liveness page in a real browser whose camera plays the live test video
(Chromium's fake capture device): challenge shown, frames recorded and sent, the
server's verdict shown. (Whether a recording can follow a random challenge is
measured by the benchmark, not asserted here: it may, by chance.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.api.conftest import DATA, Server
from tests.browser import ARGS, require_browser

pytestmark = pytest.mark.data


def camera_file(tmp_path: Path) -> Path:
    """real2.webm as MJPEG, which Chromium's fake camera plays in a loop."""
    from faceprint.eval.liveness import video_frames
    import av

    video = DATA / "liveness" / "replay_apfol" / "videos" / "real2.webm"
    if not video.is_file():
        pytest.skip(f"liveness data not found in {DATA}")
    out = tmp_path / "camera.mjpeg"
    with av.open(str(out), "w", format="mjpeg") as container:
        stream = container.add_stream("mjpeg", rate=30)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuvj420p"
        for _, rgb in video_frames(video):
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out


def test_liveness_page_runs_a_session(server: Server, tmp_path: Path) -> None:
    chromium = require_browser()
    fake = camera_file(tmp_path)
    # a key of its own: other tests leave sessions waiting on the shared searcher key
    key = server.client("admin", service="faceprint").create_access_key(Role="searcher", Purpose="liveness page test")
    key_id, secret = key["AccessKeyId"], key["SecretAccessKey"]
    args = [*ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={fake}"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), headless=True, args=args)
        try:
            context = browser.new_context()
            context.grant_permissions(["camera"], origin=server.url)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server.url + "/console/liveness.html")
            expect(page.get_by_test_id("signin-needed")).to_be_visible()
            page.evaluate("([k, s]) => { sessionStorage.setItem('faceprint.accessKeyId', k); sessionStorage.setItem('faceprint.secretAccessKey', s); }", [key_id, secret])
            page.reload()
            page.get_by_test_id("start").click()
            expect(page.get_by_test_id("prompt")).not_to_be_empty(timeout=10_000)  # else see the status line
            expect(page.get_by_test_id("result")).to_be_visible(timeout=60_000)
            confidence = float(page.get_by_test_id("confidence").inner_text())
            verdict = page.get_by_test_id("verdict").inner_text()
            assert (verdict, confidence >= 50) in {("Live", True), ("Not confirmed as live", False)}
            assert not errors, errors
        finally:
            browser.close()
