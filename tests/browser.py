"""The browser the console and liveness-page tests drive: Debian's Chromium, never a
downloaded one. Missing, those tests skip with one recognisable reason, and the test
summary says so loudly; FACEPRINT_REQUIRE_BROWSER=1 makes its absence a failure."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# FACEPRINT_CHROMIUM points at a Chromium elsewhere (another distribution's path).
CHROMIUM = Path(os.environ.get("FACEPRINT_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SKIP_REASON = f"BROWSER MISSING: no Chromium at {CHROMIUM} (Debian's chromium package, or FACEPRINT_CHROMIUM)"


def require_browser() -> Path:
    """The browser's path; skips the test (or fails it, when required) without it."""
    if shutil.which(str(CHROMIUM)) is None:
        if os.environ.get("FACEPRINT_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{SKIP_REASON}, and FACEPRINT_REQUIRE_BROWSER=1")
        pytest.skip(SKIP_REASON)
    return CHROMIUM


def summarize(terminalreporter: pytest.TerminalReporter) -> None:
    """A loud block at the end of the run when browser tests were skipped."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if SKIP_REASON in str(getattr(r, "longrepr", ""))]
    if not skipped:
        return
    terminalreporter.write_sep("*", "BROWSER TESTS DID NOT RUN", red=True, bold=True)
    terminalreporter.write_line(f"{len(skipped)} test(s) of the web console and the liveness page were skipped: {SKIP_REASON}.", red=True)
    terminalreporter.write_line("The console is UNTESTED in this run. Install it (sudo apt-get install chromium; make test does this", red=True)
    terminalreporter.write_line("when run as root), or set FACEPRINT_REQUIRE_BROWSER=1 to fail instead of skipping.", red=True)
