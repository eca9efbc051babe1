"""Liveness error rates (ISO/IEC 30107-3 APCER / BPCER), per signal and combined, for
the passive mode and the challenge mode (docs/liveness.md).

    .venv/bin/python benchmarks/liveness.py

Real material: one person's live webcam video and a phone replay of him
(``liveness/replay_apfol``), whole and in 2-second stretches. Synthetic material
(labelled so): face photos moved as flat cards, and stretches of the live video shown
on a moving screen (pixel grid, bezel, glare). The challenge's BPCER uses stretches of
the live video in which the person, by hand labels (benchmarks/data/real2_actions.csv),
performs a challenge's actions. The artefact thresholds are checked against live faces
outside this set (LFW, the two people videos). Results: bench-output/liveness.{json,md}.
"""

from __future__ import annotations

import itertools
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
from faceprint.eval.liveness import Presentation, apcer_bpcer, performed, photo_attack, read_action_labels, screen_replay, video_frames  # noqa: E402
from faceprint.liveness import check_liveness, random_actions  # noqa: E402
from faceprint.liveness.challenge import ACTIONS, judge, time_limit_ms  # noqa: E402
from faceprint.liveness.frames import Unjudgeable, measure  # noqa: E402
from faceprint.liveness.artefacts import glare_share, is_framed, moire_peak, panel_sides  # noqa: E402
from faceprint.liveness.passive import GLARE_SPOOF, MOIRE_SPOOF  # noqa: E402

