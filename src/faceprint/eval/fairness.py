"""Does a threshold mean the same false-match rate for every group of faces?

For each group of a labelled image set (each value of a column such as race, and each
combination of two columns such as race x gender) this measures, at the thresholds a
calibration sets for nominal false-match rates (1e-3 and 1e-4 by default):

* the false-match rate on the group's own impostor pairs (both images in the group,
  different people): strangers who look alike to the model are most often of the same
  group, so same-group pairs are where a promise breaks first;
* the false-non-match rate on its genuine pairs, where the labels name identities;
* bootstrap 95% intervals, resampling the units that make pairs (identities when the
  labels have them, else images) rather than the pairs, because pairs sharing an image
  are not independent: a resampled unit drawn twice weighs its pairs twice;
* the similarity (and raw cosine) threshold the group itself would need to meet the
  nominal rate; and per grouping the worst group against the nominal rate and against
  the best group.

The calibration under test is a parameter (:class:`PairCalibration`), so a new one (for
example one that adapts to where a face lies in the embedding space) is measured by the
same code as the shipped global table, and the two reports compared.

A rate is only reported where the group has enough impostor pairs to show it: at least
``min_pairs_factor / rate`` pairs (10,000 for 1e-4 by default; with fewer, a single
false match is already above the rate). Otherwise the result says so instead of giving
a number.
"""

from __future__ import annotations

import itertools
import math
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

from faceprint.constants import BOOTSTRAP_REPS
from faceprint.engine import Engine
from faceprint.errors import InvalidParameter
from faceprint.eval.embeddings import embed_files
from faceprint.eval.fairness_labels import LabelledImages
from faceprint.matching.calibration import CalibrationTable, similarity_from_fmr
from faceprint.matching.regions import RegionCalibration

NOMINAL_RATES = (1e-3, 1e-4)
LEVEL = 0.95
MIN_GENUINE_PAIRS = 30  # fewer genuine pairs than this give no useful FNMR
BLOCK = 1024  # rows of the similarity matrix computed at once
_BOOT_CELLS = 4_000_000  # reps x pairs multiplied at once in the bootstrap


class PairCalibration(Protocol):
    """How the system under test turns two faces into a calibrated similarity.

    ``similarity(a, b)`` gets ``(m, d)`` and ``(n, d)`` unit embeddings and returns the
    ``(m, n)`` similarities 0-100 (``10 * -log10`` of the false-match rate it claims)
    the system would report; a pair matches at nominal rate ``r`` when its similarity
    is at least ``10 * -log10(r)``, as :meth:`faceprint.Engine.rate` decides.
    ``cosine_at(r)`` is the single raw cosine threshold for ``r``, or ``None`` for a
    calibration whose threshold depends on the pair.
    """

    name: str

    def similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray: ...

    def cosine_at(self, rate: float) -> float | None: ...


@dataclass(frozen=True)
class GlobalCalibration:
    """The shipped calibration: one score -> false-match-rate table for every pair."""

    table: CalibrationTable

    @property
    def name(self) -> str:
        return f"global table of {self.table.embedder} ({self.table.impostor_pairs:,} impostor pairs: {self.table.dataset})"

    def similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.asarray(self.table.similarity(a @ b.T), np.float64)

    def cosine_at(self, rate: float) -> float | None:
        return float(self.table.threshold(max_false_match_rate=rate))


@dataclass(frozen=True)
class RegionPairCalibration:
    """The shipped region calibration: each pair rated by where both faces lie, as
    :meth:`faceprint.Engine.rate` rates it. A face no cosine can decide at a rate
    (``FALSE_MATCH_RATE_UNREACHABLE``) never matches at that rate, as in the product."""

    regions: RegionCalibration

    @property
    def name(self) -> str:
        r = self.regions
        return f"region calibration of {r.embedder} ({len(r.tables)} regions fitted on {r.dataset})"

    def similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        sim = self.regions.similarity_matrix(a, b)
        # the product refuses pairs with a face whose curve cannot reach a rate below the
        # decidable cosine; clip each such pair below the similarities it cannot reach
        reach_a, reach_b = self.regions.reach(a), self.regions.reach(b)
        return np.minimum(sim, np.minimum(reach_a[:, None], reach_b[None, :]))

    def cosine_at(self, rate: float) -> float | None:
        return None


