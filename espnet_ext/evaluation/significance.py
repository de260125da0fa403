"""Bootstrap confidence intervals and paired significance tests from per-utterance error counts.

The unit of resampling is the utterance: a resample draws ``n_utts`` utterances with replacement
and its rate is ``100 * sum(errors) / sum(lengths)`` over the drawn utterances (the corpus-level
WER/CER of :mod:`espnet_ext.evaluation.scoring`, not a mean of per-utterance rates). Intervals are
percentile intervals of the resampled rates.

:func:`paired_bootstrap` compares two systems on the same utterances with the same resamples
for both (Koehn 2004, "Statistical significance tests for machine translation evaluation";
Bisani & Ney 2004, "Bootstrap estimates for confidence intervals in ASR performance
evaluation"), so the utterance difficulty they share cancels out of the difference.

Training-seed replicates are a leading axis: errors of shape ``(n_seeds, n_utts)``, one row per
training seed of the same system on the same utterances. The point estimate is then the mean over
seeds of each seed's corpus-level rate, and each resample also draws ``n_seeds`` seed rows with
replacement (a two-level bootstrap: seeds and utterances together) and takes the mean of their
rates on the drawn utterances, so the interval covers the variation between training runs as well
as the test sample. A paired comparison pairs row k of A with row k of B (same training seed) and
uses the same seed and utterance draws for both. With few seeds the seed level is coarse (3 seeds
give 10 distinct draws) and tends to understate the spread between runs.

The utterance draws depend only on ``seed`` and the number of utterances, and the seed-row draws,
from a generator of their own, only on ``seed`` and the number of seeds: every call with the same
seed on the same test set uses the same resamples (the intervals of two systems from
:func:`bootstrap_rate` and their difference from :func:`paired_bootstrap` agree), and one seed row
gives exactly the result of the 1-D arrays.
"""

import json
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

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


def _as_counts(name: str, values: Sequence, n: Optional[int] = None,
               replicates: bool = False) -> np.ndarray:
    """float64 counts, checked; with ``replicates`` a 1-D array becomes one seed row."""
    arr = np.asarray(values)
    if arr.ndim != 1 and not (replicates and arr.ndim == 2):
        shapes = "1-D (n_utts,) or 2-D (n_seeds, n_utts)" if replicates else "1-D over utterances"
        raise ValueError(f"{name} must be {shapes}, got shape {arr.shape}")
    if replicates and arr.shape[0] == 0 and arr.ndim == 2:
        raise ValueError(f"{name} has no seed rows")
    if n is not None and arr.shape[-1] != n:
        raise ValueError(f"{name} has {arr.shape[-1]} utterances, expected {n} (same utterances, "
                         "same order for every array)")
    if arr.size and (not np.issubdtype(arr.dtype, np.number) or arr.min() < 0):
        raise ValueError(f"{name} must hold non-negative numbers")
    arr = arr.astype(np.float64)
    return np.atleast_2d(arr) if replicates else arr


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


def _resampled_rates(systems: Sequence[np.ndarray], lengths: np.ndarray, n_resamples: int,
                     seed: int) -> List[np.ndarray]:
    """Two-level bootstrap of the rates of systems scored on the same utterances.

    Args:
        systems: (n_seeds, n_utts) errors of each system, the same n_seeds (row k: seed k).
        lengths: (n_utts,) reference lengths.

    Returns:
        per system, (n_resamples,) rates; resample r uses the same drawn utterances and seed rows
        for every system. One seed row: the utterance-only bootstrap, nothing else drawn.
    """
    n_seeds = systems[0].shape[0]
    sums = _resampled_sums(np.concatenate([*systems, lengths[None]]).T, n_resamples, seed)
    rates = [_rate(sums[:, i * n_seeds:(i + 1) * n_seeds], sums[:, -1:])  # (n_resamples, n_seeds)
             for i in range(len(systems))]
    if n_seeds == 1:
        return [r[:, 0] for r in rates]
    # A generator of its own, so the utterance draws are those of a one-seed call.
    rows = np.random.default_rng([seed, 1]).integers(0, n_seeds, size=(n_resamples, n_seeds))
    return [np.take_along_axis(r, rows, axis=1).mean(axis=1) for r in rates]