DATA = Path(os.environ.get("FACEPRINT_DATA", REPO.parent / "shared" / "data"))
SEGMENT = 60  # frames: 2 s of the 30 fps videos
CHALLENGES = 20  # random challenges tried against each attack
LABELS = REPO / "benchmarks" / "data" / "real2_actions.csv"
# Moments the labels show the person at rest, facing the camera: a challenge starts there.
REST_S = (0.0, 3.5, 4.4, 7.9, 10.1)


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
    for k, start in enumerate(range(0, len(real) - SEGMENT + 1, SEGMENT // 2)):
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
        challenge_bpcer = performed_challenges(engine)
        live_faces = artefacts_on_live_faces(engine)
    result = {
        "machine": machine(),
        "rows": rows,
        "summary": summarise(items, rows),
        "still_frames": still_frames(),
        "performed_challenges": challenge_bpcer,
        "artefacts_on_live_faces": live_faces,
        "elapsed_s": time.perf_counter() - began,
    }
    write_results(result, REPO / "bench-output", "liveness", table(result))


def drawable() -> list[list[str]]:
    """Every challenge ``random_actions`` can draw."""
    pairs = [list(p) for p in itertools.permutations(ACTIONS, 2) if set(p) != {"TURN_LEFT", "TURN_RIGHT"}]
    return pairs + [list(p) for p in itertools.permutations(ACTIONS, 3)]


def performed_challenges(engine: faceprint.Engine) -> dict[str, object]:
    """BPCER of the challenge: every challenge the server could draw that the live
    video's person performs, by the hand labels, when watched from a moment of rest
    (and the same for the mirrored video, where his turns swap sides). Judged by the
    challenge alone and with the passive signals (the full verdict)."""
    labels = read_action_labels(LABELS)
    real = video_frames(DATA / "liveness" / "replay_apfol" / "videos" / "real2.webm")
    t0 = real[0][0]
    rows = []
    for mirrored in (False, True):
        seen = [lab.mirrored() for lab in labels] if mirrored else labels
        for start_s in REST_S:
            for asked in drawable():
                limit = time_limit_ms(asked)
                if not performed(seen, start_s, asked, limit / 1000.0):
                    continue
                frames = [(ms, px[:, ::-1].copy() if mirrored else px) for ms, px in real if start_s * 1000 <= ms - t0 < start_s * 1000 + limit]
                full = check_liveness(engine.analyzer, frames, actions=asked)
                row = {"video": "real2 mirrored" if mirrored else "real2", "start_s": start_s, "asked": asked, "frames": len(frames), "challenge_passed": bool(full.challenge and full.challenge.passed), "live": full.live, "confidence": full.confidence, "reason": full.reason}
                rows.append(row)
                print(f"performed {row['video']} {asked} from {start_s} s: challenge {'passed' if row['challenge_passed'] else 'FAILED'}, verdict {full.verdict} {full.reason}", flush=True)
    n = len(rows)
    return {"rows": rows, "bpcer_challenge": sum(not r["challenge_passed"] for r in rows) / n, "bpcer_verdict": sum(not r["live"] for r in rows) / n}


def artefacts_on_live_faces(engine: faceprint.Engine) -> dict[str, object]:
    """The moiré and border measures on live faces outside the liveness material (300
    LFW photos, every third frame of the two people videos): how often one live frame
    reads as a screen."""
    faces: list[tuple[np.ndarray, np.ndarray]] = []
    for path in sorted((DATA / "lfw" / "images").glob("*/*.jpg"))[5::25][:300]:
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        found = engine.detect(rgb).sorted_by_area()
        faces += [(rgb, found.xyxy[0])] if len(found) else []
    for video in ("people/face_recognition/examples/short_hamilton_clip.mp4", "people/facenet_pytorch/examples/video.mp4"):
        for _, rgb in video_frames(DATA / video, every=3):
            faces += [(rgb, box) for box in engine.analyzer.detect(rgb).xyxy]
    peaks = np.array([p for p in (moire_peak(rgb, box) for rgb, box in faces) if p is not None])
    framed = [is_framed(panel_sides(rgb, box)) for rgb, box in faces]
    return {
        "faces": len(faces),
        "moire_measured": int(len(peaks)),
        "moire_percentiles": {str(q): float(np.percentile(peaks, q)) for q in (50, 90, 99)},
        "moire_above_threshold": float(np.mean(peaks > MOIRE_SPOOF)),
        "framed_share": float(np.mean(framed)),
    }


def still_frames() -> dict[str, object]:
    """The one passive signal a single frame carries, screen glare, on the shared face
    crops (real: webcam frames of the live person; fake: frames of the phone replay)."""
    out: dict[str, object] = {}
    for kind in ("real", "fake"):
        shares, peaks = [], []
        for path in sorted((DATA / "liveness" / "replay_apfol" / "frames" / kind).glob("*.png")):
            rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            whole = np.array([0, 0, rgb.shape[1], rgb.shape[0]], np.float32)
            shares.append(glare_share(rgb, whole))
            peaks.append(moire_peak(rgb, whole))
        measured = [p for p in peaks if p is not None]
        out[kind] = {
            "frames": len(shares),
            "called_spoof": int(sum(g > GLARE_SPOOF for g in shares)),
            "glare_median": float(np.median(shares)) if shares else None,
            "moire_median": float(np.median(measured)) if measured else None,
            "moire_called_spoof": int(sum(p > MOIRE_SPOOF for p in measured)),
        }
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
    c, pc, lf, sf = s["challenge"], result["performed_challenges"], result["artefacts_on_live_faces"], result["still_frames"]
    out += [
        "",
        f"Challenge mode, attacks: {c['random_challenges_per_attack']} random challenges against each of {c['attacks']} attack recordings (made before any challenge was drawn): APCER {c['apcer']:.3f}.",
        "",
        f"Challenge mode, live: the {len(pc['rows'])} challenges the server could draw that the live video's person performs from a moment of rest, in the video and its mirror image (hand labels, benchmarks/data/real2_actions.csv): "
        f"BPCER {pc['bpcer_challenge']:.3f} for the challenge alone, {pc['bpcer_verdict']:.3f} for the full verdict (challenge and passive signals).",
        "",
        "| video | from | asked | frames | challenge | verdict | reason |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in pc["rows"]:
        out.append(f"| {r['video']} | {r['start_s']:.1f} s | {', '.join(r['asked'])} | {r['frames']} | {'passed' if r['challenge_passed'] else 'failed'} | {'live' if r['live'] else 'spoof'} | {r['reason'] or '-'} |")
    out += [
        "",
        f"Still frames (the shared face crops): screen glare calls {sf['fake']['called_spoof']} of {sf['fake']['frames']} replay frames spoof (APCER {sf['apcer']:.3f}) and "
        f"{sf['real']['called_spoof']} of {sf['real']['frames']} live frames (BPCER {sf['bpcer']:.3f}); median glare share {sf['fake']['glare_median']:.3f} against {sf['real']['glare_median']:.3f}. "
        f"Moiré's median peak is {_num(sf['fake']['moire_median'])} on replay crops and {_num(sf['real']['moire_median'])} on live ones.",
        "",
        f"Artefact measures on {lf['faces']} live faces outside this material (300 LFW photos, the two people videos): moiré peak 50/90/99th percentile "
        f"{lf['moire_percentiles']['50']:.1f} / {lf['moire_percentiles']['90']:.1f} / {lf['moire_percentiles']['99']:.1f} ({lf['moire_above_threshold']:.1%} of single frames above the session threshold {MOIRE_SPOOF:g}); "
        f"{lf['framed_share']:.1%} of frames framed by a panel (a session needs over 25%).",
        "",
        "| presentation | kind | frames | verdict | confidence | reason | planar motion | screen glare | moiré | screen border | identity |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    fmt = lambda v: "-" if v is None else f"{v:.0f}"  # noqa: E731
    for r in result["rows"]:
        g = r["signals"]
        out.append(
            f"| {r['name']} | {r['kind']} | {r['frames']} | {'live' if r['live'] else 'spoof'} | {r['confidence']:.0f} | {r['reason'] or '-'} | "
            f"{fmt(g.get('planar_motion'))} | {fmt(g.get('screen_glare'))} | {fmt(g.get('moire'))} | {fmt(g.get('screen_border'))} | {fmt(g.get('identity'))} |"
        )
    return "\n".join(out) + "\n"


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


if __name__ == "__main__":
    main()