def default_calibration(engine: Engine) -> PairCalibration:
    """What the engine decides with: its region calibration, else its global table."""
    regions = engine.regions
    return RegionPairCalibration(regions) if regions is not None else GlobalCalibration(engine.calibration)


@dataclass(frozen=True)
class Group:
    """Images that share a label (``name``) in one grouping (``"race x gender"``)."""

    grouping: str
    name: str
    members: np.ndarray  # indexes into the labelled images


@dataclass
class RateResult:
    """One group's errors at the threshold for one nominal false-match rate.

    A ``None`` rate comes with its ``*_note`` saying why there is no number.
    """

    nominal: float
    similarity: float
    fmr: float | None = None
    fmr_low: float | None = None
    fmr_high: float | None = None
    false_matches: int = 0
    times_nominal: float | None = None
    fmr_note: str | None = None
    fnmr: float | None = None
    fnmr_low: float | None = None
    fnmr_high: float | None = None
    false_non_matches: int = 0
    fnmr_note: str | None = None
    needed_similarity: float | None = None
    needed_cosine: float | None = None
    needed_note: str | None = None


@dataclass
class GroupResult:
    grouping: str
    name: str
    images: int  # measured (with a face)
    excluded: int  # in the group but left out (no face found)
    units: int  # identities, or images without identities: what the bootstrap resamples
    impostor_pairs: int
    genuine_pairs: int
    at: list[RateResult] = field(default_factory=list)


@dataclass
class GroupingSummary:
    """The spread of one grouping's false-match rates at one nominal rate."""

    grouping: str
    nominal: float
    groups_shown: int
    groups_na: int
    worst: str | None = None
    worst_fmr: float | None = None
    worst_to_nominal: float | None = None
    worst_to_nominal_low: float | None = None
    worst_to_nominal_high: float | None = None
    best: str | None = None
    best_fmr: float | None = None
    worst_to_best: float | None = None
    note: str | None = None


@dataclass
class FairnessReport:
    dataset: str
    calibration: str
    rates: list[float]
    thresholds_cosine: dict[str, float | None]
    images: int
    excluded: int
    bootstrap: dict[str, Any]
    min_pairs_factor: float
    groups: list[GroupResult]
    summaries: list[GroupingSummary]
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def group(self, grouping: str, name: str) -> GroupResult:
        for g in self.groups:
            if g.grouping == grouping and g.name == name:
                return g
        raise KeyError(f"{grouping}: {name}")


def rate_label(rate: float) -> str:
    """``1e-4`` for 0.0001 (Python's own ``1e-04`` reads badly in a table)."""
    exp = math.log10(rate)
    return f"1e{int(round(exp))}" if abs(exp - round(exp)) < 1e-9 else f"{rate:g}"


def make_groups(labels: LabelledImages, crosses: Sequence[Sequence[str]] | None = None) -> list[Group]:
    """``all``, then each value of each group column, then each combination present
    of the columns in each cross (default: every pair of group columns).

    Raises:
        InvalidParameter: a cross names a column that is not a group column.
    """
    cols = list(labels.columns)
    if crosses is None:
        crosses = list(itertools.combinations(cols, 2))
    groups = [Group("all", "all", np.arange(len(labels)))]
    for col in cols:
        groups += _groups_of([col], labels)
    for cross in crosses:
        unknown = [c for c in cross if c not in labels.columns]
        if unknown or len(cross) < 2 or len(set(cross)) != len(cross):
            raise InvalidParameter(f"an intersection names two or more distinct group columns (--by: {', '.join(cols)}), got {' x '.join(cross)}")
        groups += _groups_of(list(cross), labels)
    return groups


