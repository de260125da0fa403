"""The report stage builds from a fixture exp/ alone: tables with intervals, the default pairs'
significance, layer weights read from checkpoints, probe results, and the plots."""

import json
import random

import pytest
import torch

from espnet_ext.errors import XlingError
from espnet_ext.evaluation.report import default_pairs, write_report
from espnet_ext.evaluation.scoring import score_files

UPSTREAMS = {  # upstream -> chance that a reference word is replaced in its hypothesis
    "fbank": 0.6, "xling_apc_tiny_0.5h": 0.45, "xling_apc_tiny_2h": 0.3,
    "xling_joint_tiny_2h": 0.05, "xling_joint_tiny_twin_2h": 0.5,
}
CONDITIONS = {"clean": 0.0, "snr10_babble": 0.1, "snr0_babble": 0.3}
WORDS = "el gato negro come pan con la casa roja y verde".split()


def build_exp(tmp_path, n_utts=60):
    exp, data = tmp_path / "exp", tmp_path / "data"
    rng = random.Random(0)
    refs = {f"u{i:03d}": " ".join(rng.choice(WORDS) for _ in range(6)) for i in range(n_utts)}
    for lang in ("es", "cs"):
        for cond, extra in CONDITIONS.items():
            test = f"test_{lang}" + ("" if cond == "clean" else f"_{cond}")
            ref = data / test / "text"
            ref.parent.mkdir(parents=True, exist_ok=True)
            ref.write_text("".join(f"{u} {t}\n" for u, t in refs.items()), encoding="utf-8")
            for up, p in UPSTREAMS.items():
                hyp_words = {u: [w if rng.random() > p + extra else "x" for w in t.split()]
                             for u, t in refs.items()}
                hyp = tmp_path / f"hyp_{up}_{test}"
                hyp.write_text("".join(f"{u} {' '.join(w)}\n" for u, w in hyp_words.items()),
                               encoding="utf-8")
                asr = exp / f"asr_{up}_{lang}"
                score_files(ref, hyp, lang, asr / "decode_ctc_greedy" / test / "score",
                            {"upstream": up, "test_set": test, "condition": cond,
                             "decode": "decode_ctc_greedy"})
                state = {"encoder.w": torch.zeros(2)}
                if up != "fbank":
                    state["frontend.weights"] = torch.tensor([0.0, 1.0, 2.0])
                torch.save(state, asr / "valid.acc.ave.pth")
    for up in ("fbank", "xling_apc_tiny_2h"):
        for lang in ("nl", "es"):
            d = exp / "probe" / up / lang
            d.mkdir(parents=True)
            n = 1 if up == "fbank" else 3
            (d / "probe.json").write_text(json.dumps({
                "upstream": up, "lang": lang, "num_utts": 10, "num_classes": 20, "chance": 0.1,
                "layers": [{"layer": i, "accuracy": 0.3 + 0.1 * i, "train_frames": 900,
                            "test_frames": 300} for i in range(n)]}))
    return exp


def test_default_pairs_are_twin_vs_model_and_each_vs_fbank():
    pairs = default_pairs(UPSTREAMS)
    assert ("xling_joint_tiny_twin_2h", "xling_joint_tiny_2h") in pairs
    assert ("fbank", "xling_apc_tiny_2h") in pairs and len(pairs) == 1 + 4


def test_report_from_fixture_exp(tmp_path):
    exp = build_exp(tmp_path)
    out = tmp_path / "results"
    md = write_report(exp, out, decode="decode_ctc_greedy", n_resamples=200, seed=1,
                      compare=[("xling_apc_tiny_0.5h", "xling_apc_tiny_2h")]).read_text()

    rows = json.loads((out / "results.json").read_text())
    assert len(rows) == len(UPSTREAMS) * 2 * len(CONDITIONS)
    for r in rows:
        assert r["cer_lo"] <= r["cer"] <= r["cer_hi"] and r["wer_lo"] <= r["wer"] <= r["wer_hi"]
    sig = json.loads((out / "significance.json").read_text())
    joint = next(s for s in sig if s["system"] == "xling_joint_tiny_2h" and s["language"] == "es"
                 and s["condition"] == "clean" and s["metric"] == "wer"
                 and s["baseline"] == "xling_joint_tiny_twin_2h")
    # 5% vs 50% replaced words over 360 words: a large, significant improvement
    assert joint["diff"] < -30 and joint["significant"] and joint["diff_hi"] < 0
    assert any(s["baseline"] == "xling_apc_tiny_0.5h" for s in sig)  # the --compare pair

    weights = json.loads((out / "layer_weights.json").read_text())
    assert len(weights) == 4 * 2  # every non-fbank (upstream, language)
    assert weights[0]["weights"] == pytest.approx(torch.softmax(torch.tensor([0., 1., 2.]), 0)
                                                  .tolist(), abs=1e-4)
    for png in ("error_vs_snr_babble", "error_vs_pretrain_hours", "layer_weights", "probe_accuracy"):
        assert (out / f"{png}.png").stat().st_size > 1000
        assert f"({png}.png)" in md
    assert "## CER (%) per condition" in md and "snr0_babble" in md
    assert "| xling_joint_tiny_twin_2h | xling_joint_tiny_2h | es | clean |" in md
    assert "WER = " in md and "bootstrap" in md
    assert (out / "probe.csv").read_text().count("\n") == 1 + 2 * (1 + 3)


def test_report_refuses_unknown_pairs_and_missing_decode(tmp_path):
    exp = build_exp(tmp_path, n_utts=5)
    with pytest.raises(XlingError, match="without results.*'nope'"):
        write_report(exp, tmp_path / "r", compare=[("fbank", "nope")], n_resamples=10)
    with pytest.raises(XlingError, match="decode_beam"):
        write_report(exp, tmp_path / "r", decode="decode_beam", n_resamples=10)
