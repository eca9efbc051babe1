"""faceprint eval verify | identify | detect | calibrate | fairness | dlib-to-coco."""

from __future__ import annotations

import json
from pathlib import Path

import click

from faceprint.cli.common import echo_json, engine_options, handle_errors, make_engine
from faceprint.constants import BOOTSTRAP_REPS
from faceprint.errors import InvalidParameter

cache_option = click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Embedding cache (default ~/.cache/faceprint/eval; FACEPRINT_CACHE overrides).")
nocache_option = click.option("--no-cache", is_flag=True, help="Recompute embeddings.")


def _cache(cache_dir: Path | None, no_cache: bool) -> Path | None:
    from faceprint.eval.embeddings import default_cache_dir

    return None if no_cache else (cache_dir or default_cache_dir())


@click.group("eval")
def eval_group() -> None:
    """Measure accuracy: verification, identification, detection, calibration, fairness."""


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
    from faceprint.eval import verify as verify_mod
    from faceprint.eval.report import roc_plot, table

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
    from faceprint.eval import identify as identify_mod
    from faceprint.eval.report import table

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
    from faceprint.eval import detection
    from faceprint.eval.report import table

    with make_engine(accurate, embedder, min_face_px=min_face) as engine:
        res = detection.evaluate(engine, coco, images, progress=not as_json)
    if as_json:
        echo_json(res)
        return
    sizes = res["recall_by_size"]
    click.echo(table([[res["recall_iou50"], res["ap_iou50"], res["_false_positives"]] + list(sizes.values())], ["recall@0.5", "AP@0.5", "false pos."] + [f"recall {k}" for k in sizes]))