def _groups_of(cols: list[str], labels: LabelledImages) -> list[Group]:
    keys = list(zip(*(labels.columns[c] for c in cols)))
    names = sorted({k for k in keys if None not in k})
    out = []
    for name in names:
        members = np.array([i for i, k in enumerate(keys) if k == name], dtype=np.int64)
        out.append(Group(" x ".join(cols), " / ".join(name), members))
    return out


def measure(
    vectors: np.ndarray,
    labels: LabelledImages,
    calibration: PairCalibration,
    *,
    usable: np.ndarray | None = None,
    crosses: Sequence[Sequence[str]] | None = None,
    rates: Sequence[float] = NOMINAL_RATES,
    reps: int = BOOTSTRAP_REPS,
    seed: int = 0,
    min_pairs_factor: float = 1.0,
) -> FairnessReport:
    """Per-group error rates at a calibration's thresholds (see the module docstring).

    Args:
        vectors: ``(n, d)`` unit embeddings, one per labelled image.
        labels: the images' identities and group labels.
        calibration: what turns a pair into a similarity (e.g. :class:`GlobalCalibration`).
        usable: False for images to leave out (no face found); they are counted per group.
        crosses: the intersections, as tuples of group columns.
        rates: nominal false-match rates, each in (0, 1).
        reps: bootstrap resamples (0: no intervals).
        seed: the bootstrap's seed (each group's generator also depends on its name, so
            adding a group does not change the others' intervals).
        min_pairs_factor: a rate ``r`` is reported for a group with at least
            ``min_pairs_factor / r`` impostor pairs.

    Raises:
        InvalidParameter: mismatched sizes or out-of-range settings.
    """
    vectors = np.asarray(vectors, np.float32)
    if vectors.ndim != 2 or len(vectors) != len(labels):
        raise InvalidParameter(f"need one embedding per labelled image: {len(labels)} images, vectors of shape {vectors.shape}")
    usable = np.ones(len(labels), bool) if usable is None else np.asarray(usable, bool)
    if usable.shape != (len(labels),):
        raise InvalidParameter(f"usable needs {len(labels)} entries, got shape {usable.shape}")
    rates = check_settings(rates, reps, min_pairs_factor)
    units = _units(labels)
    results = []
    for group in make_groups(labels, crosses):
        kept = group.members[usable[group.members]]
        rng = np.random.default_rng([seed, zlib.crc32(f"{group.grouping}|{group.name}".encode())])
        result = _measure_group(vectors[kept], units[kept], calibration, rates, reps, rng, min_pairs_factor, labels.identities is not None)
        result.grouping, result.name, result.excluded = group.grouping, group.name, int(len(group.members) - len(kept))
        results.append(result)
    return FairnessReport(
        dataset=str(labels.source),
        calibration=calibration.name,
        rates=rates,
        thresholds_cosine={rate_label(r): calibration.cosine_at(r) for r in rates},
        images=int(usable.sum()),
        excluded=int((~usable).sum()),
        bootstrap={"reps": reps, "level": LEVEL, "seed": seed, "resamples": "identities" if labels.identities is not None else "images"},
        min_pairs_factor=min_pairs_factor,
        groups=results,
        summaries=summarise(results, rates),
    )


def check_settings(rates: Sequence[float], reps: int, min_pairs_factor: float) -> list[float]:
    """The nominal rates, loosest first.

    Raises:
        InvalidParameter: no rate, a rate outside (0, 1), ``reps`` < 0 or a factor <= 0.
    """
    out = sorted({float(r) for r in rates}, reverse=True)
    if not out or any(not 0.0 < r < 1.0 for r in out):
        raise InvalidParameter(f"nominal rates must be within (0, 1), got {list(rates)}")
    if reps < 0 or not min_pairs_factor > 0:
        raise InvalidParameter(f"reps must be >= 0 and min_pairs_factor > 0, got {reps} and {min_pairs_factor}")
    return out


def _units(labels: LabelledImages) -> np.ndarray:
    if labels.identities is None:
        return np.arange(len(labels))
    return np.unique(np.array(labels.identities), return_inverse=True)[1].astype(np.int64)


