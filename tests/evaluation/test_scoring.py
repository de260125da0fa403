"""Scoring: WER/CER definitions on hand-checked examples, missing hypotheses, normalisation
modes, the alignment file, results table."""

import json

import pytest

from espnet_ext.errors import ConfigError, DataDirError, XlingError
from espnet_ext.evaluation.report import write_report
from espnet_ext.evaluation.results import collect_results
from espnet_ext.evaluation.scoring import (DEFINITIONS, NORMALIZATIONS, normalize_for_scoring,
                                           score_files, score_texts)


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
    assert [r["condition"] for r in rows] == ["clean", "clean"]  # no condition in meta: clean
    md = write_report(exp, exp / "results", n_resamples=50).read_text(encoding="utf-8")
    assert "| fbank | 7.1 [" in md and "| other | 0.0 [0.0, 0.0] |" in md
    assert (exp / "results" / "results.csv").read_text().startswith("upstream,arm,language")
    assert len(json.loads((exp / "results" / "results.json").read_text())) == 2


def test_results_without_scores_raise(tmp_path):
    with pytest.raises(XlingError, match="no \\*/score/summary.json"):
        collect_results(tmp_path)


@pytest.mark.parametrize(
    "mode, expected",
    [
        ("default", "l'agent dit bonjour 2 fois"),
        ("lower", "l’agent dit: «bonjour!» 2 fois"),
        ("none", "L’agent dit: «Bonjour!» 2 fois"),
    ],
)
def test_normalize_modes(mode, expected):
    assert normalize_for_scoring("  L’agent  dit:\t«Bonjour!» 2 fois ", "fr", mode) == expected


def test_normalize_modes_change_scores_as_documented():
    refs, hyps = {"u": "Hola, Mundo."}, {"u": "hola mundo"}
    assert score_texts(refs, hyps, "es")[0].wer == 0.0
    lower, _ = score_texts(refs, hyps, "es", "lower")  # "hola," != "hola", "mundo." != "mundo"
    assert lower.word.substitutions == 2 and lower.char.deletions == 2
    none, _ = score_texts(refs, hyps, "es", "none")  # and the two capitals
    assert none.word.substitutions == 2 and none.char.errors == 4
    assert none.normalize == "none"


def test_unknown_normalize_mode_raises():
    with pytest.raises(ConfigError, match="'upper'.*default"):
        score_texts({"u": "a"}, {"u": "a"}, "es", "upper")


def test_alignment_file_marks_substitution_insertion_deletion(tmp_path):
    ref, hyp = tmp_path / "ref", tmp_path / "hyp"
    ref.write_text("u1 el gato negro come\nu2 la casa\n", encoding="utf-8")
    hyp.write_text("u1 el pato grande negro\nu2 la casa\n", encoding="utf-8")
    summary = score_files(ref, hyp, "es", tmp_path / "score")
    text = (tmp_path / "score" / "alignments.txt").read_text(encoding="utf-8")
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert any("WER = " + DEFINITIONS["wer"] in line for line in header)
    assert any("normalisation: default" in line for line in header)
    block = text.split("id: u1\n")[1].split("\n\n")[0].splitlines()
    assert block[0] == "Scores: (#C #S #D #I) 2 1 1 1"
    ref_line, hyp_line, eval_line = block[2:5]
    # columns line up: each word of REF, HYP and Eval starts at the same offset
    cols = [(ref_line[i:].split()[0], hyp_line[i:].split()[0], eval_line[i:i + 1])
            for i in range(6, len(ref_line)) if ref_line[i - 1] == " " and ref_line[i] != " "]
    assert cols == [("el", "el", " "), ("****", "pato", "I"), ("gato", "grande", "S"),
                    ("negro", "negro", " "), ("come", "****", "D")]
    assert "id: u2\nScores: (#C #S #D #I) 2 0 0 0\n" in text
    assert summary.word.substitutions == 1 and summary.word.insertions == 1
    assert summary.word.deletions == 1


def test_summary_records_mode_and_definitions(tmp_path):
    ref, hyp = tmp_path / "ref", tmp_path / "hyp"
    ref.write_text("u1 Hola, mundo\n", encoding="utf-8")
    hyp.write_text("u1 hola mundo\n", encoding="utf-8")
    for mode in NORMALIZATIONS:
        score_files(ref, hyp, "es", tmp_path / mode, normalize=mode)
        s = json.loads((tmp_path / mode / "summary.json").read_text())
        assert s["normalize"] == mode
        assert s["definitions"]["wer"] == DEFINITIONS["wer"]
        assert s["definitions"]["normalize"] == NORMALIZATIONS[mode]
    assert json.loads((tmp_path / "default" / "summary.json").read_text())["wer"] == 0.0
    # "none": "Hola," is not "hola"
    assert json.loads((tmp_path / "none" / "summary.json").read_text())["wer"] == 50.0
