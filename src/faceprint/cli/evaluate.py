"""faceprint eval verify | identify | detect | calibrate | dlib-to-coco."""

from __future__ import annotations

import json
from pathlib import Path

import click

from faceprint.cli.common import echo_json, engine_options, handle_errors, make_engine
from faceprint.errors import InvalidParameter
from faceprint.eval import calibrate as calibrate_mod
from faceprint.eval import detection, identify as identify_mod, verify as verify_mod
from faceprint.eval.embeddings import default_cache_dir
from faceprint.eval.report import roc_plot, table

cache_option = click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Embedding cache (default ~/.cache/faceprint/eval; FACEPRINT_CACHE overrides).")
nocache_option = click.option("--no-cache", is_flag=True, help="Recompute embeddings.")


def _cache(cache_dir: Path | None, no_cache: bool) -> Path | None:
    return None if no_cache else (cache_dir or default_cache_dir())


@click.group("eval")
def eval_group() -> None:
    """Measure accuracy: verification, identification, detection, calibration."""


@eval_group.command("verify")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--lfw", type=click.Path(file_okay=False, path_type=Path), help="LFW View 2 folder (pairs.txt, images/).")
@click.option("--groups", type=click.Path(dir_okay=False, path_type=Path), help="CSV with image,gender columns: per-group FMR/FNMR at FAR 1e-3.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help="Write a ROC curve PNG here.")
@cache_option
@nocache_option
@engine_options
@handle_errors
def verify_cmd(folder: Path | None, lfw: Path | None, groups: Path | None, as_json: bool, plot: Path | None, cache_dir: Path | None, no_cache: bool, accurate: bool, embedder: str | None) -> None:
    """1:1 accuracy on LFW (--lfw DIR) or on an identity-folder layout (FOLDER)."""
    if (folder is None) == (lfw is None):
        raise InvalidParameter("give either --lfw DIR or FOLDER")
    with make_engine(accurate, embedder) as engine:
        if lfw is not None:
            res = verify_mod.lfw(engine, lfw, groups_csv=groups, cache_dir=_cache(cache_dir, no_cache), progress=not as_json)
        else:
            res = verify_mod.folder(engine, folder, cache_dir=_cache(cache_dir, no_cache), progress=not as_json)  # type: ignore[arg-type]
        name = engine.embedder_name
    if plot is not None:
        roc_plot({name: (res["_scores"], res["_same"])}, plot, f"ROC, {lfw.name if lfw else folder.name}")  # type: ignore[union-attr]
    if as_json:
        echo_json(res)
        return
    rows = [[name] + [res.get(k) for k in ("accuracy", "accuracy_std")] + list(res["tar_at_far"].values()) + [res.get("no_face", res.get("genuine_pairs")), res.get("pairs", res.get("impostor_pairs"))]]
    header = ["embedder", "accuracy", "std"] + [f"TAR@FAR={k}" for k in res["tar_at_far"]] + (["no_face", "pairs"] if lfw else ["genuine", "impostor"])
    click.echo(table(rows, header))
    if "groups" in res:
        click.echo("")
        click.echo(table([[g, v["fmr"], v["fnmr"], v["genuine_pairs"], v["impostor_pairs"]] for g, v in res["groups"].items()], ["group", "FMR@1e-3 thr", "FNMR@1e-3 thr", "genuine", "impostor"]))
    if plot is not None:
        click.echo(f"ROC curve written to {plot}")


@eval_group.command("identify")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@cache_option
@nocache_option
@engine_options
@handle_errors
def identify_cmd(folder: Path, as_json: bool, cache_dir: Path | None, no_cache: bool, accurate: bool, embedder: str | None) -> None:
    """1:N rank-1/rank-5 and FNIR at FPIR 0.01 on DIR/<identity>/<image>."""
    with make_engine(accurate, embedder) as engine:
        res = identify_mod.identify(engine, folder, cache_dir=_cache(cache_dir, no_cache), progress=not as_json)
        name = engine.embedder_name
    if as_json:
        echo_json(res)
        return
    click.echo(table([[name, res["rank1"], res["rank5"], res["fnir_at_fpir"]["0.01"], res.get("_probes"), res.get("_gallery")]], ["embedder", "rank1", "rank5", "FNIR@FPIR=0.01", "probes", "gallery"]))


@eval_group.command("detect")
@click.option("--coco", type=click.Path(dir_okay=False, path_type=Path), required=True, help="COCO-format ground truth.")
@click.option("--images", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--min-face", type=float, default=None, help="Smallest face of interest in pixels.")
@click.option("--json", "as_json", is_flag=True)
@engine_options
@handle_errors
def detect_cmd(coco: Path, images: Path, min_face: float | None, as_json: bool, accurate: bool, embedder: str | None) -> None:
    """Detection recall and AP at IoU 0.5, with recall by face size."""
    with make_engine(accurate, embedder, min_face_px=min_face) as engine:
        res = detection.evaluate(engine, coco, images, progress=not as_json)
    if as_json:
        echo_json(res)
        return
    sizes = res["recall_by_size"]
    click.echo(table([[res["recall_iou50"], res["ap_iou50"], res["_false_positives"]] + list(sizes.values())], ["recall@0.5", "AP@0.5", "false pos."] + [f"recall {k}" for k in sizes]))


@eval_group.command("calibrate")
@click.option("--lfw", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--dry-run", is_flag=True, help="Print the table summary without writing it.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the table here instead of into the package.")
@cache_option
@nocache_option
@engine_options
@handle_errors
def calibrate_cmd(lfw: Path, dry_run: bool, out: Path | None, cache_dir: Path | None, no_cache: bool, accurate: bool, embedder: str | None) -> None:
    """Measure the score -> false-match-rate table on all LFW impostor pairs."""
    with make_engine(accurate, embedder) as engine:
        t = calibrate_mod.calibrate_lfw(engine, lfw, cache_dir=_cache(cache_dir, no_cache), out=out, write=not dry_run)
    rows = [[f"1e-{k}", t.threshold(max_false_match_rate=10.0**-k)] for k in range(1, 8)]
    click.echo(f"{t.embedder}: {t.impostor_pairs:,} impostor pairs; measured down to FMR {t.measured_down_to:.1e}, extrapolated beyond")
    click.echo(table(rows, ["false-match rate", "cosine threshold"]))


@eval_group.command("dlib-to-coco")
@click.argument("xml", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@handle_errors
def dlib_to_coco(xml: tuple[Path, ...], out: Path) -> None:
    """Convert dlib's imglab XML files (e.g. dlib_faces/training.xml testing.xml) to one COCO JSON."""
    out.write_text(json.dumps(detection.dlib_xml_to_coco(*xml), indent=1))
    echo_json({"written": str(out)})
