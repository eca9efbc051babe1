"""Video in real time: what the watcher (detect every frame, track, embed a few frames
per person, decide once per track) sustains on this machine, against a naive loop that
detects, embeds and searches every face of every frame.

    .venv/bin/python benchmarks/video_realtime.py [--quick]

Videos (``$FACEPRINT_DATA``): facenet_pytorch's ``video.mp4`` (1080p, 25 fps, 4.2 s,
about 6 walking people a frame) and face_recognition's ``short_hamilton_clip.mp4``
(640x360, 29.97 fps, 9.2 s, Lin-Manuel Miranda at the White House, Barack Obama in the
audience). Galleries, in a temporary store:

* ``watch``: lin-manuel-miranda.png and ``--watch-gallery`` LFW faces (other people);
* ``others``: ``--others-gallery`` LFW faces and face_recognition's example photos of
  people in neither video (not Obama, nor Alex Lacamoire, who accompanied Lin-Manuel
  there), so every alert on it is a false alarm.

Measured:

1. Each video through a watcher paced at real time (a live camera) and unpaced (as fast
   as it goes): throughput, whether it kept up, cores busy, how long a person waits for
   a decision, and the share of tracks lasting 1 s or more that got one.
2. The naive loop of face_recognition's webcam examples on the same decoded frames.
3. The most 720p streams (video.mp4 re-encoded as a 720p H.264 file, looped, analysed at
   the default working width) that run together in
   real time: every stream done within 1.1x its duration.
4. False alarms per track versus per frame on the ``others`` gallery at similarity 50
   and 40, and on hamilton with ``watch``: alerts for Lin-Manuel (true) or anyone else.

Results: bench-output/video_realtime.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from facelike import machine, write_results  # noqa: E402

import faceprint  # noqa: E402
from faceprint.video import Alert, Frame, MemorySink, VideoSource, Watcher, WatchSettings  # noqa: E402

DATA = Path(os.environ.get("FACEPRINT_DATA", REPO.parent / "shared" / "data"))
EXAMPLES = DATA / "people" / "face_recognition" / "examples"
VIDEOS = {
    "video.mp4": DATA / "people" / "facenet_pytorch" / "examples" / "video.mp4",
    "hamilton": EXAMPLES / "short_hamilton_clip.mp4",
}
KNOWN = EXAMPLES / "lin-manuel-miranda.png"
KNOWN_ID = "lin-manuel-miranda"
WORKING_WIDTH = 960  # VideoSource's default
SUSTAINED = 1.1  # a stream keeps up if it is done within this many times its duration


# -- sources, sinks, observers ----------------------------------------------------------
class ClipSource(VideoSource):
    """A file played ``loops`` times in a row (times and indexes keep counting), or cut
    after ``seconds``."""

    def __init__(self, path: Path, *, loops: int = 1, seconds: float | None = None, **kw: object) -> None:
        super().__init__(path, **kw)  # type: ignore[arg-type]
        self.loops, self.seconds = loops, seconds

    def frames(self) -> Iterator[Frame]:
        index, offset = 0, 0.0
        for _ in range(self.loops):
            first = last = None
            play = super().frames()
            for frame in play:
                first = first or frame
                if self.seconds is not None and frame.ms - first.ms >= self.seconds * 1000.0:
                    break
                last = frame
                yield replace(frame, index=frame.index + index, ms=frame.ms + offset)
            play.close()
            if last is None or self.stopped:
                return
            index += last.index + 1
            offset += last.ms + 1000.0 / (self.stats.fps or 25.0)


class Seen:
    """The watcher's observer: when each frame's analysis finished, and each track's span
    and largest face."""

    def __init__(self) -> None:
        self.done: dict[float, float] = {}  # frame ms -> time.time() after its analysis
        self.lag: list[float] = []  # seconds each frame's analysis ended after the frame was due
        self.start_wall: float | None = None  # wall time the stream's time 0 was due
        self.first: dict[int, tuple[float, float]] = {}  # track -> (ms, wall) of its first frame
        self.last: dict[int, float] = {}
        self.size: dict[int, float] = {}

    def __call__(self, frame: Frame, rows: list[tuple[int, faceprint.Face, Alert | None]]) -> None:
        now = time.time()
        if self.start_wall is None:
            self.start_wall = frame.wall - frame.ms / 1000.0
        self.done[frame.ms] = now
        self.lag.append(now - (self.start_wall + frame.ms / 1000.0))
        for tid, face, _ in rows:
            self.first.setdefault(tid, (frame.ms, frame.wall))
            self.last[tid] = frame.ms
            x0, y0, x1, y1 = face.xyxy
            self.size[tid] = max(self.size.get(tid, 0.0), float(min(x1 - x0, y1 - y0)))


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def video_info(path: Path) -> dict[str, object]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        fps = float(s.average_rate or s.guessed_rate)
        n = s.frames or sum(1 for _ in c.demux(s) if _.size)
        return {"width": s.codec_context.width, "height": s.codec_context.height, "fps": round(fps, 3), "frames": n, "duration_s": round(n / fps, 3)}


# -- one watcher run --------------------------------------------------------------------
def make_watcher(svc: faceprint.Service, path: Path, *, collection: str, pace: bool, per_frame: bool = False, threshold: float = 50.0, max_width: int = WORKING_WIDTH, loops: int = 1, seconds: float | None = None, name: str = "") -> tuple[Watcher, Seen, MemorySink]:
    source = ClipSource(path, pace=pace, max_width=max_width, loops=loops, seconds=seconds)
    seen, sink = Seen(), MemorySink("collect")
    watcher = Watcher(svc, source, WatchSettings(collection, min_similarity=threshold, per_frame=per_frame), [sink], name=name or path.name, observer=seen)
    return watcher, seen, sink


def summarise(watcher: Watcher, seen: Seen, sink: MemorySink, wall: float, started: float) -> dict[str, object]:
    """``started``: time.time() when the watcher was started."""
    sink.close()
    report = watcher.report()
    stats = watcher.stats
    fps = watcher.source.stats.fps or 25.0
    frames = stats.frames_analyzed
    times = sorted(seen.done)
    ends = sorted(seen.done.values())
    steady = (len(ends) - 1) / (ends[-1] - ends[0]) if len(ends) > 1 and ends[-1] > ends[0] else 0.0
    duration = (times[-1] - times[0] + 1000.0 / fps) / 1000.0 if times else 0.0
    # identity decisions only (a watcher may also report faces that stayed too small)
    decisions = [d for d in stats.decisions if getattr(d, "reason", "") != "face too small"]
    # Decision.latency_ms: wall time from the track's first frame being decoded to the
    # decision. "wall": to when the deciding frame's analysis ended (about the same).
    wall_latency = [(seen.done.get(d.ms, time.time()) - seen.first[d.track_id][1]) * 1000.0 for d in decisions if d.track_id in seen.first]
    stream_latency = [d.ms - seen.first[d.track_id][0] for d in decisions if d.track_id in seen.first]
    first_decision: dict[int, float] = {}
    first_identifiable: dict[int, float] = {}  # from the first frame the face was big enough
    for d in decisions:
        first_decision.setdefault(d.track_id, d.latency_ms)
        if d.identifiable_latency_ms is not None:
            first_identifiable.setdefault(d.track_id, d.identifiable_latency_ms)
    alert_latency = [a.latency_ms for a in sink.alerts]
    spans = {tid: seen.last[tid] - ms for tid, (ms, _) in seen.first.items()}
    long = [tid for tid, span in spans.items() if span >= 1000.0]
    long_big = [tid for tid in long if seen.size[tid] >= 28.0]  # tracks.MIN_FACE_PX: big enough to embed
    decided = {d.track_id for d in decisions}
    true = [a for a in sink.alerts if a.external_image_id == KNOWN_ID]
    false = [a for a in sink.alerts if a.external_image_id != KNOWN_ID]
    return {
        "frames": frames,
        "frames_dropped": stats.frames_dropped,
        "video_fps": round(fps, 3),
        "duration_s": round(duration, 3),
        "wall_s": round(wall, 3),
        # until the first frame was analysed: opening the file, and the thread's own
        # detector network and embedder session (built on first use in each thread)
        "first_frame_s": round(seen.done[times[0]] - started, 3) if times else None,
        "fps": round(frames / wall, 2) if wall else 0.0,
        "x_realtime": round(frames / wall / fps, 2) if wall else 0.0,
        # between the first and the last frame's analysis: the rate once the watcher's
        # threads have built their networks (start-up is first_frame_s)
        "steady_fps": round(steady, 2),
        "steady_x_realtime": round(steady / fps, 2),
        "analysis_fps": round(float(report["analysis_fps"]), 2),  # type: ignore[arg-type]
        "lag_p95_s": round(pct(seen.lag, 95) or 0.0, 3),
        "lag_max_s": round(max(seen.lag, default=0.0), 3),
        "faces": stats.faces,
        "embeddings": stats.embeddings,
        "tracks": len(seen.first),
        "tracks_1s": len(long),
        "tracks_1s_decided": sum(1 for t in long if t in decided),
        "tracks_1s_big": len(long_big),
        "tracks_1s_big_decided": sum(1 for t in long_big if t in decided),
        "decisions": len(decisions),
        "too_small_reports": len(stats.decisions) - len(decisions),
        "latency_ms": {"p50": pct([d.latency_ms for d in decisions], 50), "max": max((d.latency_ms for d in decisions), default=None)},
        "first_decision_latency_ms": {"p50": pct(list(first_decision.values()), 50), "max": max(first_decision.values(), default=None)},
        "first_decision_identifiable_latency_ms": {"p50": pct(list(first_identifiable.values()), 50), "max": max(first_identifiable.values(), default=None)},
        "alert_latency_ms": {"p50": pct(alert_latency, 50), "max": max(alert_latency, default=None)},
        "wall_latency_ms": {"p50": pct(wall_latency, 50), "max": max(wall_latency, default=None)},
        "stream_latency_ms": {"p50": pct(stream_latency, 50), "max": max(stream_latency, default=None)},
        "alerts": len(sink.alerts),
        "alerts_true": len(true),
        "alerts_false": len(false),
        "tracks_alerted_true": len({a.track_id for a in true}),
        "true_alert_track_ids": sorted({a.track_id for a in true}),
        "tracks_alerted_false": len({a.track_id for a in false}),
        "false_alert_ids": sorted({str(a.external_image_id) for a in false}),
        "max_alert_similarity": max((a.similarity for a in sink.alerts), default=None),
        "sinks": report["sinks"],
        "error": watcher.error,
    }


def run_one(svc: faceprint.Service, path: Path, **kw: object) -> dict[str, object]:
    watcher, seen, sink = make_watcher(svc, path, **kw)  # type: ignore[arg-type]
    load = os.getloadavg()[0]
    cpu0, t0, started = cpu_seconds(), time.perf_counter(), time.time()
    watcher.run()
    wall = time.perf_counter() - t0
    out = summarise(watcher, seen, sink, wall, started)
    out["cores_busy"] = round((cpu_seconds() - cpu0) / wall, 2)
    out["loadavg_1m"] = [round(load, 2), round(os.getloadavg()[0], 2)]
    return out


def make_720p(src: Path, dst: Path) -> Path:
    """A real 720p H.264 file of the clip (what a 720p camera sends), made with PyAV."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream("libx264", rate=vin.average_rate)
        vout.width, vout.height, vout.pix_fmt = 1280, 720, "yuv420p"
        vout.options = {"crf": "20", "preset": "veryfast"}
        for i, frame in enumerate(inp.decode(vin)):
            scaled = frame.reformat(width=1280, height=720, format="yuv420p")
            scaled.pts, scaled.time_base = i, Fraction(1, 1) / vin.average_rate
            for packet in vout.encode(scaled):
                out.mux(packet)
        for packet in vout.encode():
            out.mux(packet)
    return dst


