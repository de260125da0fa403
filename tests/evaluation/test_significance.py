"""Bootstrap intervals and the paired test: coverage on simulated systems with known error rates,
training-seed replicates, edge cases, per_utt.tsv reading and the compare_systems CLI."""

import json
import sys

import numpy as np
import pytest

from espnet_ext.bin import compare_systems as compare_cli
from espnet_ext.errors import DataDirError
from espnet_ext.evaluation.scoring import score_files
from espnet_ext.evaluation.significance import (bootstrap_rate, compare_systems, load_per_utt,
                                                paired_bootstrap)


def _simulate(rng, n_utts, rate_a, rate_b):
    """Two systems whose per-word error probabilities are known: the true corpus rates are
    100 * rate_a and 100 * rate_b exactly (expectation of sum(errors) / sum(lengths))."""
    lengths = rng.integers(5, 26, size=n_utts)
    return rng.binomial(lengths, rate_a), rng.binomial(lengths, rate_b), lengths


def test_ci_of_difference_contains_true_difference():
    a, b, lengths = _simulate(np.random.default_rng(1), 3000, 0.20, 0.17)
    r = paired_bootstrap(a, b, lengths, n_resamples=1000, seed=0)
    assert r["ci_low"] < -3.0 < r["ci_high"]
    assert r["ci_low"] < r["diff"] < r["ci_high"]
    assert r["rate_a"] == pytest.approx(100 * a.sum() / lengths.sum())
    assert r["a_ci_low"] < 20.0 < r["a_ci_high"] and r["b_ci_low"] < 17.0 < r["b_ci_high"]


def test_coverage_is_roughly_nominal():
    rng = np.random.default_rng(2024)
    hits_diff = hits_rate = 0
    n_datasets = 200
    for i in range(n_datasets):
        a, b, lengths = _simulate(rng, 200, 0.20, 0.17)
        r = paired_bootstrap(a, b, lengths, n_resamples=400, seed=i)
        hits_diff += r["ci_low"] <= -3.0 <= r["ci_high"]
        one = bootstrap_rate(a, lengths, n_resamples=400, seed=i)
        hits_rate += one["ci_low"] <= 20.0 <= one["ci_high"]
    assert 0.88 <= hits_diff / n_datasets <= 0.99
    assert 0.88 <= hits_rate / n_datasets <= 0.99


def test_identical_systems_are_not_significant():
    a, _, lengths = _simulate(np.random.default_rng(3), 500, 0.2, 0.2)
    r = paired_bootstrap(a, a, lengths, seed=0)
    assert r["diff"] == 0.0 and r["ci_low"] == 0.0 and r["ci_high"] == 0.0
    assert not r["significant"] and r["p_value"] == 1.0


def test_large_difference_is_significant_small_one_on_few_utts_is_not():
    a, b, lengths = _simulate(np.random.default_rng(4), 1000, 0.30, 0.15)
    r = paired_bootstrap(a, b, lengths, seed=0)
    assert r["significant"] and r["ci_high"] < 0 and r["p_value"] < 0.01
    a, b, lengths = _simulate(np.random.default_rng(5), 20, 0.20, 0.19)
    assert not paired_bootstrap(a, b, lengths, seed=0)["significant"]


def test_same_seed_same_result_and_shared_resamples():
    a, b, lengths = _simulate(np.random.default_rng(6), 300, 0.2, 0.18)
    r1 = paired_bootstrap(a, b, lengths, n_resamples=200, seed=7)
    assert paired_bootstrap(a, b, lengths, n_resamples=200, seed=7) == r1
    assert paired_bootstrap(a, b, lengths, n_resamples=200, seed=8) != r1
    # the resamples depend only on seed and size: bootstrap_rate of A sees the same draws
    one = bootstrap_rate(a, lengths, n_resamples=200, seed=7)
    assert (one["ci_low"], one["ci_high"]) == (r1["a_ci_low"], r1["a_ci_high"])


