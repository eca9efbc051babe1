"""The fairness harness on synthetic embeddings: per-group rates, bootstrap,
groups and intersections, and bad labels files. No model is loaded."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from faceprint.errors import InvalidParameter
from faceprint.eval import fairness
from faceprint.eval.fairness import GlobalCalibration, make_groups, measure
from faceprint.eval.fairness_labels import LabelledImages
from faceprint.eval.fairness_labels import MAX_GROUPS, bin_label, parse_bins, read_labels
from faceprint.eval.fairness_report import compare, render
from faceprint.matching.calibration import CalibrationTable


class MatrixCalibration:
    """A calibration whose similarity for images i and j is ``sims[i, j]``: image i's
    embedding is the i-th unit vector, so every pair's score is set by the test."""

    name = "test matrix"

    def __init__(self, sims: np.ndarray) -> None:
        self.sims = sims

    def similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self.sims[np.ix_(a.argmax(1), b.argmax(1))]

    def cosine_at(self, rate: float) -> float | None:
        return None


def labelled(n: int, identities: list[str] | None = None, **columns: list) -> LabelledImages:  # type: ignore[type-arg]
    return LabelledImages(files=[Path(f"/d/{i:05d}.jpg") for i in range(n)], identities=identities, columns=dict(columns), source=Path("labels.csv"))


def planted(n: int, high: list[tuple[int, int]], mid: list[tuple[int, int]], base: float = 10.0) -> tuple[np.ndarray, MatrixCalibration]:
    """n images; pairs in ``high`` score 45 (a match at 1e-4 and 1e-3), pairs in ``mid``
    score 35 (a match at 1e-3 only), every other pair ``base``."""
    sims = np.full((n, n), base)
    for (i, j), v in [*((p, 45.0) for p in high), *((p, 35.0) for p in mid)]:
        sims[i, j] = sims[j, i] = v
    return np.eye(n, dtype=np.float32), MatrixCalibration(sims)


def rate_at(report: fairness.FairnessReport, grouping: str, name: str, nominal: float) -> fairness.RateResult:
    return next(r for r in report.group(grouping, name).at if r.nominal == nominal)


# -- the rates ------------------------------------------------------------------
def test_false_match_rates_count_same_group_impostor_pairs() -> None:
    n = 150  # 11,175 pairs: enough to show 1e-4
    vectors, cal = planted(n, high=[(0, 1), (2, 3)], mid=[(4, 5), (6, 7), (8, 9)])
    rep = measure(vectors, labelled(n, g=["a"] * n), cal, reps=50)
    pairs = n * (n - 1) // 2
    r3, r4 = rate_at(rep, "g", "a", 1e-3), rate_at(rep, "g", "a", 1e-4)
    assert (r3.false_matches, r4.false_matches) == (5, 2)
    assert r3.fmr == pytest.approx(5 / pairs) and r4.fmr == pytest.approx(2 / pairs)
    assert r4.times_nominal == pytest.approx(2 / pairs / 1e-4)
    assert r3.similarity == pytest.approx(30.0) and r4.similarity == pytest.approx(40.0)
    assert rep.group("g", "a").impostor_pairs == pairs


def test_pairs_across_groups_count_for_all_but_not_for_either_group() -> None:
    n = 300
    group = ["a"] * 150 + ["b"] * 150
    # a high pair inside a, and a high pair across a and b
    vectors, cal = planted(n, high=[(0, 1), (10, 200)], mid=[])
    rep = measure(vectors, labelled(n, g=group), cal, reps=0)
    assert rate_at(rep, "g", "a", 1e-4).false_matches == 1
    assert rate_at(rep, "g", "b", 1e-4).false_matches == 0
    assert rate_at(rep, "all", "all", 1e-4).false_matches == 2
    assert rep.group("g", "a").impostor_pairs == 150 * 149 // 2


def test_too_few_pairs_gives_a_reason_never_a_number() -> None:
    n = 16  # 120 pairs
    vectors, cal = planted(n, high=[(0, 1)], mid=[])
    rep = measure(vectors, labelled(n, g=["small"] * n), cal, reps=20)
    for nominal in (1e-3, 1e-4):
        r = rate_at(rep, "g", "small", nominal)
        assert r.fmr is None and r.fmr_low is None and r.fmr_high is None and r.times_nominal is None
        assert r.needed_similarity is None and r.needed_cosine is None
    assert rate_at(rep, "g", "small", 1e-4).fmr_note == "n/a: 120 pairs cannot show 1e-4"
    row = next(line for line in render(rep).splitlines() if line.startswith("| small"))
    assert "n/a: 120 pairs cannot show 1e-4" in row and "n/a: 120 pairs cannot show 1e-3" in row
    assert "0.0083" not in row  # 1/120, the number that must not be printed