def run_together(svc: faceprint.Service, path: Path, n: int, **kw: object) -> dict[str, object]:
    """``n`` watchers on the same file at once; each one's wall time to its end."""
    runs = [make_watcher(svc, path, name=f"hd-{i}", **kw) for i in range(n)]  # type: ignore[arg-type]
    ends: list[float] = [0.0] * n
    load = os.getloadavg()[0]
    cpu0, t0, started = cpu_seconds(), time.perf_counter(), time.time()

    def go(i: int) -> None:
        runs[i][0].run()
        ends[i] = time.perf_counter() - t0

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    cores = (cpu_seconds() - cpu0) / wall
    streams = [summarise(w, s, k, ends[i], started) for i, (w, s, k) in enumerate(runs)]
    duration = max(float(s["duration_s"]) for s in streams)  # type: ignore[arg-type]
    # each stream's clock starts once its watcher is ready (its first frame analysed)
    worst = max(end - float(s["first_frame_s"] or 0.0) for end, s in zip(ends, streams))  # type: ignore[arg-type]
    return {
        "streams": n,
        "duration_s": round(duration, 3),
        "wall_s_max": round(worst, 3),
        "wall_over_duration": round(worst / duration, 3),
        "lag_p95_s_max": max(float(s["lag_p95_s"]) for s in streams),  # type: ignore[arg-type]
        "lag_max_s": max(float(s["lag_max_s"]) for s in streams),  # type: ignore[arg-type]
        "frames_dropped": sum(int(s["frames_dropped"]) for s in streams),  # type: ignore[call-overload]
        "analysis_fps_min": min(float(s["analysis_fps"]) for s in streams),  # type: ignore[arg-type]
        "cores_busy": round(cores, 2),
        "first_frame_s_max": max(float(s["first_frame_s"] or 0.0) for s in streams),  # type: ignore[arg-type]
        "loadavg_1m": [round(load, 2), round(os.getloadavg()[0], 2)],
        "sustained": worst <= SUSTAINED * duration and all(s["error"] is None for s in streams),
        "per_stream": streams,
    }


