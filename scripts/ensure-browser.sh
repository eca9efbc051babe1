#!/usr/bin/env bash
# The browser tests (web console, liveness page) drive Debian's Chromium, never a
# downloaded browser. Install it when it is missing and this user may (root, or
# passwordless sudo); otherwise say plainly that those tests will not run.
set -u
CHROMIUM=${FACEPRINT_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    how=""
elif [ "$(id -u)" = 0 ]; then
    how=""
elif sudo -n true 2>/dev/null; then
    how="sudo -n"
else
    how="none"
fi

if command -v apt-get >/dev/null 2>&1 && [ "$how" != "none" ]; then
    echo "installing Debian's chromium for the browser tests ..."
    $how apt-get install -y -q chromium >/dev/null 2>&1 \
        || { $how apt-get update -q >/dev/null 2>&1 && $how apt-get install -y -q chromium >/dev/null 2>&1; }
fi

if [ ! -x "$CHROMIUM" ]; then
    cat >&2 <<MSG
************************************************************************
WARNING: no browser at $CHROMIUM, so the browser tests (web console,
liveness page) will be SKIPPED and the console goes untested in this run.
Install Debian's chromium package (sudo apt-get install chromium), or set
FACEPRINT_REQUIRE_BROWSER=1 to make their absence fail the run.
************************************************************************
MSG
fi
exit 0
