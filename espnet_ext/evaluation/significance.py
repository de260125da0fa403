"""Bootstrap confidence intervals and paired significance tests from per-utterance error counts.

The unit of resampling is the utterance: a resample draws ``n_utts`` utterances with replacement
and its rate is ``100 * sum(errors) / sum(lengths)`` over the drawn utterances (the corpus-level
WER/CER of :mod:`espnet_ext.evaluation.scoring`, not a mean of per-utterance rates). Intervals are
percentile intervals of the resampled rates.

:func:`paired_bootstrap` compares two systems on the same utterances with the same resamples
for both (Koehn 2004, "Statistical significance tests for machine translation evaluation";
Bisani & Ney 2004, "Bootstrap estimates for confidence intervals in ASR performance
evaluation"), so the utterance difficulty they share cancels out of the difference.

The resample indices depend only on ``seed`` and the number of utterances, so every call with the
same seed on the same test set uses the same resamples (the intervals of two systems from
:func:`bootstrap_rate` and their difference from :func:`paired_bootstrap` agree).

Only utterance resampling is done here; errors are 1-D arrays over utterances. Training-seed
replicates would be a leading axis of these arrays, resampled as well (not implemented).
"""

import json
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from espnet_ext.errors import DataDirError
from espnet_ext.fileio import PathLike

PER_UTT_HEADER = ("utt", "word_errors", "words", "char_errors", "chars", "ref", "hyp")
METRIC_COLUMNS = {"wer": (0, 1), "cer": (2, 3)}  # metric -> (errors, length) of load_per_utt
# Index entries drawn per block: bounds memory (8 bytes each) for large test sets.
_BLOCK_ELEMENTS = 1 << 20


def load_per_utt(score_dir: PathLike) -> Dict[str, Tuple[int, int, int, int]]:
    """Read the per-utterance error counts that :func:`~.scoring.score_files` wrote.

    Args:
        score_dir: a scoring output dir holding ``per_utt.tsv`` (or the TSV file itself).

    Returns:
        utt -> (word_errors, words, char_errors, chars), in file order.

    Raises:
        DataDirError: missing file, wrong header, malformed row (naming file and line) or a
            duplicate utterance id.
    """
    path = Path(score_dir)
    if path.is_dir():
        path = path / "per_utt.tsv"
    if not path.is_file():
        raise DataDirError(f"{path}: no per-utterance scores; run the scoring stage "
                           "(espnet_ext.bin.score) for this decode first")
    out: Dict[str, Tuple[int, int, int, int]] = {}
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        if tuple(header) != PER_UTT_HEADER:
            raise DataDirError(f"{path}:1: header is {header}, expected {list(PER_UTT_HEADER)}; "
                               "this is not a per_utt.tsv of espnet_ext.bin.score")
        for lineno, line in enumerate(f, start=2):
            fields = line.rstrip("\n").split("\t")
            try:
                if len(fields) != len(PER_UTT_HEADER):
                    raise ValueError(f"{len(fields)} tab-separated fields, expected "
                                     f"{len(PER_UTT_HEADER)}")
                counts = tuple(int(x) for x in fields[1:5])
                if min(counts) < 0:
                    raise ValueError("negative count")
            except ValueError as e:
                raise DataDirError(f"{path}:{lineno}: malformed row ({e}): {line.rstrip()!r}; "
                                   "rescore this decode") from None
            if fields[0] in out:
                raise DataDirError(f"{path}:{lineno}: utterance '{fields[0]}' appears twice; "
                                   "rescore this decode")
            out[fields[0]] = counts  # type: ignore[assignment]
    return out


def _as_counts(name: str, values: Sequence, n: Optional[int] = None) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D over utterances, got shape {arr.shape} "
                         "(a leading replicate axis is not supported)")
    if n is not None and len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} utterances, expected {n} (same utterances, "
                         "same order for every array)")
    if len(arr) and (not np.issubdtype(arr.dtype, np.number) or arr.min() < 0):
        raise ValueError(f"{name} must hold non-negative numbers")
    return arr.astype(np.float64)


def _check_options(n_utts: int, n_resamples: int, alpha: float) -> None:
    if n_utts < 1:
        raise ValueError("no utterances to resample")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