# -- the naive loop ---------------------------------------------------------------------
def naive(svc: faceprint.Service, path: Path, collection: str, *, threshold: float = 50.0, seconds: float | None = None) -> dict[str, object]:
    """Decode every frame (same decoder and working size), detect and embed every face,
    search each one: face_recognition's webcam examples."""
    analyzer = svc.engine.analyzer
    cosine = svc.engine.cosine_at(threshold)
    source = ClipSource(path, pace=False, max_width=WORKING_WIDTH, seconds=seconds)
    frames = faces = hits = 0
    load = os.getloadavg()[0]
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    for frame in source.frames():
        found = analyzer.analyze(frame.pixels)
        frames += 1
        faces += len(found)
        for vector in found.embedding if found.embedding is not None else []:
            hits += len(svc.store.faces.search(collection, vector, max_faces=1, min_cosine=cosine, action="StreamFaceSearch"))
    wall = time.perf_counter() - t0
    fps = source.stats.fps or 25.0
    return {
        "frames": frames,
        "faces": faces,
        "embeddings": faces,
        "matches": hits,
        "wall_s": round(wall, 3),
        "fps": round(frames / wall, 2),
        "x_realtime": round(frames / wall / fps, 2),
        "cores_busy": round((cpu_seconds() - cpu0) / wall, 2),
        "loadavg_1m": [round(load, 2), round(os.getloadavg()[0], 2)],
    }