def test_bad_arrays_raise():
    with pytest.raises(ValueError, match="errors_b has 2 utterances, expected 3"):
        paired_bootstrap([1, 2, 3], [1, 2], [5, 5, 5])
    with pytest.raises(ValueError, match="1-D"):
        bootstrap_rate([[1, 2]], [[3, 4]])
    with pytest.raises(ValueError, match="no utterances"):
        bootstrap_rate([], [])
    with pytest.raises(ValueError, match="non-negative"):
        bootstrap_rate([-1], [3])


def _simulate_seeds(rng, n_seeds, n_utts, rate_a, rate_b, seed_sd):
    """(n_seeds, n_utts) errors of two systems whose training runs differ: each seed row's error
    probability is the system's rate plus a seed offset of sd ``seed_sd``, so the true mean
    difference over seeds is rate_b - rate_a."""
    lengths = rng.integers(5, 26, size=n_utts)
    p_a = np.clip(rate_a + rng.normal(0, seed_sd, n_seeds), 0.01, 0.99)[:, None]
    p_b = np.clip(rate_b + rng.normal(0, seed_sd, n_seeds), 0.01, 0.99)[:, None]
    return rng.binomial(lengths, p_a), rng.binomial(lengths, p_b), lengths


def test_one_seed_row_gives_the_utterance_bootstrap_exactly():
    a, b, lengths = _simulate(np.random.default_rng(8), 300, 0.2, 0.18)
    one = bootstrap_rate(a, lengths, 300, seed=3)
    rows = bootstrap_rate(a[None], lengths, 300, seed=3)
    assert {k: rows[k] for k in one} == one and one["n_seeds"] == 1
    assert rows["seed_rates"] == [one["rate"]] and rows["sd_over_seeds"] == 0.0
    pair = paired_bootstrap(a, b, lengths, 300, seed=3)
    pair_rows = paired_bootstrap([a], [b], lengths, 300, seed=3)
    assert {k: pair_rows[k] for k in pair} == pair
    assert pair_rows["seed_rates_b"] == [pair["rate_b"]] and pair_rows["sd_over_seeds_a"] == 0.0


def test_seed_level_widens_the_interval_and_covers_the_mean_difference():
    rng = np.random.default_rng(2025)
    hits = hits_utts_only = 0
    n_datasets = 150
    for i in range(n_datasets):
        a, b, lengths = _simulate_seeds(rng, 8, 200, 0.20, 0.17, seed_sd=0.02)
        r = paired_bootstrap(a, b, lengths, n_resamples=400, seed=i)
        # the same mean rates, resampling the utterances only
        u = paired_bootstrap(a.mean(axis=0), b.mean(axis=0), lengths, n_resamples=400, seed=i)
        assert r["diff"] == pytest.approx(u["diff"])
        assert r["ci_high"] - r["ci_low"] > u["ci_high"] - u["ci_low"]
        hits += r["ci_low"] <= -3.0 <= r["ci_high"]
        hits_utts_only += u["ci_low"] <= -3.0 <= u["ci_high"]
    assert 0.88 <= hits / n_datasets <= 0.99
    assert hits_utts_only / n_datasets < 0.75  # seed variation ignored: far too narrow


def test_paired_seeds_pair_rows_and_share_draws():
    rng = np.random.default_rng(9)
    a, b, lengths = _simulate_seeds(rng, 3, 400, 0.20, 0.20, seed_sd=0.05)
    b = np.minimum(lengths, a + rng.binomial(lengths, 0.03))  # B = A's seed run plus errors
    r = paired_bootstrap(a, b, lengths, n_resamples=300, seed=4)
    rates_a = 100 * a.sum(axis=1) / lengths.sum()
    assert r["n_seeds"] == 3 and r["seed_rates_a"] == pytest.approx(rates_a.tolist())
    assert r["rate_a"] == pytest.approx(rates_a.mean())
    assert r["sd_over_seeds_a"] == pytest.approx(np.std(rates_a, ddof=1))
    one = bootstrap_rate(a, lengths, n_resamples=300, seed=4)
    assert (one["ci_low"], one["ci_high"]) == (r["a_ci_low"], r["a_ci_high"])
    # the seed offsets are shared row by row, so they cancel out of the paired difference
    assert r["significant"] and r["ci_high"] - r["ci_low"] < (r["a_ci_high"] - r["a_ci_low"]) / 3
    with pytest.raises(ValueError, match="errors_a has 3 seed rows but errors_b 2"):
        paired_bootstrap(a, b[:2], lengths)
    with pytest.raises(ValueError, match="lengths must be 1-D"):
        bootstrap_rate(a, np.stack([lengths] * 3))