def _seed_stats(errors: np.ndarray, lengths: np.ndarray) -> Tuple[float, np.ndarray, float]:
    """(mean over seeds of the corpus rate, per-seed rates, their sample sd; 0 for one seed)."""
    rates = _rate(errors.sum(axis=1), lengths.sum())
    sd = float(np.std(rates, ddof=1)) if len(rates) > 1 else 0.0
    return float(rates.mean()), rates, sd


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
        errors: (n_utts,) errors per utterance (S + D + I, words or characters), or
            (n_seeds, n_utts): one row per training seed, same utterances and order.
        lengths: (n_utts,) reference length per utterance, same unit and order.
        n_resamples: bootstrap resamples of the utterances (and of the seed rows).
        seed: random seed; same seed and array sizes, same resamples.
        alpha: 1 - confidence level (0.05: 95 % interval).

    Returns:
        dict with ``rate`` (100 * sum(errors) / sum(lengths), %; for 2-D errors the mean over
        seeds of that rate), ``ci_low``, ``ci_high`` (%), ``n_utts``, ``n_seeds``,
        ``n_resamples``, ``seed``, ``alpha``; for 2-D errors also ``seed_rates`` (per seed row,
        %) and ``sd_over_seeds`` (their sample standard deviation, 0 for one row).

    Raises:
        ValueError: arrays of the wrong shape, of different length, negative, or empty; bad
            options.
    """
    e = _as_counts("errors", errors, replicates=True)  # (n_seeds, n_utts)
    n = _as_counts("lengths", lengths, e.shape[1])
    _check_options(e.shape[1], n_resamples, alpha)
    (rates,) = _resampled_rates([e], n, n_resamples, seed)
    low, high = _interval(rates, alpha)
    rate, seed_rates, sd = _seed_stats(e, n)
    out = {"rate": rate, "ci_low": low, "ci_high": high, "n_utts": e.shape[1],
           "n_seeds": e.shape[0], "n_resamples": n_resamples, "seed": seed, "alpha": alpha}
    if np.ndim(errors) == 2:
        out.update(seed_rates=seed_rates.tolist(), sd_over_seeds=sd)
    return out


def _two_sided_p(diff: float, diffs: np.ndarray) -> float:
    """Twice the share of resampled differences that are zero or of the opposite sign of
    ``diff`` (capped at 1; 1 when ``diff`` is 0)."""
    if diff == 0:
        return 1.0
    flipped = np.mean(diffs <= 0) if diff > 0 else np.mean(diffs >= 0)
    return float(min(1.0, 2 * flipped))


def paired_bootstrap(
    errors_a: Sequence,
    errors_b: Sequence,
    lengths: Sequence,
    n_resamples: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> Dict:
    """Paired bootstrap comparison of two systems scored on the same utterances.

    Each resample draws the utterances (and the seed rows) once and computes both systems' rates
    on that draw (Koehn 2004; Bisani & Ney 2004).

    Args:
        errors_a, errors_b: (n_utts,) errors per utterance of systems A and B, same order; or
            (n_seeds, n_utts) each, row k of A paired with row k of B (the same training seed).
        lengths: (n_utts,) reference length per utterance (shared: same references).
        n_resamples, seed, alpha: as in :func:`bootstrap_rate`.

    Returns:
        dict with ``rate_a``, ``rate_b`` (%; means over seeds for 2-D errors), ``diff`` =
        rate_b - rate_a (percentage points, negative: B makes fewer errors), ``ci_low``,
        ``ci_high`` (percentile interval of the difference), ``p_value`` (two-sided: twice the
        share of resamples whose difference is zero or has the opposite sign of ``diff``, capped
        at 1; 1 when ``diff`` is 0; 0 means below 1 / n_resamples), ``significant`` (the interval
        excludes 0), ``a_ci_low``, ``a_ci_high``, ``b_ci_low``, ``b_ci_high`` (each system's
        interval from the same resamples), ``n_utts``, ``n_seeds``, ``n_resamples``, ``seed``,
        ``alpha``; for 2-D errors also ``seed_rates_a``, ``seed_rates_b``, ``sd_over_seeds_a``
        and ``sd_over_seeds_b`` (as in :func:`bootstrap_rate`).

    Raises:
        ValueError: arrays of the wrong shape, of different length or number of seed rows,
            negative, or empty; bad options.
    """
    a = _as_counts("errors_a", errors_a, replicates=True)
    b = _as_counts("errors_b", errors_b, a.shape[1], replicates=True)
    if b.shape[0] != a.shape[0]:
        raise ValueError(f"errors_a has {a.shape[0]} seed rows but errors_b {b.shape[0]}; a paired "
                         "comparison needs one row per training seed on both sides")
    n = _as_counts("lengths", lengths, a.shape[1])
    _check_options(a.shape[1], n_resamples, alpha)
    rates_a, rates_b = _resampled_rates([a, b], n, n_resamples, seed)
    diffs = rates_b - rates_a
    rate_a, seed_rates_a, sd_a = _seed_stats(a, n)
    rate_b, seed_rates_b, sd_b = _seed_stats(b, n)
    diff = rate_b - rate_a
    low, high = _interval(diffs, alpha)
    p_value = _two_sided_p(diff, diffs)
    a_low, a_high = _interval(rates_a, alpha)
    b_low, b_high = _interval(rates_b, alpha)
    out = {"rate_a": rate_a, "rate_b": rate_b, "diff": diff, "ci_low": low, "ci_high": high,
           "p_value": p_value, "significant": bool(low > 0 or high < 0),
           "a_ci_low": a_low, "a_ci_high": a_high, "b_ci_low": b_low, "b_ci_high": b_high,
           "n_utts": a.shape[1], "n_seeds": a.shape[0], "n_resamples": n_resamples,
           "seed": seed, "alpha": alpha}
    if np.ndim(errors_a) == 2 or np.ndim(errors_b) == 2:
        out.update(seed_rates_a=seed_rates_a.tolist(), seed_rates_b=seed_rates_b.tolist(),
                   sd_over_seeds_a=sd_a, sd_over_seeds_b=sd_b)
    return out


def _normalize_mode(score_dir: Path) -> Optional[str]:
    summary = score_dir / "summary.json"
    if not summary.is_file():
        return None
    try:
        return json.loads(summary.read_text(encoding="utf-8")).get("normalize", "default")
    except (OSError, json.JSONDecodeError) as e:
        raise DataDirError(f"{summary}: unreadable score summary ({e}); rerun the scoring "
                           "stage") from None


def _check_metric(metric: str) -> None:
    if metric not in METRIC_COLUMNS:
        raise ValueError(f"unknown metric '{metric}'; choose one of {sorted(METRIC_COLUMNS)}")


def load_counts(
    score_dirs: Sequence[PathLike],
    metric: str = "cer",
    labels: Optional[Sequence[str]] = None,
) -> Tuple[List[str], np.ndarray, np.ndarray]:
    """Per-utterance counts of several scored decodes of one test set (systems or training
    seeds), checked to be comparable utterance by utterance.

    Args:
        score_dirs: scoring output dirs (or ``per_utt.tsv`` files), at least one.
        metric: ``"cer"`` or ``"wer"``.
        labels: a short name per dir for messages (default: the dirs).

    Returns:
        ``utts`` (the first dir's file order), ``errors`` (n_dirs, n_utts) and ``lengths``
        (n_utts,) in that order.

    Raises:
        ValueError: unknown metric, no dirs.
        DataDirError: unreadable scores; a dir scores other utterances than the first (message
            gives how many and the first ids), another reference length for an utterance, or
            with another normalisation mode.
    """
    _check_metric(metric)
    dirs = [Path(d) for d in score_dirs]
    if not dirs:
        raise ValueError("no score dirs given")
    labels = list(labels) if labels is not None else [str(d) for d in dirs]
    per = [load_per_utt(d) for d in dirs]
    for d, label, p in zip(dirs[1:], labels[1:], per[1:]):
        only_0, only_d = sorted(set(per[0]) - set(p)), sorted(set(p) - set(per[0]))
        if only_0 or only_d:
            raise DataDirError(
                f"{dirs[0]} and {d} score different utterances: {len(only_0)} only in {labels[0]} "
                f"(first: {only_0[:3]}), {len(only_d)} only in {label} (first: {only_d[:3]}); a "
                "paired comparison or a mean over seeds needs every decode on the same test set"
            )
    modes = [(d, m) for d in dirs if d.is_dir() and (m := _normalize_mode(d)) is not None]
    for d, m in modes[1:]:
        if m != modes[0][1]:
            raise DataDirError(f"{modes[0][0]} was scored with normalisation '{modes[0][1]}', {d} "
                               f"with '{m}'; rescore one of them with the other's mode")
    err_col, len_col = METRIC_COLUMNS[metric]
    utts = list(per[0])
    lengths = [per[0][u][len_col] for u in utts]
    for d, p in zip(dirs[1:], per[1:]):
        for u, n in zip(utts, lengths):
            if p[u][len_col] != n:
                raise DataDirError(
                    f"utterance '{u}': reference length {n} in {dirs[0]} but {p[u][len_col]} in "
                    f"{d} ({metric}); the two were scored against different references or "
                    "normalisations"
                )
    return utts, np.array([[p[u][err_col] for u in utts] for p in per]), np.array(lengths)


def _as_dirs(score_dirs) -> List[Path]:
    if isinstance(score_dirs, (str, os.PathLike)):
        return [Path(score_dirs)]
    return [Path(d) for d in score_dirs]


def compare_systems(
    score_dir_a: Union[PathLike, Sequence[PathLike]],
    score_dir_b: Union[PathLike, Sequence[PathLike]],
    metric: str = "cer",
    n_resamples: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> Dict:
    """Paired bootstrap of two scored decodes of the same test set (their ``per_utt.tsv``).

    Args:
        score_dir_a, score_dir_b: scoring output dir of systems A (baseline) and B, or a list of
            them per system, one per training seed, paired by position (same seed).
        metric: ``"cer"`` or ``"wer"``.
        n_resamples, seed, alpha: as in :func:`bootstrap_rate`.

    Returns:
        a flat dict (one JSON/CSV row): ``a``, ``b`` (the dir, or the list of dirs when several
        per side), ``metric`` and every key of :func:`paired_bootstrap` (1-D errors for one dir
        per side, one row per dir otherwise).

    Raises:
        ValueError: unknown metric; no dirs, or not as many dirs for A as for B.
        DataDirError: as :func:`load_counts` (every dir of both sides against the first of A).
    """
    _check_metric(metric)
    dirs_a, dirs_b = _as_dirs(score_dir_a), _as_dirs(score_dir_b)
    if len(dirs_a) != len(dirs_b):
        raise ValueError(f"{len(dirs_a)} score dirs for A but {len(dirs_b)} for B; give one per "
                         "training seed on both sides, in the same seed order")
    k = len(dirs_a)
    labels = [side if k == 1 else f"{side}[{i}]" for side in "AB" for i in range(k)]
    _, errors, lengths = load_counts(dirs_a + dirs_b, metric, labels)
    a, b = (errors[0], errors[1]) if k == 1 else (errors[:k], errors[k:])
    result = paired_bootstrap(a, b, lengths, n_resamples=n_resamples, seed=seed, alpha=alpha)
    names = [str(d) for d in dirs_a], [str(d) for d in dirs_b]
    return {"a": names[0][0] if k == 1 else names[0], "b": names[1][0] if k == 1 else names[1],
            "metric": metric, **result}


# --- cross-language aggregates ----------------------------------------------------------------

def language_rates(per_language: Sequence[Tuple[Sequence, Sequence]], n_resamples: int = 1000,
                   seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Rates of several systems on several languages, each language bootstrapped on its own.

    Args:
        per_language: per language, ``(errors, lengths)``: ``errors`` one array per system,
            (n_utts,) or (n_seeds, n_utts), all on that language's utterances in one order.
        n_resamples, seed: as in :func:`bootstrap_rate`.

    Returns:
        ``points`` (n_languages, n_systems) and ``resampled`` (n_resamples, n_languages,
        n_systems), in %: resample r draws each language's utterances (and seed rows)
        independently of the other languages, and the same draw for every system of a language,
        so differences between systems stay paired.

    Raises:
        ValueError: no language, systems missing in a language, arrays of the wrong shape.
    """
    if not per_language:
        raise ValueError("no language given")
    n_systems = len(per_language[0][0])
    points, resampled = [], []
    for i, (systems, lengths) in enumerate(per_language):
        if len(systems) != n_systems or n_systems == 0:
            raise ValueError(f"language {i} has {len(systems)} systems, language 0 {n_systems}")
        errs = [_as_counts(f"errors (language {i})", e, replicates=True) for e in systems]
        n = _as_counts(f"lengths (language {i})", lengths, errs[0].shape[1])
        for e in errs[1:]:
            if e.shape != errs[0].shape:
                raise ValueError(f"language {i}: systems have different numbers of utterances or "
                                 "seed rows; scores must be paired within a language")
        _check_options(n.shape[0], n_resamples, 0.05)
        points.append([_seed_stats(e, n)[0] for e in errs])
        # a seed per language: languages are drawn independently of one another
        resampled.append(np.stack(_resampled_rates(errs, n, n_resamples, seed + 7919 * i), axis=1))
    return np.array(points), np.stack(resampled, axis=1)


def cross_language_summary(points: np.ndarray, resampled: np.ndarray, alpha: float = 0.05
                           ) -> List[Dict]:
    """Per system: the macro average over languages, the standard deviation across languages
    and the worst language's rate, each with a percentile interval over the resamples of
    :func:`language_rates` (ML-SUPERB 2.0's aggregates)."""
    def sd(x, axis):
        return np.std(x, axis=axis, ddof=1) if x.shape[axis] > 1 else np.zeros(np.delete(x.shape, axis))

    out = []
    for s in range(points.shape[1]):
        p, r = points[:, s], resampled[:, :, s]
        worst = int(np.argmax(p))
        row = {"macro": float(p.mean()), "sd_languages": float(sd(p, 0)), "worst": float(p.max()),
               "worst_language_index": worst}
        for name, values in (("macro", r.mean(axis=1)), ("sd_languages", sd(r, 1)),
                             ("worst", r.max(axis=1))):
            row[f"{name}_lo"], row[f"{name}_hi"] = _interval(values, alpha)
        out.append(row)
    return out


def macro_difference(points: np.ndarray, resampled: np.ndarray, a: int, b: int,
                     alpha: float = 0.05) -> Dict:
    """Paired comparison of systems ``a`` (baseline) and ``b`` on the macro average over
    languages, with the keys of :func:`paired_bootstrap` (rates, ``diff`` = b - a, interval,
    two-sided ``p_value``, ``significant``)."""
    rate_a, rate_b = float(points[:, a].mean()), float(points[:, b].mean())
    diffs = resampled[:, :, b].mean(axis=1) - resampled[:, :, a].mean(axis=1)
    diff = rate_b - rate_a
    low, high = _interval(diffs, alpha)
    return {"rate_a": rate_a, "rate_b": rate_b, "diff": diff, "ci_low": low, "ci_high": high,
            "p_value": _two_sided_p(diff, diffs), "significant": bool(low > 0 or high < 0),
            "n_languages": points.shape[0], "n_resamples": resampled.shape[0], "alpha": alpha}