@dataclass
class _Pairs:
    """A group's pair scores; indexes are local to the group."""

    imp_sim: np.ndarray
    imp_cos: np.ndarray
    hi_a: np.ndarray  # impostor pairs at or above the loosest threshold (for the bootstrap)
    hi_b: np.ndarray
    hi_sim: np.ndarray
    gen_unit: np.ndarray  # the unit of each genuine pair
    gen_sim: np.ndarray


def _pairs(v: np.ndarray, unit: np.ndarray, calibration: PairCalibration, floor: float) -> _Pairs:
    imp_sim, imp_cos, hi_a, hi_b, hi_sim, gen_unit, gen_sim = ([] for _ in range(7))
    n = len(v)
    for start in range(0, n, BLOCK):
        rows = np.arange(start, min(start + BLOCK, n))
        # only columns from the block's first row on: each pair once, i < j
        sim = calibration.similarity(v[rows], v[start:])
        cos = v[rows] @ v[start:].T
        upper = np.arange(start, n)[None, :] > rows[:, None]
        same = unit[rows][:, None] == unit[None, start:]
        imp, gen = upper & ~same, upper & same
        imp_sim.append(sim[imp])
        imp_cos.append(cos[imp].astype(np.float32))
        ia, ib = np.nonzero(imp & (sim >= floor))
        hi_a.append(rows[ia])
        hi_b.append(ib + start)
        hi_sim.append(sim[ia, ib])
        ga, _ = np.nonzero(gen)
        gen_unit.append(unit[rows][ga])
        gen_sim.append(sim[gen])
    cat = lambda parts, dtype: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)  # noqa: E731
    return _Pairs(cat(imp_sim, np.float64), cat(imp_cos, np.float32), cat(hi_a, np.int64), cat(hi_b, np.int64), cat(hi_sim, np.float64), cat(gen_unit, np.int64), cat(gen_sim, np.float64))


def _measure_group(v: np.ndarray, unit: np.ndarray, calibration: PairCalibration, rates: list[float], reps: int, rng: np.random.Generator, min_pairs_factor: float, identities: bool) -> GroupResult:
    # renumber the group's units 0..k-1 so the bootstrap draws only among them
    _, unit = np.unique(unit, return_inverse=True)
    thresholds = [float(similarity_from_fmr(r)) for r in rates]
    p = _pairs(v, unit, calibration, min(thresholds))
    n_units = int(unit.max()) + 1 if len(unit) else 0
    out = GroupResult("", "", images=len(v), excluded=0, units=n_units, impostor_pairs=len(p.imp_sim), genuine_pairs=len(p.gen_sim))
    weights = _draw(rng, n_units, reps) if reps and n_units >= 2 else None
    for rate, thr in zip(rates, thresholds):
        res = RateResult(nominal=rate, similarity=thr)
        _fmr(res, p, unit, weights, rate, thr, min_pairs_factor)
        _fnmr(res, p, weights, thr, identities)
        out.at.append(res)
    return out


def _draw(rng: np.random.Generator, n_units: int, reps: int) -> np.ndarray:
    """How often each unit is drawn in each resample: ``(reps, n_units)``."""
    return rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=reps).astype(np.float64)


def _fmr(res: RateResult, p: _Pairs, unit: np.ndarray, weights: np.ndarray | None, rate: float, thr: float, factor: float) -> None:
    n = len(p.imp_sim)
    if n < factor / rate:
        res.fmr_note = res.needed_note = f"n/a: {_pairs_text(n)} cannot show {rate_label(rate)}"
        return
    res.false_matches = int((p.imp_sim >= thr).sum())
    res.fmr = res.false_matches / n
    res.times_nominal = res.fmr / rate
    if weights is not None:
        res.fmr_low, res.fmr_high = _interval(_boot_fmr(p, unit, weights, thr))
    if res.false_matches == 0:
        # nothing to resample: the exact binomial bound for no event in n pairs (as if
        # the pairs were independent, which makes it, if anything, too narrow)
        res.fmr_low, res.fmr_high = 0.0, float(1.0 - ((1.0 - LEVEL) / 2.0) ** (1.0 / n))
    # rounded up, so that the printed threshold still meets the rate
    res.needed_cosine = _ceil(_needed(p.imp_cos, rate), 5)
    needed = _needed(p.imp_sim, rate)
    if needed > 100.0:
        # similarity saturates at 100: the scale a user sets cannot reach this group's rate
        res.needed_note = f"no similarity up to 100 keeps this group's false matches within {rate_label(rate)}"
    else:
        res.needed_similarity = _ceil(needed, 3)