# -- galleries --------------------------------------------------------------------------
def lfw_faces(n: int) -> list[tuple[str, Path]]:
    people = sorted(p for p in (DATA / "lfw" / "images").iterdir() if p.is_dir())
    return [(p.name, sorted(p.glob("*.jpg"))[0]) for p in people[:n]]


# The hamilton clip was filmed at the White House: Barack Obama is in it (the watcher
# matches him at similarity 99 when his photo is in the gallery), and Alex Lacamoire
# accompanied Lin-Manuel there. Their photos stay out of the gallery of "other people".
IN_VIDEOS = ("obama", "two_people", "alex")


def example_others() -> list[tuple[str, Path]]:
    """face_recognition's example photos of people in neither video (Biden, Kit
    Harington, Rose Leslie)."""
    out = [(p.stem, p) for p in sorted(EXAMPLES.glob("*")) if p.suffix in (".jpg", ".png") and p != KNOWN]
    out += [(p.parent.name, p) for p in sorted((EXAMPLES / "knn_examples" / "train").glob("*/*")) if p.suffix in (".jpg", ".jpeg", ".png")]
    return [(who, p) for who, p in out if not any(k in who.lower() for k in IN_VIDEOS)]


def build(svc: faceprint.Service, name: str, photos: list[tuple[str, Path]]) -> int:
    svc.create_collection(name, purpose="benchmark: video watch list", consent_required=False)
    indexed = 0
    for person, path in photos:
        try:
            indexed += len(svc.index_faces(name, str(path), external_image_id=person[:255], max_faces=1).indexed)
        except faceprint.FaceprintError:
            pass
    return indexed


