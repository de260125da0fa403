"""Scoring: WER/CER definitions on hand-checked examples, missing hypotheses, results table."""

import json

import pytest

from espnet_ext.errors import DataDirError, XlingError
from espnet_ext.evaluation.results import collect_results, write_results
from espnet_ext.evaluation.scoring import score_files, score_texts


def test_wer_cer_hand_checked():
    refs = {"u1": "el gato negro", "u2": "hola"}
    hyps = {"u1": "el pato negro", "u2": "hola"}
    summary, rows = score_texts(refs, hyps, "es")
    assert summary.word.errors == 1 and summary.word.ref_length == 4
    assert summary.wer == pytest.approx(25.0)
    # one substituted character out of 13 + 4 characters (spaces count)
    assert summary.char.errors == 1 and summary.char.ref_length == 17
    assert summary.cer == pytest.approx(100 / 17, abs=0.01)
    assert rows[0]["utt"] == "u1" and rows[0]["word_errors"] == 1


def test_case_and_punctuation_do_not_count():
    summary, _ = score_texts({"u": "Hola, mundo."}, {"u": "hola mundo"}, "es")
    assert summary.wer == 0.0 and summary.cer == 0.0


def test_missing_hypothesis_scores_as_deletions():
    summary, _ = score_texts({"u1": "a b", "u2": "c"}, {"u1": "a b"}, "es")
    assert summary.num_missing_hyps == 1
    assert summary.word.deletions == 1 and summary.wer == pytest.approx(100 / 3, abs=0.01)


def test_unknown_hypothesis_id_raises():
    with pytest.raises(DataDirError, match="no reference.*'zz'"):
        score_texts({"u1": "a"}, {"u1": "a", "zz": "b"}, "es")


def test_score_files_and_results_table(tmp_path):
    exp = tmp_path / "exp"
    ref = tmp_path / "ref"
    ref.write_text("u1 el gato\nu2 la casa\n", encoding="utf-8")
    for upstream, hyp in (("fbank", "u1 el pato\nu2 la casa\n"), ("other", "u1 el gato\nu2 la casa\n")):
        h = tmp_path / f"hyp_{upstream}"
        h.write_text(hyp, encoding="utf-8")
        out = exp / f"asr_{upstream}_es" / "decode_x" / "test_es" / "score"
        score_files(ref, h, "es", out, {"upstream": upstream, "test_set": "test_es", "decode": "x"})
        assert (out / "per_utt.tsv").read_text(encoding="utf-8").count("\n") == 3
    s = json.loads((exp / "asr_fbank_es/decode_x/test_es/score/summary.json").read_text())
    assert s["wer"] == 25.0 and s["meta"]["upstream"] == "fbank"

    rows = collect_results(exp)
    assert [r["upstream"] for r in rows] == ["fbank", "other"]
    md = write_results(exp, exp / "results").read_text(encoding="utf-8")
    assert "| fbank | 7.1 / 25.0 |" in md and "| other | 0.0 / 0.0 |" in md
    assert (exp / "results" / "results.csv").read_text().startswith("upstream,language")
    assert len(json.loads((exp / "results" / "results.json").read_text())) == 2


def test_results_without_scores_raise(tmp_path):
    with pytest.raises(XlingError, match="no \\*/score/summary.json"):
        collect_results(tmp_path)