def _pairs_text(n: int) -> str:
    return f"{n:,} pair" if n == 1 else f"{n:,} pairs"


def _ceil(value: float, digits: int) -> float:
    scale = 10.0**digits
    return math.ceil(value * scale) / scale if math.isfinite(value) else value


def _needed(impostor: np.ndarray, rate: float) -> float:
    """The lowest threshold that lets at most ``rate`` of these impostor scores through
    (as :func:`faceprint.eval.metrics.threshold_at_far`, by partition, not a full sort:
    the biggest groups have tens of millions of pairs)."""
    n = len(impostor)
    k = int(math.floor(rate * n))  # impostors allowed at or above the threshold
    if k >= n:
        return float("-inf")
    pos = n - 1 - k  # the (k+1)-th largest, counted from the bottom
    return float(np.nextafter(np.partition(impostor, pos)[pos], np.inf))


def _boot_fmr(p: _Pairs, unit: np.ndarray, weights: np.ndarray, thr: float) -> np.ndarray:
    """Each resample's false-match rate: a pair's weight is the product of its two
    units' draw counts; pairs inside one unit are not impostor pairs."""
    per_unit = np.bincount(unit, minlength=weights.shape[1]).astype(np.float64)
    mass = weights * per_unit  # images drawn per unit
    total = mass.sum(axis=1)
    # every pair across two different units: 0.5 * ((sum of masses)^2 - sum of
    # squares); two draws of one unit make no impostor pair (same person or image)
    denom = 0.5 * (total**2 - (mass**2).sum(axis=1))
    sel = p.hi_sim >= thr
    ua, ub = unit[p.hi_a[sel]], unit[p.hi_b[sel]]
    num = np.zeros(len(weights))
    step = max(1, _BOOT_CELLS // max(1, len(ua)))
    for s in range(0, len(weights), step):
        w = weights[s : s + step]
        num[s : s + step] = (w[:, ua] * w[:, ub]).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / denom


def _fnmr(res: RateResult, p: _Pairs, weights: np.ndarray | None, thr: float, identities: bool) -> None:
    n = len(p.gen_sim)
    if not identities:
        res.fnmr_note = "n/a: the labels name no identities"
        return
    if n < MIN_GENUINE_PAIRS:
        res.fnmr_note = f"n/a: {n:,} genuine pair{'' if n == 1 else 's'} (fewer than {MIN_GENUINE_PAIRS})"
        return
    miss = p.gen_sim < thr
    res.false_non_matches = int(miss.sum())
    res.fnmr = res.false_non_matches / n
    if weights is not None:
        k = weights.shape[1]
        pairs_per_unit = np.bincount(p.gen_unit, minlength=k).astype(np.float64)
        miss_per_unit = np.bincount(p.gen_unit, weights=miss.astype(np.float64), minlength=k)
        with np.errstate(invalid="ignore", divide="ignore"):
            res.fnmr_low, res.fnmr_high = _interval((weights @ miss_per_unit) / (weights @ pairs_per_unit))


def _interval(samples: np.ndarray) -> tuple[float | None, float | None]:
    s = samples[np.isfinite(samples)]
    if len(s) == 0:
        return None, None
    tail = 100.0 * (1.0 - LEVEL) / 2.0
    low, high = np.percentile(s, [tail, 100.0 - tail])
    return float(low), float(high)


def summarise(results: Sequence[GroupResult], rates: Sequence[float]) -> list[GroupingSummary]:
    """Worst and best group of each grouping (``all`` aside) at each nominal rate."""
    out = []
    for grouping in dict.fromkeys(g.grouping for g in results if g.grouping != "all"):
        members = [g for g in results if g.grouping == grouping]
        for i, rate in enumerate(rates):
            shown = [(g.name, g.impostor_pairs, g.at[i]) for g in members if g.at[i].fmr is not None]
            s = GroupingSummary(grouping, rate, groups_shown=len(shown), groups_na=len(members) - len(shown))
            if len(shown) < 2:
                s.note = f"n/a: {len(shown)} of {len(members)} groups have enough pairs to show {rate_label(rate)}"
                out.append(s)
                continue
            worst = max(shown, key=lambda t: t[2].fmr)  # type: ignore[arg-type,return-value]
            best = min(shown, key=lambda t: t[2].fmr)  # type: ignore[arg-type,return-value]
            s.worst, s.worst_fmr, s.best, s.best_fmr = worst[0], worst[2].fmr, best[0], best[2].fmr
            s.worst_to_nominal = worst[2].fmr / rate  # type: ignore[operator]
            if worst[2].fmr_low is not None and worst[2].fmr_high is not None:
                s.worst_to_nominal_low, s.worst_to_nominal_high = worst[2].fmr_low / rate, worst[2].fmr_high / rate
            if best[2].fmr:
                s.worst_to_best = worst[2].fmr / best[2].fmr  # type: ignore[operator]
            else:
                s.note = f"worst to best: n/a, the best group ({best[0]}) had no false match in {_pairs_text(best[1])}"
            out.append(s)
    return out


def evaluate(
    engine: Engine,
    labels: LabelledImages,
    *,
    crosses: Sequence[Sequence[str]] | None = None,
    choose: str = "largest",
    keep_no_face: bool = False,
    calibration: PairCalibration | None = None,
    rates: Sequence[float] = NOMINAL_RATES,
    reps: int = BOOTSTRAP_REPS,
    seed: int = 0,
    min_pairs_factor: float = 1.0,
    cache_dir: Path | None = None,
    progress: bool = True,
) -> FairnessReport:
    """Embed labelled images (:func:`read_labels`; cached) and :func:`measure` them.

    The labels are read first, by the caller, so that a bad labels file fails before
    any model is loaded. Images where no face is found are left out by default and
    counted per group: the product refuses to compare them, so they make no false
    match there either (and a detector that misses one group more often shows in the
    counts). ``keep_no_face`` measures them on a centred fallback crop instead.
    ``calibration`` defaults to what the engine decides with (:func:`default_calibration`).

    Raises:
        InvalidParameter: fewer than two usable images, or bad settings.
    """
    if choose not in ("largest", "centre"):
        raise InvalidParameter(f"choose must be largest or centre, got {choose!r}")
    # settings and groups checked before the (slow) embedding
    check_settings(rates, reps, min_pairs_factor)
    make_groups(labels, crosses)
    emb = embed_files(engine, labels.files, choose=choose, cache_dir=cache_dir, progress=progress, desc=labels.source.parent.name or "images")
    usable = ~emb.failed if keep_no_face else ~emb.failed & ~emb.no_face
    if usable.sum() < 2:
        raise InvalidParameter(f"only {int(usable.sum())} of {len(labels)} images have a face; nothing to pair")
    report = measure(
        emb.vectors,
        labels,
        calibration or default_calibration(engine),
        usable=usable,
        crosses=crosses,
        rates=rates,
        reps=reps,
        seed=seed,
        min_pairs_factor=min_pairs_factor,
    )
    report.settings = {
        "mode": engine.mode,
        "embedder": engine.embedder_name,
        "choose": choose,
        "no_face": "measured on a centred fallback crop" if keep_no_face else "left out",
        "no_face_images": int(emb.no_face.sum()),
        "unreadable_images": int(emb.failed.sum()),
        "group_columns": list(labels.columns),
        "identities": labels.identities is not None,
    }
    return report
