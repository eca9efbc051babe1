"""Verification and identification metrics (ROC, 10-fold accuracy, rank-k, FNIR@FPIR)."""

from __future__ import annotations

import numpy as np

from faceprint.errors import InvalidParameter


def threshold_at_far(impostor: np.ndarray, far: float) -> float:
    """The smallest score threshold that lets at most ``far`` of impostors through."""
    imp = np.sort(np.asarray(impostor, np.float64))[::-1]
    k = int(np.floor(far * len(imp)))  # impostors allowed at or above the threshold
    return float(np.nextafter(imp[k], np.inf)) if k < len(imp) else float("-inf")


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float) -> tuple[float, float]:
    """True-accept rate at the threshold where the false-accept rate is at most ``far``.

    Returns:
        ``(tar, threshold)``; the threshold is the smallest score accepted.
    """
    if len(impostor) == 0 or len(genuine) == 0:
        return float("nan"), float("nan")
    thr = threshold_at_far(impostor, far)
    return float(np.mean(np.asarray(genuine) >= thr)), thr


def best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """The threshold maximising accuracy on a labelled set (midpoints between scores)."""
    if len(scores) == 0:
        raise InvalidParameter("no scores to choose a threshold from")
    s = np.sort(np.unique(scores))
    candidates = np.concatenate([[s[0] - 1e-6], (s[:-1] + s[1:]) / 2.0, [s[-1] + 1e-6]])
    # accuracy for each candidate, vectorised through sorting
    order = np.argsort(scores)
    ss, yy = scores[order], same[order].astype(np.int64)
    pos_below = np.concatenate([[0], np.cumsum(yy)])
    idx = np.searchsorted(ss, candidates, side="left")
    neg_below = idx - pos_below[idx]
    correct = neg_below + (yy.sum() - pos_below[idx])
    return float(candidates[int(np.argmax(correct))])


def kfold_accuracy(scores: np.ndarray, same: np.ndarray, folds: np.ndarray) -> tuple[float, float, list[float]]:
    """LFW protocol: for each fold pick the threshold on the other folds, test on it.

    Returns:
        ``(mean accuracy, standard deviation, per-fold accuracies)``.
    """
    if len(np.unique(folds)) < 2:
        raise InvalidParameter("k-fold accuracy needs at least two folds")
    accs = []
    for f in np.unique(folds):
        test = folds == f
        thr = best_threshold(scores[~test], same[~test])
        accs.append(float(np.mean((scores[test] >= thr) == same[test])))
    return float(np.mean(accs)), float(np.std(accs)), accs


def rates_at(scores: np.ndarray, same: np.ndarray, threshold: float) -> tuple[float, float]:
    """``(FMR, FNMR)`` at a threshold."""
    imp, gen = scores[~same], scores[same]
    fmr = float(np.mean(imp >= threshold)) if len(imp) else float("nan")
    fnmr = float(np.mean(gen < threshold)) if len(gen) else float("nan")
    return fmr, fnmr


def rank_k(sim: np.ndarray, probe_labels: np.ndarray, gallery_labels: np.ndarray, k: int) -> float:
    """Share of probes whose mate is among the ``k`` most similar gallery entries."""
    top = np.argsort(-sim, axis=1)[:, :k]
    hit = (gallery_labels[top] == probe_labels[:, None]).any(axis=1)
    return float(hit.mean())


def fnir_at_fpir(mated_best: np.ndarray, mated_rank1_correct: np.ndarray, nonmated_best: np.ndarray, fpir: float) -> tuple[float, float]:
    """Open-set identification (NIST FRVT 1:N): the miss rate at a false-positive rate.

    Args:
        mated_best: top score of each probe whose identity is enrolled.
        mated_rank1_correct: whether that top candidate is the right identity.
        nonmated_best: top score of each probe whose identity is not enrolled.
        fpir: allowed share of non-mated probes that return any candidate.

    Returns:
        ``(fnir, threshold)``: a mated search misses if its mate is not at rank 1 or
        scores below the threshold.
    """
    thr = threshold_at_far(nonmated_best, fpir)
    hit = mated_rank1_correct & (mated_best >= thr)
    return float(1.0 - hit.mean()), thr