def _score(tmp_path, name, ref_lines, hyp_lines, normalize="default"):
    ref, hyp = tmp_path / f"{name}.ref", tmp_path / f"{name}.hyp"
    ref.write_text("".join(f"{line}\n" for line in ref_lines), encoding="utf-8")
    hyp.write_text("".join(f"{line}\n" for line in hyp_lines), encoding="utf-8")
    score_files(ref, hyp, "es", tmp_path / name, normalize=normalize)
    return tmp_path / name


REFS = [f"u{i:02d} el gato negro come pescado" for i in range(30)]


def test_compare_systems_on_score_dirs(tmp_path):
    a = _score(tmp_path, "a", REFS, [f"u{i:02d} el pato negro come" for i in range(30)])
    b = _score(tmp_path, "b", REFS, [f"u{i:02d} el gato negro come pescado" for i in range(30)])
    row = compare_systems(a, b, metric="wer", n_resamples=200, seed=1)
    assert row["rate_a"] == pytest.approx(40.0) and row["rate_b"] == 0.0
    assert row["diff"] == pytest.approx(-40.0) and row["significant"]
    assert row["metric"] == "wer" and row["a"] == str(a) and row["n_utts"] == 30
    assert json.loads(json.dumps(row)) == row  # a JSON row as it is
    cer = compare_systems(a, b, n_resamples=200, seed=1)
    summary = json.loads((a / "summary.json").read_text())
    assert cer["metric"] == "cer" and cer["rate_a"] == pytest.approx(summary["cer"], abs=0.01)


def test_compare_systems_mismatched_utterances_raise(tmp_path):
    a = _score(tmp_path, "a", REFS, [line for line in REFS])
    b = _score(tmp_path, "b", REFS[:28] + ["u99 el gato"], REFS[:28] + ["u99 el gato"])
    with pytest.raises(DataDirError, match=r"2 only in A \(first: \['u28', 'u29'\]\), "
                                           r"1 only in B \(first: \['u99'\]\)"):
        compare_systems(a, b)


def test_compare_systems_different_references_or_modes_raise(tmp_path):
    a = _score(tmp_path, "a", REFS, REFS)
    b = _score(tmp_path, "b", ["u00 el gato"] + REFS[1:], REFS)
    with pytest.raises(DataDirError, match="utterance 'u00': reference length 5"):
        compare_systems(a, b, metric="wer")
    c = _score(tmp_path, "c", REFS, REFS, normalize="lower")
    with pytest.raises(DataDirError, match="normalisation 'default'.*'lower'"):
        compare_systems(a, c)


def test_compare_systems_over_seed_dirs(tmp_path):
    hyps_a = [f"u{i:02d} el pato negro come" for i in range(30)]
    seeds_a = [_score(tmp_path, f"a{s}", REFS, hyps_a[:10 * s] + REFS[10 * s:]) for s in (1, 2)]
    seeds_b = [_score(tmp_path, f"b{s}", REFS, REFS) for s in (1, 2)]
    row = compare_systems(seeds_a, seeds_b, metric="wer", n_resamples=200, seed=1)
    assert row["n_seeds"] == 2 and row["a"] == [str(d) for d in seeds_a]
    assert row["seed_rates_a"] == pytest.approx([40 / 3, 80 / 3])
    assert row["rate_a"] == pytest.approx(20.0) and row["sd_over_seeds_b"] == 0.0
    other = _score(tmp_path, "other", REFS[:29], REFS[:29])
    with pytest.raises(DataDirError,
                       match=r"1 only in A\[0\] \(first: \['u29'\]\), 0 only in B\[1\]"):
        compare_systems(seeds_a, [seeds_b[0], other])
    with pytest.raises(ValueError, match="2 score dirs for A but 1 for B"):
        compare_systems(seeds_a, seeds_b[:1])


