"""The HTTP service under a long fuzz run: tests/api/test_fuzz.py with 10,000 requests,
every failure recorded (not stopped at the first), then the totals.

    python benchmarks/fuzz_api.py                    # about 4 minutes on 2 cores
    python benchmarks/fuzz_api.py --requests 50000

Writes bench-output/fuzz_api.json: requests per status, per error code and per
operation, elapsed seconds, the distinct failures with an example request each, and
whether the server was still healthy and ready after the run. Exits non-zero when any
request got a 5xx or a malformed answer.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench-output"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        summary_path = Path(tmp) / "summary.json"
        env = {**os.environ, "FACEPRINT_FUZZ_REQUESTS": str(args.requests), "FACEPRINT_FUZZ_KEEP_GOING": "1", "FACEPRINT_FUZZ_SUMMARY": str(summary_path)}
        test = "tests/api/test_fuzz.py::test_fuzz_api"
        code = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", test], cwd=REPO, env=env).returncode
        if not summary_path.exists():
            print(f"the fuzz run wrote no summary (pytest exit {code})", file=sys.stderr)
            return code or 1
        summary = json.loads(summary_path.read_text())
    summary["healthy_after"] = summary.get("health") == 200 and summary.get("ready") is True and summary.get("list_collections") is True
    summary["pytest_exit"] = code
    (args.out / "fuzz_api.json").write_text(json.dumps(summary, indent=1) + "\n")
    brief = {k: summary[k] for k in ("requests", "elapsed_s", "requests_per_s", "statuses", "codes", "failures", "healthy_after")}
    print(json.dumps(brief, indent=1))
    print(f"wrote {args.out / 'fuzz_api.json'}")
    return code


if __name__ == "__main__":
    sys.exit(main())