# -- main -------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a reduced run for development (short clips, small galleries)")
    parser.add_argument("--watch-gallery", type=int, default=200, help="LFW faces beside Lin-Manuel in the watch list")
    parser.add_argument("--others-gallery", type=int, default=500, help="LFW faces in the gallery of other people")
    parser.add_argument("--loops", type=int, default=3, help="plays of video.mp4 per 720p stream in the multi-stream test")
    parser.add_argument("--max-streams", type=int, default=8)
    args = parser.parse_args()
    seconds = 2.0 if args.quick else None
    if args.quick:
        args.watch_gallery, args.others_gallery, args.loops, args.max_streams = 20, 40, 1, 2
    thresholds = [50.0] if args.quick else [50.0, 40.0]

    began = time.perf_counter()
    result: dict = {"machine": machine(), "quick": args.quick, "clip_seconds": seconds, "videos": {k: video_info(p) for k, p in VIDEOS.items()}}
    with tempfile.TemporaryDirectory(prefix="faceprint-video-bench-") as home:
        os.environ["FACEPRINT_HOME"] = home
        with faceprint.Service(home, purge_every_s=None) as svc:
            t = time.perf_counter()
            lfw = lfw_faces(max(args.watch_gallery, args.others_gallery))
            result["galleries"] = {
                "watch": build(svc, "watch", [(KNOWN_ID, KNOWN)] + lfw[: args.watch_gallery]),
                "others": build(svc, "others", lfw[: args.others_gallery] + example_others()),
                "build_s": round(time.perf_counter() - t, 1),
            }
            print(f"galleries: {result['galleries']}", flush=True)

            result["watch"] = {}
            for key, path in VIDEOS.items():
                runs = {}
                for pace in (True, False):
                    runs["paced" if pace else "fast"] = r = run_one(svc, path, collection="watch", pace=pace, seconds=seconds)
                    print(f"{key} pace={pace}: {r['fps']} fps, wall {r['wall_s']} s for {r['duration_s']} s, cores {r['cores_busy']}, decisions {r['decisions']}", flush=True)
                runs["naive"] = r = naive(svc, path, "watch", seconds=seconds)
                print(f"{key} naive: {r['fps']} fps", flush=True)
                result["watch"][key] = runs

            result["streams_720p"] = []
            hd = make_720p(VIDEOS["video.mp4"], Path(home) / "video-720p.mp4")
            for n in range(1, args.max_streams + 1):
                r = run_together(svc, hd, n, collection="watch", pace=True, max_width=WORKING_WIDTH, loops=args.loops, seconds=seconds)
                result["streams_720p"].append(r)
                print(f"720p x{n}: worst wall {r['wall_s_max']} s for {r['duration_s']} s, cores {r['cores_busy']}, sustained {r['sustained']}", flush=True)
                if not r["sustained"]:
                    break
            ok = [r["streams"] for r in result["streams_720p"] if r["sustained"]]
            result["max_720p_streams"] = max(ok, default=0)

            result["alarms"] = []
            cases = [(k, "others") for k in VIDEOS] + [("hamilton", "watch")]
            for key, gallery in cases:
                for threshold in thresholds:
                    for per_frame in (False, True):
                        r = run_one(svc, VIDEOS[key], collection=gallery, pace=False, per_frame=per_frame, threshold=threshold, seconds=seconds)
                        r.update(video=key, gallery=gallery, threshold=threshold, mode="per frame" if per_frame else "per track")
                        result["alarms"].append(r)
                        print(f"{key}/{gallery} @{threshold:g} {r['mode']}: {r['alerts_true']} true, {r['alerts_false']} false alerts", flush=True)
    result["elapsed_s"] = time.perf_counter() - began
    write_results(result, REPO / "bench-output", "video_realtime", table(result))