def test_load_per_utt_malformed_row_names_file_and_line(tmp_path):
    a = _score(tmp_path, "a", REFS[:3], REFS[:3])
    assert load_per_utt(a)["u01"] == (0, 5, 0, 26)
    tsv = a / "per_utt.tsv"
    lines = tsv.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2] = lines[2].replace("\t5\t", "\tfive\t", 1)
    tsv.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(DataDirError, match=r"per_utt.tsv:3: malformed row"):
        load_per_utt(a)
    with pytest.raises(DataDirError, match="run the scoring stage"):
        load_per_utt(tmp_path / "missing")


def test_cli_prints_one_line_and_writes_json(tmp_path, monkeypatch, capsys):
    a = _score(tmp_path, "a", REFS, [f"u{i:02d} el pato negro come" for i in range(30)])
    b = _score(tmp_path, "b", REFS, REFS)
    out = tmp_path / "cmp.json"
    monkeypatch.setattr(sys, "argv", ["compare_systems", "--a", str(a), "--b", str(b),
                                      "--metric", "wer", "--n_resamples", "100", "--seed", "1",
                                      "--out_json", str(out)])
    compare_cli.main()
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and printed[0].startswith("WER A 40.00")
    assert printed[0].endswith(": significant")
    assert json.loads(out.read_text())["diff"] == pytest.approx(-40.0)
    b2 = _score(tmp_path, "b2", REFS, REFS)
    monkeypatch.setattr(sys, "argv", ["compare_systems", "--a", str(a), str(a), "--b", str(b),
                                      str(b2), "--n_resamples", "100"])
    compare_cli.main()
    assert "30 utts x 2 seeds" in capsys.readouterr().out


def test_cross_language_aggregates_on_known_inputs():
    """Two languages, every utterance with the same error ratio: the resamples cannot move the
    rates, so each interval collapses to the exact value."""
    from espnet_ext.evaluation.significance import (
        cross_language_summary,
        language_rates,
        macro_difference,
    )

    lengths = np.full(50, 10)
    per_language = [  # system A 10% / 30%, system B 5% / 25%, C 20% / 20%
        ([np.full(50, 1), np.full(50, 0.5), np.full(50, 2)], lengths),
        ([np.full(50, 3), np.full(50, 2.5), np.full(50, 2)], lengths),
    ]
    points, resampled = language_rates(per_language, n_resamples=100, seed=0)
    assert points.tolist() == [[10, 5, 20], [30, 25, 20]] and resampled.shape == (100, 2, 3)
    a, b, c = cross_language_summary(points, resampled)
    assert a["macro"] == a["macro_lo"] == a["macro_hi"] == 20
    assert a["sd_languages"] == pytest.approx(np.std([10, 30], ddof=1))
    assert a["worst"] == 30 and a["worst_language_index"] == 1
    assert c["sd_languages"] == 0 and c["macro"] == 20
    diff = macro_difference(points, resampled, 0, 1)
    assert diff["diff"] == -5 and diff["significant"] and diff["p_value"] == 0
    same = macro_difference(points, resampled, 0, 2)  # equal macro, different spread
    assert same["diff"] == 0 and not same["significant"] and same["p_value"] == 1


def test_cross_language_languages_are_resampled_independently():
    from espnet_ext.evaluation.significance import language_rates

    rng = np.random.default_rng(0)
    lengths = np.full(80, 20)
    errors = rng.integers(0, 10, size=80)
    _, resampled = language_rates([([errors], lengths), ([errors], lengths)], n_resamples=200)
    # the same utterances in both languages, but different draws: the rates differ
    assert not np.array_equal(resampled[:, 0, 0], resampled[:, 1, 0])
    with pytest.raises(ValueError, match="language 1 has 2 systems"):
        language_rates([([errors], lengths), ([errors, errors], lengths)])
