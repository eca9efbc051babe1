"""faceprint demo: build a gallery, identify faces, write annotated images and a report."""

from __future__ import annotations

import html
import os
import time
from pathlib import Path

import click

import faceprint as fp
from faceprint.cli.common import expand_images, fmt_fmr, handle_errors

KNN = Path("people/face_recognition/examples/knn_examples")


def _data_dir() -> Path:
    return Path(os.environ.get("FACEPRINT_DATA", "../shared/data"))


def _bundled_sample(out: Path) -> tuple[Path, Path]:
    """A gallery and probes made from a public-domain portrait shipped inside an
    installed package (matplotlib's photograph of Grace Hopper, a U.S. Navy photo)."""
    import matplotlib
    from PIL import Image, ImageOps

    src = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    gallery = out / "sample_gallery" / "grace_hopper"
    probes = out / "sample_probes"
    gallery.mkdir(parents=True, exist_ok=True)
    probes.mkdir(parents=True, exist_ok=True)
    im = Image.open(src).convert("RGB")
    im.save(gallery / "grace_hopper.jpg")
    # probes: the same person mirrored and shrunk, in grayscale, and rotated on a canvas
    ImageOps.mirror(im).resize((im.width // 2, im.height // 2)).save(probes / "mirrored_small.jpg")
    ImageOps.grayscale(im).save(probes / "grayscale.png")
    canvas = Image.new("RGB", (im.width * 2, im.height), (200, 200, 200))
    canvas.paste(im.rotate(8, expand=False, fillcolor=(200, 200, 200)), (im.width // 2, 0))
    canvas.save(probes / "rotated_on_canvas.jpg")
    return gallery.parent, probes


@click.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-output"), show_default=True)
@click.option("--gallery", "gallery_dir", type=click.Path(file_okay=False, path_type=Path), help="Your own DIR/<person>/<images> (default: the shared data's knn_examples/train).")
@click.option("--probes", "probe_dir", type=click.Path(path_type=Path), help="Your own probe image or folder.")
@click.option("--accurate", is_flag=True)
@handle_errors
def demo(out: Path, gallery_dir: Path | None, probe_dir: Path | None, accurate: bool) -> None:
    """Identify the people in a folder of photos and write an HTML report."""
    from PIL import Image

    from faceprint.imaging import draw_faces

    out.mkdir(parents=True, exist_ok=True)
    if gallery_dir is None:
        data = _data_dir() / KNN
        if (data / "train").is_dir():
            gallery_dir, probe_dir = data / "train", data / "test"
            click.echo(f"gallery: {gallery_dir}\nprobes:  {probe_dir}")
        else:
            gallery_dir, probe_dir = _bundled_sample(out)
            click.echo(f"shared data not found at {_data_dir()} (set FACEPRINT_DATA); using a portrait shipped with matplotlib.")
            click.echo("Point the demo at your own photos with: faceprint demo --gallery DIR/<person>/<images> --probes DIR")
    if probe_dir is None:
        raise fp.InvalidParameter("--probes is required with --gallery")
    probes = expand_images([str(probe_dir)])
    rows = []
    t0 = time.perf_counter()
    with fp.Engine("accurate" if accurate else "fast") as engine:
        gallery = fp.Gallery.from_folder(engine, gallery_dir)
        click.echo(f"enrolled {len(gallery.labels)} image(s) of {len(set(gallery.labels))} people ({engine.embedder_name})")
        for path, faces in zip(probes, engine.analyze_many(probes)):
            if isinstance(faces, fp.FaceprintError):
                click.echo(f"{path.name}: {faces}")
                continue
            ids = gallery.identify(engine, faces)
            labels = [f"{i.label or 'unknown'} {i.match.similarity:.0f}" for i in ids]
            annotated = draw_faces(engine.load(path), faces, labels, [i.label is not None for i in ids])
            out_name = f"{path.stem}.annotated.jpg"
            Image.fromarray(annotated).save(out / out_name, quality=88)
            for i in ids:
                click.echo(f"{path.name}: {i.label or 'unknown':<16} similarity {i.match.similarity:5.1f}  false-match rate {fmt_fmr(i.match)}")
            if not ids:
                click.echo(f"{path.name}: no faces")
            rows.append((path.name, out_name, ids))
    elapsed = time.perf_counter() - t0
    report = out / "report.html"
    report.write_text(_html(rows, gallery_dir, engine.embedder_name, elapsed))
    click.echo(f"wrote {len(rows)} annotated image(s) and {report}")


def _html(rows: list, gallery_dir: Path, embedder: str, elapsed: float) -> str:
    body = []
    for name, out_name, ids in rows:
        items = "".join(
            f"<li><b>{html.escape(i.label or 'unknown')}</b> similarity {i.match.similarity:.1f}, "
            f"false-match rate {html.escape(fmt_fmr(i.match))}</li>"
            for i in ids
        ) or "<li>no faces</li>"
        body.append(f"<figure><img src='{html.escape(out_name)}' style='max-width:480px'><figcaption>{html.escape(name)}<ul>{items}</ul></figcaption></figure>")
    return (
        "<!doctype html><meta charset='utf-8'><title>faceprint demo</title>"
        "<style>body{font-family:sans-serif;margin:2em}figure{display:inline-block;vertical-align:top;margin:1em}</style>"
        f"<h1>faceprint demo</h1><p>Gallery: {html.escape(str(gallery_dir))}. Embedder: {html.escape(embedder)}. "
        f"{len(rows)} probe image(s) in {elapsed:.1f} s. Similarity is 10 x -log10(false-match rate): "
        "40 means one false match in 10,000 comparisons of different people.</p>"
        + "".join(body)
    )