def fmt(v: object, digits: int = 0) -> str:
    if v is None:
        return "-"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def table(result: dict) -> str:  # type: ignore[type-arg]
    m = result["machine"]
    g = result["galleries"]
    runs = [r for v in result["watch"].values() for r in v.values()] + result["streams_720p"] + result["alarms"]
    loads = [x for r in runs for x in r["loadavg_1m"]]
    out = [
        f"## Video in real time ({m['cpu']}, {m['cores']} cores, commit {m['commit']}{', QUICK: clips cut to %ss' % result['clip_seconds'] if result['quick'] else ''})",
        "",
        f"Watch list: Lin-Manuel Miranda + {g['watch'] - 1} LFW faces; other-people gallery: {g['others']} faces. "
        f"Watcher at {WORKING_WIDTH} px wide, threshold 50, per-track decisions. "
        f"The machine is shared: 1-minute load average {min(loads):.1f}-{max(loads):.1f} during the runs (2 = both cores busy).",
        "",
        "### 1. One stream: throughput and cost",
        "",
        "Fast: unpaced (as fast as it goes). Paced: at the video's own rate, as a live camera. Lag: how long after a frame was due its analysis ended; "
        "first frame: from start to the first frame analysed (each watcher thread builds its own detector network and embedder session before the stream starts). "
        "x real time and kept up are counted after start-up: a camera's clock starts once the watcher is ready.",
        "",
        "| video | size | fps | duration s | fast: fps (with start-up) | fast: fps after start-up | fast: x real time | fast: cores | paced: wall s | kept up | paced: dropped | paced: cores | paced: first frame s | paced: lag p95 / max s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, runs in result["watch"].items():
        info, fast, paced = result["videos"][key], runs["fast"], runs["paced"]
        kept = paced["wall_s"] - paced["first_frame_s"] <= SUSTAINED * paced["duration_s"]
        out.append(
            f"| {key} | {info['width']}x{info['height']} | {info['fps']:g} | {paced['duration_s']:.2f} | {fast['fps']:.1f} | {fast['steady_fps']:.1f} | {fast['steady_x_realtime']:.2f} | {fast['cores_busy']:.2f} "
            f"| {paced['wall_s']:.2f} | {'yes' if kept else 'no'} | {paced['frames_dropped']} | {paced['cores_busy']:.2f} | {paced['first_frame_s']:.2f} | {paced['lag_p95_s']:.2f} / {paced['lag_max_s']:.2f} |"
        )
    out += [
        "",
        "### 1b. One stream, paced: decisions",
        "",
        "Latency: Decision.latency_ms, wall time from the track's first frame being decoded to the decision (queueing and analysis included), for all decisions and for each track's first; "
        "identifiable: each track's first decision timed from the first frame where its face was large enough to recognise (28 px at the working size); "
        "alerts: Alert.latency_ms, from the track's first frame to the alert.",
        "",
        "| video | tracks | tracks >= 1 s | of those decided | >= 1 s and face >= 28 px | of those decided | decisions | latency p50 / max ms | first decision p50 / max ms | first decision, identifiable p50 / max ms | alerts p50 / max ms | embeddings / frame |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, runs in result["watch"].items():
        p = runs["paced"]
        share = lambda a, b: f"{p[a]} ({100 * p[a] / p[b]:.0f}%)" if p[b] else "-"  # noqa: E731
        out.append(
            f"| {key} | {p['tracks']} | {p['tracks_1s']} | {share('tracks_1s_decided', 'tracks_1s')} | {p['tracks_1s_big']} | {share('tracks_1s_big_decided', 'tracks_1s_big')} | {p['decisions']} "
            f"| {fmt(p['latency_ms']['p50'])} / {fmt(p['latency_ms']['max'])} | {fmt(p['first_decision_latency_ms']['p50'])} / {fmt(p['first_decision_latency_ms']['max'])} "
            f"| {fmt(p['first_decision_identifiable_latency_ms']['p50'])} / {fmt(p['first_decision_identifiable_latency_ms']['max'])} "
            f"| {fmt(p['alert_latency_ms']['p50'])} / {fmt(p['alert_latency_ms']['max'])} | {p['embeddings'] / max(1, p['frames']):.2f} |"
        )
    out += [
        "",
        "### 2. Naive loop (detect + embed + search every face, every frame) vs the watcher, unpaced",
        "",
        "| video | naive fps | naive x real time | naive cores | naive embeddings / frame | watcher fps | watcher embeddings / frame | watcher / naive |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, runs in result["watch"].items():
        nv, fast = runs["naive"], runs["fast"]
        out.append(
            f"| {key} | {nv['fps']:.1f} | {nv['x_realtime']:.2f} | {nv['cores_busy']:.2f} | {nv['embeddings'] / max(1, nv['frames']):.2f} "
            f"| {fast['fps']:.1f} | {fast['embeddings'] / max(1, fast['frames']):.2f} | {fast['fps'] / nv['fps']:.2f}x |"
        )
    out += [
        "",
        f"### 3. 720p streams at once (video.mp4 re-encoded at 1280x720 H.264, analysed at {WORKING_WIDTH} px, played {result['streams_720p'][0]['duration_s']:.1f} s, paced; sustained = every stream done within {SUSTAINED}x)",
        "",
        "| streams | worst wall after start-up s | wall / duration | first frame s (max) | lag p95 / max s | slowest analysis fps | cores busy | load 1m before / after | sustained |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["streams_720p"]:
        out.append(
            f"| {r['streams']} | {r['wall_s_max']:.2f} | {r['wall_over_duration']:.2f} | {r['first_frame_s_max']:.2f} | {r['lag_p95_s_max']:.2f} / {r['lag_max_s']:.2f} | {r['analysis_fps_min']:.1f} "
            f"| {r['cores_busy']:.2f} | {r['loadavg_1m'][0]:.1f} / {r['loadavg_1m'][1]:.1f} | {'yes' if r['sustained'] else 'no'} |"
        )
    out += [
        "",
        f"Most 720p streams sustained in real time: **{result['max_720p_streams']}**.",
        "",
        "### 4. False alarms: per track vs per frame (unpaced)",
        "",
        "`others` holds no one in either video (Obama and Alex Lacamoire, who are or may be in the hamilton clip, are left out): every alert there is false. "
        "On hamilton with `watch`, true = Lin-Manuel; track ids are the same in every unpaced run of a video.",
        "",
        "| video | gallery | threshold | mode | embeddings | decisions | true alerts (tracks) | false alerts (tracks) | falsely matched ids |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["alarms"]:
        ids = ", ".join(r["false_alert_ids"][:4]) + (" ..." if len(r["false_alert_ids"]) > 4 else "")
        true = f"{r['alerts_true']} (tracks {', '.join(map(str, r['true_alert_track_ids'])) or 'none'})" if r["gallery"] == "watch" else "-"
        out.append(
            f"| {r['video']} | {r['gallery']} | {r['threshold']:g} | {r['mode']} | {r['embeddings']} | {r['decisions']} | {true} | {r['alerts_false']} ({r['tracks_alerted_false']}) | {ids or '-'} |"
        )
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