def _resampled_sums(columns: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """Sum each column over ``n_resamples`` draws of all rows with replacement.

    Args:
        columns: (n_utts, k) per-utterance values.

    Returns:
        (n_resamples, k) sums; row r uses the same drawn utterances for every column.
    """
    n_utts = columns.shape[0]
    rng = np.random.default_rng(seed)
    out = np.empty((n_resamples, columns.shape[1]), dtype=np.float64)
    block = max(1, _BLOCK_ELEMENTS // n_utts)
    for start in range(0, n_resamples, block):
        stop = min(start + block, n_resamples)
        idx = rng.integers(0, n_utts, size=(stop - start, n_utts))  # (block, n_utts)
        for j in range(columns.shape[1]):
            out[start:stop, j] = columns[:, j][idx].sum(axis=1)
    return out


def _rate(errors, lengths):
    # As ErrorCounts.rate: an all-empty reference set divides by 1, not 0.
    return 100.0 * errors / np.maximum(lengths, 1)


def _interval(values: np.ndarray, alpha: float) -> Tuple[float, float]:
    low, high = np.percentile(values, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(low), float(high)


def bootstrap_rate(
    errors: Sequence,
    lengths: Sequence,
    n_resamples: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> Dict:
    """Error rate of one system with a percentile bootstrap confidence interval.

    Args:
        errors: (n_utts,) errors per utterance (S + D + I, words or characters).
        lengths: (n_utts,) reference length per utterance, same unit and order.
        n_resamples: bootstrap resamples of the utterances.
        seed: random seed; same seed and number of utterances, same resamples.
        alpha: 1 - confidence level (0.05: 95 % interval).

    Returns:
        dict with ``rate`` (100 * sum(errors) / sum(lengths), %), ``ci_low``, ``ci_high`` (%),
        ``n_utts``, ``n_resamples``, ``seed``, ``alpha``.

    Raises:
        ValueError: arrays not 1-D, of different length, negative, or empty; bad options.
    """
    e = _as_counts("errors", errors)
    n = _as_counts("lengths", lengths, len(e))
    _check_options(len(e), n_resamples, alpha)
    sums = _resampled_sums(np.stack([e, n], axis=1), n_resamples, seed)
    low, high = _interval(_rate(sums[:, 0], sums[:, 1]), alpha)
    return {"rate": float(_rate(e.sum(), n.sum())), "ci_low": low, "ci_high": high,
            "n_utts": len(e), "n_resamples": n_resamples, "seed": seed, "alpha": alpha}


def paired_bootstrap(
    errors_a: Sequence,
    errors_b: Sequence,
    lengths: Sequence,
    n_resamples: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> Dict:
    """Paired bootstrap comparison of two systems scored on the same utterances.

    Each resample draws the utterances once and computes both systems' rates on that draw
    (Koehn 2004; Bisani & Ney 2004).

    Args:
        errors_a, errors_b: (n_utts,) errors per utterance of systems A and B, same order.
        lengths: (n_utts,) reference length per utterance (shared: same references).
        n_resamples, seed, alpha: as in :func:`bootstrap_rate`.

    Returns:
        dict with ``rate_a``, ``rate_b`` (%), ``diff`` = rate_b - rate_a (percentage points,
        negative: B makes fewer errors), ``ci_low``, ``ci_high`` (percentile interval of the
        difference), ``p_value`` (two-sided: twice the share of resamples whose difference is
        zero or has the opposite sign of ``diff``, capped at 1; 1 when ``diff`` is 0; 0 means
        below 1 / n_resamples), ``significant`` (the interval excludes 0), ``a_ci_low``,
        ``a_ci_high``, ``b_ci_low``, ``b_ci_high`` (each system's interval from the same
        resamples), ``n_utts``, ``n_resamples``, ``seed``, ``alpha``.

    Raises:
        ValueError: arrays not 1-D, of different length, negative, or empty; bad options.
    """
    a = _as_counts("errors_a", errors_a)
    b = _as_counts("errors_b", errors_b, len(a))
    n = _as_counts("lengths", lengths, len(a))
    _check_options(len(a), n_resamples, alpha)
    sums = _resampled_sums(np.stack([a, b, n], axis=1), n_resamples, seed)
    rates_a, rates_b = _rate(sums[:, 0], sums[:, 2]), _rate(sums[:, 1], sums[:, 2])
    diffs = rates_b - rates_a
    rate_a, rate_b = float(_rate(a.sum(), n.sum())), float(_rate(b.sum(), n.sum()))
    diff = rate_b - rate_a
    low, high = _interval(diffs, alpha)
    if diff == 0:
        p_value = 1.0
    else:
        flipped = np.mean(diffs <= 0) if diff > 0 else np.mean(diffs >= 0)
        p_value = float(min(1.0, 2 * flipped))
    a_low, a_high = _interval(rates_a, alpha)
    b_low, b_high = _interval(rates_b, alpha)
    return {"rate_a": rate_a, "rate_b": rate_b, "diff": diff, "ci_low": low, "ci_high": high,
            "p_value": p_value, "significant": bool(low > 0 or high < 0),
            "a_ci_low": a_low, "a_ci_high": a_high, "b_ci_low": b_low, "b_ci_high": b_high,
            "n_utts": len(a), "n_resamples": n_resamples, "seed": seed, "alpha": alpha}


def _normalize_mode(score_dir: Path) -> Optional[str]:
    summary = score_dir / "summary.json"
    if not summary.is_file():
        return None
    try:
        return json.loads(summary.read_text(encoding="utf-8")).get("normalize", "default")
    except (OSError, json.JSONDecodeError) as e:
        raise DataDirError(f"{summary}: unreadable score summary ({e}); rerun the scoring "
                           "stage") from None


def compare_systems(
    score_dir_a: PathLike,
    score_dir_b: PathLike,
    metric: str = "cer",
    n_resamples: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> Dict:
    """Paired bootstrap of two scored decodes of the same test set (their ``per_utt.tsv``).

    Args:
        score_dir_a, score_dir_b: scoring output dirs of systems A (baseline) and B.
        metric: ``"cer"`` or ``"wer"``.
        n_resamples, seed, alpha: as in :func:`bootstrap_rate`.

    Returns:
        a flat dict (one JSON/CSV row): ``a``, ``b`` (the dirs), ``metric`` and every key of
        :func:`paired_bootstrap`.

    Raises:
        ValueError: unknown metric.
        DataDirError: unreadable scores; the two dirs score different utterances (message gives
            how many and the first ids), different reference lengths for an utterance, or
            different normalisation modes.
    """
    if metric not in METRIC_COLUMNS:
        raise ValueError(f"unknown metric '{metric}'; choose one of {sorted(METRIC_COLUMNS)}")
    dir_a, dir_b = Path(score_dir_a), Path(score_dir_b)
    per_a, per_b = load_per_utt(dir_a), load_per_utt(dir_b)
    only_a, only_b = sorted(set(per_a) - set(per_b)), sorted(set(per_b) - set(per_a))
    if only_a or only_b:
        raise DataDirError(
            f"{dir_a} and {dir_b} score different utterances: {len(only_a)} only in A "
            f"(first: {only_a[:3]}), {len(only_b)} only in B (first: {only_b[:3]}); a paired "
            "comparison needs both systems decoded on the same test set"
        )
    if dir_a.is_dir() and dir_b.is_dir():
        modes = _normalize_mode(dir_a), _normalize_mode(dir_b)
        if None not in modes and modes[0] != modes[1]:
            raise DataDirError(f"{dir_a} was scored with normalisation '{modes[0]}', {dir_b} "
                               f"with '{modes[1]}'; rescore one of them with the other's mode")
    err_col, len_col = METRIC_COLUMNS[metric]
    utts = list(per_a)
    lengths = [per_a[u][len_col] for u in utts]
    for u, n in zip(utts, lengths):
        if per_b[u][len_col] != n:
            raise DataDirError(
                f"utterance '{u}': reference length {n} in {dir_a} but {per_b[u][len_col]} in "
                f"{dir_b} ({metric}); the two were scored against different references or "
                "normalisations"
            )
    result = paired_bootstrap([per_a[u][err_col] for u in utts], [per_b[u][err_col] for u in utts],
                              lengths, n_resamples=n_resamples, seed=seed, alpha=alpha)
    return {"a": str(dir_a), "b": str(dir_b), "metric": metric, **result}
