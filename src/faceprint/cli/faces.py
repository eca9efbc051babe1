"""faceprint detect | compare | identify."""

from __future__ import annotations

from pathlib import Path

import click

import faceprint as fp
from faceprint.cli.common import EXIT_CODES, echo_json, engine_options, expand_images, face_dict, fmt_fmr, handle_errors, make_engine


@click.command()
@click.argument("images", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--annotate", type=click.Path(file_okay=False, path_type=Path), help="Write annotated copies into this folder.")
@click.option("--min-face", type=float, default=None, help="Smallest face of interest in pixels (smaller: finds smaller faces, slower).")
@click.option("--attributes", "with_attributes", is_flag=True, help="Also measure eyes and mouth open, gaze and head pose from the dense face mesh.")
@handle_errors
def detect(images: tuple[str, ...], as_json: bool, annotate: Path | None, min_face: float | None, with_attributes: bool) -> None:
    """Detect faces: box, 5 landmarks, confidence and quality for each face."""
    from PIL import Image

    from faceprint.imaging import draw_faces

    files = expand_images(images)
    out = []
    with fp.Engine(min_face_px=min_face) as engine:
        for path, faces in zip(files, engine.map(engine.detect, files)):
            if isinstance(faces, fp.FaceprintError):
                out.append({"image": str(path), "error": faces.code, "message": str(faces)})
                if not as_json:
                    click.echo(f"{path}: error: {faces} [{faces.code}]", err=True)
                continue
            attrs = engine.attributes(path, faces) if with_attributes else [None] * len(faces)
            out.append({"image": str(path), "faces": [face_dict(f) | ({"attributes": attributes_dict(a)} if a else {}) for f, a in zip(faces, attrs)]})
            if not as_json:
                click.echo(f"{path}: {len(faces)} face(s)")
                for f, a in zip(faces, attrs):
                    q = f.quality
                    x1, y1, x2, y2 = f.xyxy
                    click.echo(
                        f"  box=({x1:.0f},{y1:.0f},{x2:.0f},{y2:.0f}) conf={f.score:.2f} "
                        f"size={q.size_px:.0f}px sharp={q.sharpness:.0f} bright={q.brightness:.0f} "
                        f"yaw={q.yaw:+.0f} pitch={q.pitch:+.0f} roll={q.roll:+.0f}"
                    )
                    if a is not None:
                        click.echo(
                            f"    eyes {'open' if a.eyes_open.value else 'closed'} ({a.eyes_open.confidence:.0f}), "
                            f"mouth {'open' if a.mouth_open.value else 'closed'} ({a.mouth_open.confidence:.0f}), "
                            f"gaze yaw={a.gaze.yaw:+.0f} pitch={a.gaze.pitch:+.0f}, "
                            f"mesh pose yaw={a.pose.yaw:+.0f} pitch={a.pose.pitch:+.0f} roll={a.pose.roll:+.0f}"
                        )
            if annotate is not None:
                annotate.mkdir(parents=True, exist_ok=True)
                pixels = engine.load(path)
                Image.fromarray(draw_faces(pixels, faces)).save(annotate / f"{path.stem}.jpg", quality=90)
    if as_json:
        echo_json(out)
    failed = [EXIT_CODES.get(r["error"], 1) for r in out if "error" in r]
    if failed:
        raise SystemExit(max(failed))


def attributes_dict(a: fp.FaceAttributes) -> dict[str, object]:
    return {
        "eyes_open": {"value": a.eyes_open.value, "confidence": round(a.eyes_open.confidence, 2), "openness": [round(v, 4) for v in a.eye_openness]},
        "mouth_open": {"value": a.mouth_open.value, "confidence": round(a.mouth_open.confidence, 2), "openness": round(a.mouth_openness, 4)},
        "eye_direction": {"yaw": round(a.gaze.yaw, 2), "pitch": round(a.gaze.pitch, 2), "confidence": round(a.gaze_confidence, 2)},
        "pose": {"yaw": round(a.pose.yaw, 2), "pitch": round(a.pose.pitch, 2), "roll": round(a.pose.roll, 2)},
        "landmarks": {k: [round(x, 1), round(y, 1)] for k, (x, y) in a.landmarks.items()},
    }


@click.command()
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--min-similarity", type=float, default=fp.DEFAULT_MIN_SIMILARITY, show_default=True, help="0-100; 10 x -log10(false-match rate).")
@click.option("--json", "as_json", is_flag=True)
@engine_options
@handle_errors
def compare(source: Path, target: Path, min_similarity: float, as_json: bool, accurate: bool, embedder: str | None) -> None:
    """Compare the largest face in SOURCE with every face in TARGET."""
    from faceprint.matching import UNREACHABLE
    from faceprint.rekognition.shapes import REFUSAL_MESSAGES

    with make_engine(accurate, embedder) as engine, fp.Service(engine=engine) as svc:
        result = svc.compare_faces(source, target, min_similarity=min_similarity)  # audited
    rows = [(fm, True) for fm in result.matches] + [(fm, False) for fm in result.unmatched]
    if as_json:
        echo_json({
            "source_face": face_dict(result.source),
            "min_similarity": min_similarity,
            "faces": [{**face_dict(fm.face), "similarity": round(fm.match.similarity, 2), "false_match_rate": fm.match.false_match_rate, "extrapolated": fm.match.extrapolated, "cosine": round(fm.match.cosine, 4), "match": ok, "refusal": fm.match.refusal} for fm, ok in rows],
        })
        return
    click.echo(f"{target}: {len(rows)} face(s); threshold similarity {min_similarity:g} (false-match rate {10 ** (-min_similarity / 10):.0e})")
    for fm, ok in rows:
        x1, y1, x2, y2 = fm.face.xyxy
        verdict = "REFUSED " if fm.match.refusal else "MATCH   " if ok else "no match"
        click.echo(f"  {verdict} similarity={fm.match.similarity:5.1f} false_match_rate={fmt_fmr(fm.match)} box=({x1:.0f},{y1:.0f},{x2:.0f},{y2:.0f})")
    if any(fm.match.extrapolated for fm, _ in rows):
        click.echo("  * beyond the measured range: extrapolated from the calibration tail")
    if any(fm.match.refusal for fm, _ in rows):
        click.echo(f"  REFUSED: {REFUSAL_MESSAGES[UNREACHABLE]}")


@click.command()
@click.option("--gallery", "gallery_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder of known people: DIR/<person>/<images>.")
@click.argument("probes", nargs=-1, required=True)
@click.option("--min-similarity", type=float, default=fp.DEFAULT_MIN_SIMILARITY, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@engine_options
@handle_errors
def identify(gallery_dir: Path, probes: tuple[str, ...], min_similarity: float, as_json: bool, accurate: bool, embedder: str | None) -> None:
    """Name the faces in PROBE images (files or folders) from a gallery folder.

    Prints one line per face: file, person or unknown, similarity, false-match rate.
    """
    files = expand_images(probes)
    out = []
    failed: list[int] = []
    with make_engine(accurate, embedder) as engine:
        gallery = fp.Gallery.from_folder(engine, gallery_dir, progress=not as_json)
        for path, faces in zip(files, engine.analyze_many(files, pose=False)):  # identities only: no head pose
            if isinstance(faces, fp.FaceprintError):
                click.echo(f"{path},error,{faces.code}", err=True)
                failed.append(EXIT_CODES.get(faces.code, 1))
                continue
            if len(faces) == 0:
                out.append({"image": str(path), "person": None, "note": "no_face"})
                if not as_json:
                    click.echo(f"{path},no_persons_found")
                continue
            for ident in gallery.identify(engine, faces, min_similarity=min_similarity):
                out.append({"image": str(path), "person": ident.label, "similarity": round(ident.match.similarity, 2), "false_match_rate": ident.match.false_match_rate, "extrapolated": ident.match.extrapolated, "refusal": ident.match.refusal, "xyxy": [round(v, 1) for v in ident.face.xyxy]})
                if not as_json:
                    who = ident.label or ("refused:" + ident.match.refusal if ident.match.refusal else "unknown")
                    click.echo(f"{path},{who},{ident.match.similarity:.1f},{fmt_fmr(ident.match)}")
    if as_json:
        echo_json(out)
    if failed:
        raise SystemExit(max(failed))