@eval_group.command("calibrate")
@click.option("--lfw", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--regions", is_flag=True, help="Fit the region calibration (per-region tables) instead of the global table; needs --utkface.")
@click.option("--utkface", type=click.Path(file_okay=False, path_type=Path), help="The UTKFace folder (labels.csv with a split column); only its fit split is used.")
@click.option("--dry-run", is_flag=True, help="Print the table summary without writing it.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the table here instead of into the package.")
@cache_option
@nocache_option
@engine_options
@handle_errors
def calibrate_cmd(lfw: Path, regions: bool, utkface: Path | None, dry_run: bool, out: Path | None, cache_dir: Path | None, no_cache: bool, accurate: bool, embedder: str | None) -> None:
    """Measure the score -> false-match-rate table on all LFW impostor pairs, or with
    --regions the per-region tables that keep the rate true for every kind of face."""
    from faceprint.eval import calibrate as calibrate_mod
    from faceprint.eval.report import table

    if regions:
        if utkface is None:
            raise click.UsageError("--regions needs --utkface DIR")
        with make_engine(accurate, embedder) as engine:
            r = calibrate_mod.calibrate_regions(engine, lfw, utkface, cache_dir=_cache(cache_dir, no_cache), out=out, write=not dry_run)
        rows = [[i, t.impostor_pairs, t.threshold(max_false_match_rate=1e-3), t.threshold(max_false_match_rate=1e-4)] for i, t in enumerate(r.tables)]
        click.echo(f"{r.embedder}: {len(r.tables)} regions fitted on {r.dataset}")
        click.echo(table(rows, ["region", "impostor pairs", "cosine at 1e-3", "cosine at 1e-4"]))
        return
    with make_engine(accurate, embedder) as engine:
        t = calibrate_mod.calibrate_lfw(engine, lfw, cache_dir=_cache(cache_dir, no_cache), out=out, write=not dry_run)
    rows = [[f"1e-{k}", t.threshold(max_false_match_rate=10.0**-k)] for k in range(1, 8)]
    click.echo(f"{t.embedder}: {t.impostor_pairs:,} impostor pairs; measured down to FMR {t.measured_down_to:.1e}, extrapolated beyond")
    click.echo(table(rows, ["false-match rate", "cosine threshold"]))


@eval_group.command("fairness")
@click.argument("folder", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--groups", "labels_csv", type=click.Path(dir_okay=False, path_type=Path), help="Labels CSV (default FOLDER/labels.csv): a path column (path, image, file or filename; relative to FOLDER), an optional identity column, and group columns.")
@click.option("--by", default=None, help="Group columns, comma-separated (default: race, gender, age where present).")
@click.option("--cross", default=None, help="Intersections, e.g. race:gender,race:age (default: every pair of --by columns; 'none' for none).")
@click.option("--where", "where", multiple=True, help="Keep rows with COLUMN=VALUE, e.g. split=measure (repeatable).")
@click.option("--bins", default=None, help="Cut numeric columns: age=18,40,60 (the default for age); several separated by ';'.")
@click.option("--identity", "identity_column", default=None, help="Identity column (default: identity, when present); gives genuine pairs and FNMR.")
@click.option("--rates", default="1e-3,1e-4", show_default=True, help="Nominal false-match rates whose thresholds are measured.")
@click.option("--reps", type=click.IntRange(0, 100_000), default=BOOTSTRAP_REPS, show_default=True, help="Bootstrap resamples (0: no intervals).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--min-pairs-factor", type=float, default=1.0, show_default=True, help="Show a rate r for a group only with at least this many / r impostor pairs (1: one false match is already r).")
@click.option("--choose", type=click.Choice(["largest", "centre"]), default="largest", show_default=True, help="Which face of an image is the labelled one (centre for LFW-style crops).")
@click.option("--keep-no-face", is_flag=True, help="Measure images without a detected face on a centred fallback crop instead of leaving them out.")
@click.option("--same-person", "same_person", type=click.Path(dir_okay=False, exists=True, path_type=Path), help="CSV with columns a,b: pairs of images found to be one person (for a labels file without identities); they are not counted as impostor pairs.")
@click.option("--calibration", "calibration_name", type=click.Choice(["shipped", "global"]), default="shipped", show_default=True, help="shipped: what the engine decides with (its region calibration where one is fitted); global: the single LFW table alone (the 'before').")
@click.option("--json", "as_json", is_flag=True)
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help="Write a per-group false-match-rate plot (PNG) here.")
@cache_option
@nocache_option
@engine_options
@handle_errors
def fairness_cmd(folder: Path, labels_csv: Path | None, by: str | None, cross: str | None, where: tuple[str, ...], bins: str | None, identity_column: str | None, rates: str, reps: int, seed: int, min_pairs_factor: float, choose: str, keep_no_face: bool, same_person: Path | None, calibration_name: str, as_json: bool, plot: Path | None, cache_dir: Path | None, no_cache: bool, accurate: bool, embedder: str | None) -> None:
    """False-match rate per group (and intersection) at the calibrated 1e-3 and 1e-4
    thresholds, false-non-match rate where identities exist, with bootstrap intervals
    and the threshold each group would need.

    \b
    Example (UTKFace's measure split; no identities, so FMR only):
      faceprint eval fairness ../shared/data/fairness/utkface --where split=measure
    Example (LFW by gender, with identities: FMR and FNMR):
      faceprint eval fairness ../shared/data/lfw --groups ../shared/data/lfw/gender.csv --by gender --choose centre
    """
    from faceprint.eval import fairness as fairness_mod
    from faceprint.eval.fairness_labels import link_same_person, parse_bins, read_labels
    from faceprint.eval.fairness_report import plot as fairness_plot, render as fairness_render

    crosses = None if cross is None else ([] if cross.strip().lower() == "none" else [tuple(_csv_list(c, ":")) for c in _csv_list(cross)])
    where_cols = dict(_pair(w) for w in where)
    nominal = _rates(rates)
    # the labels first: a bad file fails before any model is loaded
    labels = read_labels(labels_csv or folder / "labels.csv", folder, by=_csv_list(by) or None, where=where_cols, bins=parse_bins(bins) if bins else None, identity_column=identity_column)
    if same_person is not None:
        labels = link_same_person(labels, same_person)
    fairness_mod.check_settings(nominal, reps, min_pairs_factor)
    fairness_mod.make_groups(labels, crosses)
    with make_engine(accurate, embedder) as engine:
        report = fairness_mod.evaluate(
            engine,
            labels,
            crosses=crosses,
            choose=choose,
            keep_no_face=keep_no_face,
            rates=nominal,
            reps=reps,
            seed=seed,
            min_pairs_factor=min_pairs_factor,
            calibration=fairness_mod.GlobalCalibration(engine.calibration) if calibration_name == "global" else None,
            cache_dir=_cache(cache_dir, no_cache),
            progress=not as_json,
        )
    report.settings["where"] = where_cols
    if plot is not None:
        which = "region calibration" if report.calibration.startswith("region") else "one global table"
        fairness_plot(report, plot, f"{folder.name}: {report.settings['mode']} mode ({report.settings['embedder']}), {which}")
    if as_json:
        echo_json(report.to_dict())
        return
    click.echo(fairness_render(report))
    if plot is not None:
        click.echo(f"\nplot written to {plot}")


def _csv_list(value: str | None, sep: str = ",") -> list[str]:
    return [v.strip() for v in (value or "").split(sep) if v.strip()]


def _pair(text: str) -> tuple[str, str]:
    column, eq, value = text.partition("=")
    if not eq or not column.strip():
        raise InvalidParameter(f"--where needs COLUMN=VALUE, got {text!r}")
    return column.strip(), value.strip()


def _rates(text: str) -> list[float]:
    try:
        return [float(v) for v in _csv_list(text)]
    except ValueError:
        raise InvalidParameter(f"--rates needs numbers such as 1e-3,1e-4, got {text!r}") from None


@eval_group.command("dlib-to-coco")
@click.argument("xml", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@handle_errors
def dlib_to_coco(xml: tuple[Path, ...], out: Path) -> None:
    """Convert dlib's imglab XML files (e.g. dlib_faces/training.xml testing.xml) to one COCO JSON."""
    from faceprint.eval import detection

    out.write_text(json.dumps(detection.dlib_xml_to_coco(*xml), indent=1))
    echo_json({"written": str(out)})
