"""Liveness error rates (ISO/IEC 30107-3 APCER / BPCER), per signal and combined, for
the passive mode and the challenge mode (docs/liveness.md).

    .venv/bin/python benchmarks/liveness.py

Real material: one person's live webcam video and a phone replay of him
(``liveness/replay_apfol``), whole and in 2-second stretches. Synthetic material
(labelled so): face photos moved as flat cards, and stretches of the live video shown
on a moving screen with glare. Results: bench-output/liveness.{json,md}.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from facelike import machine, write_results  # noqa: E402

import faceprint  # noqa: E402
from faceprint.eval.liveness import Presentation, apcer_bpcer, photo_attack, screen_replay, video_frames  # noqa: E402
from faceprint.liveness import check_liveness, random_actions  # noqa: E402
from faceprint.liveness.challenge import judge  # noqa: E402
from faceprint.liveness.frames import Unjudgeable, measure  # noqa: E402
from faceprint.liveness.passive import GLARE_SPOOF, glare_share  # noqa: E402

DATA = Path(os.environ.get("FACEPRINT_DATA", REPO.parent / "shared" / "data"))
SEGMENT = 60  # frames: 2 s of the 30 fps videos
CHALLENGES = 20  # random challenges tried against each attack


def presentations(engine: faceprint.Engine) -> list[Presentation]:
    videos = DATA / "liveness" / "replay_apfol" / "videos"
    real, fake = video_frames(videos / "real2.webm"), video_frames(videos / "fake2.webm")
    out = [Presentation("real2.webm", False, "live", real), Presentation("fake2.webm", True, "replay", fake)]
    for name, frames, attack, kind in (("real2", real, False, "live (2 s)"), ("fake2", fake, True, "replay (2 s)")):
        for k, start in enumerate(range(0, len(frames) - SEGMENT + 1, SEGMENT)):
            out.append(Presentation(f"{name}[{k}]", attack, kind, frames[start : start + SEGMENT]))
    rng = np.random.default_rng(2026)
    # faceless backgrounds: a wall-like texture and a plain grey
    texture = cv2.GaussianBlur(rng.integers(60, 200, real[0][1].shape, dtype=np.uint8), (0, 0), 6)
    backgrounds = [texture, np.full_like(real[0][1], 180)]
    # photos of one face (a second face would be rejected for that alone)
    lfw = sorted((DATA / "lfw" / "images").glob("*/*.jpg"))[11::300]
    photos = [f for f in lfw if len(engine.detect(f)) == 1][:8] + [DATA / "people/face_recognition/examples/obama.jpg", DATA / "people/face_recognition/examples/biden.jpg"]
    for i, photo in enumerate(photos):
        rgb = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
        out.append(Presentation(f"photo:{photo.name}", True, "photo card (synthetic)", photo_attack(rgb, backgrounds[i % 2], rng)))
    for k, start in enumerate(range(0, len(real) - SEGMENT + 1, SEGMENT)):
        out.append(Presentation(f"screen:real2[{k}]", True, "screen replay (synthetic)", screen_replay(real[start : start + SEGMENT], backgrounds[k % 2], rng)))
    return out


def main() -> None:
    began = time.perf_counter()
    rows = []
    rng = random.Random(7)  # the benchmark is repeatable; sessions draw from secrets.SystemRandom
    with faceprint.Engine("fast", workers=1) as engine:
        items = presentations(engine)
        for p in items:
            result = check_liveness(engine.analyzer, p.frames)
            row = {"name": p.name, "attack": p.attack, "kind": p.kind, "frames": len(p.frames), "live": result.live, "confidence": result.confidence, "reason": result.reason, "signals": result.signals}
            # challenge mode: random challenges against the recording (it cannot know them)
            try:
                seq = measure(engine.analyzer, p.frames)
                row["challenges_passed"] = sum(judge(seq, random_actions(rng)).passed for _ in range(CHALLENGES))
            except Unjudgeable as exc:
                row["challenges_passed"] = 0
                row["reason"] = row["reason"] or exc.reason
            rows.append(row)
            print(f"{p.name:28s} {p.kind:26s} live={result.live!s:5} conf={result.confidence:5.1f} challenges {row['challenges_passed']}/{CHALLENGES} {result.reason}", flush=True)
    result = {"machine": machine(), "rows": rows, "summary": summarise(items, rows), "still_frames": still_frames(), "elapsed_s": time.perf_counter() - began}
    write_results(result, REPO / "bench-output", "liveness", table(result))


def still_frames() -> dict[str, object]:
    """The one passive signal a single frame carries, screen glare, on the shared face
    crops (real: webcam frames of the live person; fake: frames of the phone replay)."""
    out: dict[str, object] = {}
    for kind in ("real", "fake"):
        shares = []
        for path in sorted((DATA / "liveness" / "replay_apfol" / "frames" / kind).glob("*.png")):
            rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            shares.append(glare_share(rgb, np.array([0, 0, rgb.shape[1], rgb.shape[0]], np.float32)))
        out[kind] = {"frames": len(shares), "called_spoof": int(sum(g > GLARE_SPOOF for g in shares)), "glare_median": float(np.median(shares)) if shares else None}
    real, fake = out["real"], out["fake"]  # type: ignore[index]
    out["apcer"] = 1 - fake["called_spoof"] / fake["frames"] if fake["frames"] else None  # type: ignore[index, operator]
    out["bpcer"] = real["called_spoof"] / real["frames"] if real["frames"] else None  # type: ignore[index, operator]
    return out


def summarise(items: list[Presentation], rows: list[dict]) -> dict[str, object]:  # type: ignore[type-arg]
    out: dict[str, object] = {}
    signals = sorted({k for r in rows for k in r["signals"]})
    for name in signals + ["passive (all signals)"]:
        accepted = []
        for p, r in zip(items, rows):
            if name == "passive (all signals)":
                ok = r["live"]
            else:
                s = r["signals"].get(name)
                ok = bool(r["signals"]) and (s is None or s >= 50.0)  # no say: not a rejection; unjudgeable: rejected
            accepted.append((p, ok))
        out[name] = {"all": apcer_bpcer(accepted), "real only": apcer_bpcer([(p, ok) for p, ok in accepted if "synthetic" not in p.kind])}
    attacks = [r for r in rows if r["attack"]]
    out["challenge"] = {
        "attacks": len(attacks),
        "random_challenges_per_attack": CHALLENGES,
        "apcer": sum(r["challenges_passed"] for r in attacks) / (CHALLENGES * len(attacks)),
    }
    return out


def table(result: dict) -> str:  # type: ignore[type-arg]
    s = result["summary"]
    out = [
        f"## Liveness ({result['machine']['cpu']}, commit {result['machine']['commit']})",
        "",
        "One real subject (a live webcam video and a phone replay of it, whole and in 2 s stretches) plus synthetic attacks. "
        "APCER: attacks accepted as live; BPCER: live presentations rejected. A tiny, single-subject set: read as a smoke test, not a general accuracy.",
        "",
        "| signal | APCER (all attacks) | BPCER | APCER (real replays only) | BPCER (real only) |",
        "|---|---|---|---|---|",
    ]
    for name, v in s.items():
        if name == "challenge":
            continue
        a, r = v["all"], v["real only"]
        out.append(f"| {name} | {a['apcer']:.3f} ({a['attacks']}) | {a['bpcer']:.3f} ({a['live']}) | {r['apcer']:.3f} ({r['attacks']}) | {r['bpcer']:.3f} ({r['live']}) |")
    c = s["challenge"]
    out += [
        "",
        f"Challenge mode: {c['random_challenges_per_attack']} random challenges against each of {c['attacks']} attack recordings (made before any challenge was drawn): APCER {c['apcer']:.3f}. "
        "BPCER of the challenge needs recordings of people performing the actions they were asked for; the shared data has none, so it is not measured here.",
        "",
        f"Still frames (the shared face crops; screen glare is the one signal a single frame carries): {result['still_frames']['fake']['frames']} replay frames, APCER {result['still_frames']['apcer']:.3f}; "
        f"{result['still_frames']['real']['frames']} live frames, BPCER {result['still_frames']['bpcer']:.3f} (median glare share {result['still_frames']['fake']['glare_median']:.3f} against {result['still_frames']['real']['glare_median']:.3f}).",
        "",
        "| presentation | kind | frames | verdict | confidence | reason | planar motion | screen glare | identity |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    fmt = lambda v: "-" if v is None else f"{v:.0f}"  # noqa: E731
    for r in result["rows"]:
        g = r["signals"]
        out.append(f"| {r['name']} | {r['kind']} | {r['frames']} | {'live' if r['live'] else 'spoof'} | {r['confidence']:.0f} | {r['reason'] or '-'} | {fmt(g.get('planar_motion'))} | {fmt(g.get('screen_glare'))} | {fmt(g.get('identity'))} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