def test_min_pairs_factor_is_the_rule_for_showing_a_rate() -> None:
    n = 150  # 11,175 pairs: shows 1e-4 at factor 1, not at factor 3 (30,000 needed)
    vectors, cal = planted(n, high=[(0, 1)], mid=[])
    assert rate_at(measure(vectors, labelled(n, g=["a"] * n), cal, reps=0), "g", "a", 1e-4).fmr is not None
    strict = measure(vectors, labelled(n, g=["a"] * n), cal, reps=0, min_pairs_factor=3.0)
    assert rate_at(strict, "g", "a", 1e-4).fmr is None
    assert rate_at(strict, "g", "a", 1e-3).fmr is not None


def test_false_non_match_rate_on_genuine_pairs_of_each_identity() -> None:
    # 40 people x 4 images: 240 genuine pairs; genuine pairs score 50 except three at 35
    n, per = 160, 4
    ids = [f"p{i // per}" for i in range(n)]
    sims = np.full((n, n), 5.0)
    for p in range(n // per):
        for i, j in itertools.combinations(range(p * per, p * per + per), 2):
            sims[i, j] = sims[j, i] = 50.0
    for i, j in [(0, 1), (4, 5), (8, 9)]:
        sims[i, j] = sims[j, i] = 35.0
    rep = measure(np.eye(n, dtype=np.float32), labelled(n, identities=ids, g=["a"] * n), MatrixCalibration(sims), reps=100)
    g = rep.group("g", "a")
    assert g.genuine_pairs == 240 and g.impostor_pairs == n * (n - 1) // 2 - 240 and g.units == 40
    assert rate_at(rep, "g", "a", 1e-3).fnmr == 0.0  # 35 >= 30
    r4 = rate_at(rep, "g", "a", 1e-4)
    assert r4.false_non_matches == 3 and r4.fnmr == pytest.approx(3 / 240)
    assert r4.fnmr_low is not None and r4.fnmr_low <= r4.fnmr <= r4.fnmr_high  # type: ignore[operator]
    assert rate_at(rep, "g", "a", 1e-3).false_matches == 0  # genuine pairs are no impostors
    assert rep.bootstrap["resamples"] == "identities"


def test_without_identities_there_is_no_fnmr_and_it_says_why() -> None:
    vectors, cal = planted(150, high=[], mid=[])
    r = rate_at(measure(vectors, labelled(150, g=["a"] * 150), cal, reps=0), "g", "a", 1e-3)
    assert r.fnmr is None and r.fnmr_note == "n/a: the labels name no identities"


def test_needed_threshold_is_the_lowest_that_meets_the_rate() -> None:
    n = 150
    pairs = list(itertools.combinations(range(n), 2))
    rng = np.random.default_rng(3)
    sims = np.zeros((n, n))
    scores = rng.uniform(0, 60, len(pairs))
    for (i, j), s in zip(pairs, scores):
        sims[i, j] = sims[j, i] = s
    rep = measure(np.eye(n, dtype=np.float32), labelled(n, g=["a"] * n), MatrixCalibration(sims), reps=0)
    for nominal in (1e-3, 1e-4):
        need = rate_at(rep, "g", "a", nominal).needed_similarity
        assert need is not None
        allowed = int(nominal * len(pairs))
        assert (scores >= need).sum() <= allowed
        # a little lower lets one more pair through: it is the lowest such threshold
        assert (scores >= need - 1e-3).sum() > allowed


def test_a_group_no_similarity_can_protect_is_named_not_given_a_threshold() -> None:
    # 20 pairs at the top of the scale (100: near-duplicates): 1e-3 of 11,175 pairs allows 11
    n = 150
    sims = np.full((n, n), 10.0)
    for i in range(0, 40, 2):
        sims[i, i + 1] = sims[i + 1, i] = 100.0
    r = rate_at(measure(np.eye(n, dtype=np.float32), labelled(n, g=["a"] * n), MatrixCalibration(sims), reps=0), "g", "a", 1e-3)
    assert r.fmr == pytest.approx(20 / 11175)
    assert r.needed_similarity is None and r.needed_note == "no similarity up to 100 keeps this group's false matches within 1e-3"
    assert r.needed_cosine is not None  # the raw score it would need is still told


def test_one_pair_is_one_pair() -> None:
    vectors, cal = planted(2, high=[], mid=[])
    assert rate_at(measure(vectors, labelled(2, g=["a", "a"]), cal, reps=0), "g", "a", 1e-3).fmr_note == "n/a: 1 pair cannot show 1e-3"


def test_global_calibration_matches_the_table_and_needs_a_stricter_threshold_for_a_tight_group() -> None:
    rng = np.random.default_rng(0)
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    cal = unit(rng.normal(size=(2000, 16)))
    table = CalibrationTable.measure("toy", "toy-v1", (cal @ cal.T)[np.triu_indices(2000, 1)], dataset="toy", command="none")
    spread = unit(rng.normal(size=(300, 16)))  # like the calibration set
    tight = unit(rng.normal(size=(300, 16)) + 3.0 * unit(rng.normal(size=(1, 16))))  # faces the model separates less well
    vectors = np.vstack([spread, tight]).astype(np.float32)
    rep = measure(vectors, labelled(600, g=["spread"] * 300 + ["tight"] * 300), GlobalCalibration(table), reps=200)
    s, t = rate_at(rep, "g", "spread", 1e-3), rate_at(rep, "g", "tight", 1e-3)
    assert 0.3 < s.times_nominal < 3.0  # type: ignore[operator]
    assert t.times_nominal > 3.0 and t.fmr_low > s.fmr_high  # type: ignore[operator]
    assert t.needed_similarity > 30.0 > s.needed_similarity - 5.0  # type: ignore[operator]
    assert rep.thresholds_cosine["1e-3"] == pytest.approx(table.threshold(max_false_match_rate=1e-3))
    summary = next(x for x in rep.summaries if x.grouping == "g" and x.nominal == 1e-3)
    assert summary.worst == "tight" and summary.best == "spread"
    assert summary.worst_to_best == pytest.approx(t.fmr / s.fmr)  # type: ignore[operator]
    assert summary.worst_to_nominal == pytest.approx(t.times_nominal)


# -- the bootstrap -------------------------------------------------------------------
def test_bootstrap_weights_pairs_like_duplicated_images() -> None:
    """A resample drawing image i c_i times counts pair (i, j) c_i * c_j times."""
    n = 30
    rng = np.random.default_rng(1)
    sims = rng.uniform(0, 50, (n, n))
    sims = np.triu(sims, 1) + np.triu(sims, 1).T
    vectors, cal = np.eye(n, dtype=np.float32), MatrixCalibration(sims)
    unit = np.arange(n)
    p = fairness._pairs(vectors, unit, cal, 30.0)
    weights = rng.multinomial(n, np.full(n, 1 / n), size=5).astype(float)
    got = fairness._boot_fmr(p, unit, weights, 40.0)
    for w, g in zip(weights, got):
        drawn = np.repeat(np.arange(n), w.astype(int))
        pairs = [(a, b) for a, b in itertools.combinations(drawn, 2) if a != b]
        assert g == pytest.approx(np.mean([sims[a, b] >= 40.0 for a, b in pairs]))


def test_bootstrap_by_identity_keeps_an_identity_s_images_together() -> None:
    n, per = 60, 3
    ids = np.arange(n) // per
    rng = np.random.default_rng(2)
    sims = rng.uniform(0, 50, (n, n))
    sims = np.triu(sims, 1) + np.triu(sims, 1).T
    p = fairness._pairs(np.eye(n, dtype=np.float32), ids, MatrixCalibration(sims), 30.0)
    weights = rng.multinomial(n // per, np.full(n // per, per / n), size=3).astype(float)
    got = fairness._boot_fmr(p, ids, weights, 40.0)
    for w, g in zip(weights, got):
        copies = [(k, i) for k in range(n // per) for _ in range(int(w[k])) for i in range(k * per, k * per + per)]
        pairs = [(a, b) for (ka, a), (kb, b) in itertools.combinations(copies, 2) if ka != kb]
        assert g == pytest.approx(np.mean([sims[a, b] >= 40.0 for a, b in pairs]))


def test_intervals_are_seeded_and_contain_the_estimate() -> None:
    n = 200
    rng = np.random.default_rng(5)
    sims = rng.uniform(0, 42, (n, n))
    sims = np.triu(sims, 1) + np.triu(sims, 1).T
    args = (np.eye(n, dtype=np.float32), labelled(n, g=["a"] * n), MatrixCalibration(sims))
    a, b = measure(*args, reps=200, seed=7), measure(*args, reps=200, seed=7)
    c = measure(*args, reps=200, seed=8)
    ra, rb, rc = (rate_at(x, "g", "a", 1e-3) for x in (a, b, c))
    assert (ra.fmr_low, ra.fmr_high) == (rb.fmr_low, rb.fmr_high) != (rc.fmr_low, rc.fmr_high)
    assert ra.fmr_low < ra.fmr < ra.fmr_high  # type: ignore[operator]


def test_no_false_match_gives_the_binomial_upper_bound() -> None:
    vectors, cal = planted(150, high=[], mid=[])
    r = rate_at(measure(vectors, labelled(150, g=["a"] * 150), cal, reps=100), "g", "a", 1e-4)
    n = 150 * 149 // 2
    assert r.fmr == 0.0 and r.fmr_low == 0.0
    assert r.fmr_high == pytest.approx(1 - 0.025 ** (1 / n)) and r.fmr_high > 3.0 / n


# -- groups and intersections -------------------------------------------------------
def test_groups_and_intersections() -> None:
    lab = labelled(6, race=["A", "A", "B", "B", None, "A"], age=["0-17", "18-39", "0-17", "0-17", "0-17", None])
    groups = make_groups(lab)
    names = [(g.grouping, g.name, g.members.tolist()) for g in groups]
    assert names[0] == ("all", "all", [0, 1, 2, 3, 4, 5])
    assert ("race", "A", [0, 1, 5]) in names and ("race", "B", [2, 3]) in names
    assert ("age", "0-17", [0, 2, 3, 4]) in names
    # unlabelled cells leave an image out of that column's groups only
    assert ("race x age", "A / 0-17", [0]) in names and ("race x age", "B / 0-17", [2, 3]) in names
    assert {g.grouping for g in groups} == {"all", "race", "age", "race x age"}
    assert [g.grouping for g in make_groups(lab, crosses=[])] == ["all", "race", "race", "age", "age"]
    with pytest.raises(InvalidParameter, match="intersection"):
        make_groups(lab, crosses=[("race", "gender")])


def test_summary_when_the_best_group_has_no_false_match() -> None:
    n = 300
    vectors, cal = planted(n, high=[(0, 1), (2, 3)], mid=[])
    rep = measure(vectors, labelled(n, g=["a"] * 150 + ["b"] * 150), cal, reps=0)
    s = next(x for x in rep.summaries if x.nominal == 1e-4)
    assert s.worst == "a" and s.best == "b" and s.worst_to_best is None
    assert s.note is not None and "no false match in 11,175 pairs" in s.note


def test_images_without_a_face_are_left_out_and_counted_per_group() -> None:
    n = 160
    vectors, cal = planted(n, high=[(0, 1)], mid=[])
    usable = np.ones(n, bool)
    usable[[0, 150, 151]] = False
    rep = measure(vectors, labelled(n, g=["a"] * 150 + ["b"] * 10), cal, usable=usable, reps=0)
    a = rep.group("g", "a")
    assert (a.images, a.excluded) == (149, 1) and rate_at(rep, "g", "a", 1e-4).false_matches == 0
    assert (rep.group("g", "b").images, rep.group("g", "b").excluded) == (8, 2)
    assert (rep.images, rep.excluded) == (157, 3)


def test_report_is_json_and_comparable() -> None:
    n = 150
    vectors, cal = planted(n, high=[(0, 1)], mid=[(2, 3)])
    before = measure(vectors, labelled(n, g=["a"] * n), cal, reps=20)
    after = measure(vectors, labelled(n, g=["a"] * n), MatrixCalibration(np.zeros((n, n))), reps=20)
    json.dumps(before.to_dict(), allow_nan=False)
    text = compare(before, after)
    assert "before: test matrix" in text and "| g " in text


@pytest.mark.parametrize("kw", [dict(rates=[0.0]), dict(rates=[1e-3, 1.5]), dict(rates=[]), dict(reps=-1), dict(min_pairs_factor=0.0)])
def test_bad_settings_are_refused(kw: dict) -> None:  # type: ignore[type-arg]
    vectors, cal = planted(10, high=[], mid=[])
    with pytest.raises(InvalidParameter):
        measure(vectors, labelled(10, g=["a"] * 10), cal, **kw)


def test_one_vector_per_image() -> None:
    with pytest.raises(InvalidParameter, match="one embedding per labelled image"):
        measure(np.eye(9, dtype=np.float32), labelled(10, g=["a"] * 10), MatrixCalibration(np.zeros((10, 10))))


# -- labels files --------------------------------------------------------------------
def write(tmp: Path, text: str, images: list[str] = ()) -> Path:  # type: ignore[assignment]
    for name in images:
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_bytes(b"x")
    csv_path = tmp / "labels.csv"
    csv_path.write_text(text)
    return csv_path


def test_read_labels_defaults_bins_filters_and_identities(tmp_path: Path) -> None:
    csv_path = write(
        tmp_path,
        "path,split,age,gender,race,identity\n"
        "img/b.jpg,measure,17,female,Asian,p1\n"
        "img/a.jpg,measure,40,male,White,p2\n"
        "img/c.jpg,fit,60,male,White,p2\n"
        "img/d.jpg,measure,,male,,p3\n",
        ["img/a.jpg", "img/b.jpg", "img/c.jpg", "img/d.jpg"],
    )
    lab = read_labels(csv_path, tmp_path, where={"split": "measure"})
    assert lab.files == [tmp_path / "img/a.jpg", tmp_path / "img/b.jpg", tmp_path / "img/d.jpg"]  # sorted, fit left out
    assert list(lab.columns) == ["race", "gender", "age"]
    assert lab.columns["age"] == ["40-59", "0-17", None] and lab.columns["race"] == ["White", "Asian", None]
    assert lab.identities == ["p2", "p1", "p3"]
    custom = read_labels(csv_path, tmp_path, by=["age"], bins={"age": (30,)}, identity_column="gender")
    assert custom.columns == {"age": ["30+", "0-29", "30+", None]} and custom.identities == ["male", "female", "male", "male"]


def test_bins() -> None:
    assert [bin_label(a, (18, 40, 60)) for a in (0, 17, 18, 39.5, 40, 59, 60, 116)] == ["0-17", "0-17", "18-39", "18-39", "40-59", "40-59", "60+", "60+"]
    assert parse_bins("age=18,40;height=150") == {"age": (18.0, 40.0), "height": (150.0,)}
    for bad in ("age", "age=", "age=40,18", "age=x", "=1"):
        with pytest.raises(InvalidParameter):
            parse_bins(bad)


def test_labels_naming_missing_images_is_an_error(tmp_path: Path) -> None:
    csv_path = write(tmp_path, "path,race\nimg/a.jpg,White\nimg/gone.jpg,Asian\nimg/also-gone.jpg,Asian\n", ["img/a.jpg"])
    with pytest.raises(InvalidParameter, match=r"2 of the 3 images named in .* are missing, e\.g\. .*also-gone\.jpg \(line 4\)"):
        read_labels(csv_path, tmp_path)


@pytest.mark.parametrize(
    "text, kw, message",
    [
        ("path,race\nimg/a.jpg,White\n", dict(by=["ethnicity"]), r"no column 'ethnicity'; its columns are: path, race"),
        ("path,race\nimg/a.jpg,White\n", dict(where={"split": "measure"}), r"no column 'split'"),
        ("path,race\nimg/a.jpg,White\n", dict(identity_column="person"), r"no column 'person'"),
        ("name,race\nimg/a.jpg,White\n", {}, r"needs a path column \(path or image or file or filename\)"),
        ("path,ethnicity\nimg/a.jpg,White\n", {}, r"none of the default group columns .* --by"),
        ("path,race\nimg/a.jpg,White\n", dict(where={"race": "Asian"}), r"no row .* has race=Asian"),
        ("path,race\nimg/a.jpg,White\nimg/a.jpg,Asian\n", {}, r"names img/a.jpg twice \(lines 2 and 3\)"),
        ("path,age\nimg/a.jpg,adult\n", {}, r"line 2: age is binned and needs a number, got 'adult'"),
        ("path,race\nimg/a.jpg,White,extra\n", {}, r"line 2 has more cells"),
        ("path,race,gender\nimg/a.jpg,White\n", {}, r"line 2 has fewer cells"),
        ("", {}, r"first line of distinct column names"),
        ("path,race,race\nimg/a.jpg,White,White\n", {}, r"distinct column names"),
        ("path,race\n,White\n", {}, r"line 2 has an empty path"),
        ("path,race,identity\nimg/a.jpg,White,\n", {}, r"line 2 has an empty identity"),
        ("path,race\nimg/a.jpg,White\n", dict(bins={"age": (18,)}), r"bins given for age"),
    ],
)
def test_bad_labels_files_are_typed_errors(tmp_path: Path, text: str, kw: dict, message: str) -> None:  # type: ignore[type-arg]
    csv_path = write(tmp_path, text, ["img/a.jpg"])
    with pytest.raises(InvalidParameter, match=message):
        read_labels(csv_path, tmp_path, **kw)


def test_labels_file_absent_or_not_text(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter, match="not found"):
        read_labels(tmp_path / "nope.csv", tmp_path)
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00\x81path\n")
    with pytest.raises(InvalidParameter, match="not a readable CSV"):
        read_labels(tmp_path / "bin.csv", tmp_path)


def test_a_column_with_hundreds_of_values_is_no_group(tmp_path: Path) -> None:
    names = [f"img/{i}.jpg" for i in range(MAX_GROUPS + 1)]
    csv_path = write(tmp_path, "path,race\n" + "".join(f"{p},r{i}\n" for i, p in enumerate(names)), names)
    with pytest.raises(InvalidParameter, match="different values"):
        read_labels(csv_path, tmp_path)


# -- the command line: bad input exits 2 before any model is loaded -----------------
@pytest.mark.parametrize(
    "text, args, message",
    [
        ("path,race\nimg/a.jpg,White\nimg/gone.jpg,Asian\n", [], "images named in"),
        ("path,race\nimg/a.jpg,White\n", ["--by", "ethnicity"], "no column 'ethnicity'"),
        ("path,race\nimg/a.jpg,White\n", ["--where", "split=measure"], "no column 'split'"),
        ("path,race\nimg/a.jpg,White\n", ["--where", "split"], "COLUMN=VALUE"),
        ("path,race\nimg/a.jpg,White\n", ["--rates", "1e-3,often"], "--rates"),
        ("path,race\nimg/a.jpg,White\n", ["--rates", "2"], "within (0, 1)"),
        ("path,race,gender\nimg/a.jpg,White,male\n", ["--cross", "race:age"], "intersection"),
        ("path,race\nimg/a.jpg,White\n", ["--min-pairs-factor", "0"], "min_pairs_factor > 0"),
    ],
)
def test_cli_bad_input_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, args: list[str], message: str) -> None:
    from faceprint.cli import evaluate
    from faceprint.cli.main import cli

    def no_engine(*a: object, **k: object) -> None:
        raise AssertionError("bad input must be refused before an engine is made")

    monkeypatch.setattr(evaluate, "make_engine", no_engine)
    write(tmp_path, text, ["img/a.jpg"])
    result = CliRunner().invoke(cli, ["eval", "fairness", str(tmp_path), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "[invalid_parameter]" in result.output


def test_same_person_pairs_join_images_into_one_identity(tmp_path: Path) -> None:
    from faceprint.eval.fairness_labels import link_same_person

    (tmp_path / "labels.csv").write_text("path,race\n" + "".join(f"i{k}.jpg,A\n" for k in range(5)))
    for k in range(5):
        (tmp_path / f"i{k}.jpg").write_bytes(b"x")
    labels = read_labels(tmp_path / "labels.csv", tmp_path)
    pairs = tmp_path / "same.csv"
    pairs.write_text("a,b\ni0.jpg,i1.jpg\ni1.jpg,i2.jpg\nother-split.jpg,i4.jpg\n")
    linked = link_same_person(labels, pairs)
    ids = linked.identities
    assert ids is not None and ids[0] == ids[1] == ids[2] and len({ids[0], ids[3], ids[4]}) == 3
    # one person photographed three times is no longer three false matches
    v = np.eye(5, dtype=np.float32)
    sims = np.full((5, 5), 50.0)
    rep = measure(v, linked, MatrixCalibration(sims), rates=[0.1], reps=0)
    everyone = rep.group("all", "all")
    assert everyone.impostor_pairs == 10 - 3 and everyone.genuine_pairs == 3
    bad = tmp_path / "bad.csv"
    bad.write_text("first,second\ni0.jpg,i1.jpg\n")
    with pytest.raises(InvalidParameter, match="columns a and b"):
        link_same_person(labels, bad)
    with pytest.raises(InvalidParameter, match="without identities"):
        link_same_person(linked, pairs)
