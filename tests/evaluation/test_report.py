"""The report stage builds from a fixture exp/ alone: tables with intervals, the default pairs'
significance, layer weights read from checkpoints, probe results, and the plots; with several
training seeds, one row per upstream and test set over the seeds."""

import json
import logging
import random
import shutil

import pytest
import torch

from espnet_ext.errors import XlingError
from espnet_ext.evaluation.report import default_pairs, group_seeds, write_report
from espnet_ext.evaluation.scoring import score_files

UPSTREAMS = {  # upstream -> chance that a reference word is replaced in its hypothesis
    "fbank": 0.6, "xling_apc_tiny_0.5h": 0.45, "xling_apc_tiny_2h": 0.3,
    "xling_joint_tiny_2h": 0.05, "xling_joint_tiny_twin_2h": 0.5,
}
# The metadata stage 4 writes beside each exported upstream (exp/upstreams/<name>.json): the
# report reads what a system is from it, never from the name.
EXPORTS = {
    "xling_apc_tiny_0.5h": {"method": "apc", "pretrain_config": "conf/pretrain/apc_tiny.yaml",
                            "pretrain_hours": "0.5", "variant": "main"},
    "xling_apc_tiny_2h": {"method": "apc", "pretrain_config": "conf/pretrain/apc_tiny.yaml",
                          "pretrain_hours": "2", "variant": "main"},
    "xling_joint_tiny_2h": {"method": "joint", "pretrain_config": "conf/pretrain/joint_tiny.yaml",
                            "pretrain_hours": "2", "variant": "main", "text_weight": 1.0,
                            "paired_weight": 0.5},
    "xling_joint_tiny_twin_2h": {"method": "joint", "variant": "twin", "pretrain_hours": "2",
                                 "pretrain_config": "conf/pretrain/joint_tiny.yaml",
                                 "text_weight": 0.0, "paired_weight": 0.0},
}


def systems_of(exports):
    from espnet_ext.evaluation.systems import describe

    return {"fbank": {"arm": "fbank", "pretrain_config": "", "pretrain_hours": None},
            **{name: describe(info) for name, info in exports.items()}}


# condition -> (extra word errors, its noise and SNR as stage 8 records them); condition names are
# free: the report orders and plots noise conditions by the recorded SNR, never by the name
CONDITIONS = {"clean": (0.0, {}), "snr10_babble": (0.1, {"noise": "babble", "snr_db": 10.0}),
              "loud_babble": (0.3, {"noise": "babble", "snr_db": 0.0})}
WORDS = "el gato negro come pan con la casa roja y verde".split()


def build_exp(tmp_path, n_utts=60, seeds=None):
    """Scored decodes of every upstream, language and condition. ``seeds``: training seeds, each
    scored with meta ``seed`` (as ``--meta seed=S``) in its own ASR dir (``_seed<S>`` after the
    first, as xling.sh names them), each later seed replacing 10% more words; None: summaries
    without a seed, as before seeds existed."""
    exp, data = tmp_path / "exp", tmp_path / "data"
    rng = random.Random(0)
    refs = {f"u{i:03d}": " ".join(rng.choice(WORDS) for _ in range(6)) for i in range(n_utts)}
    for lang in ("es", "cs"):
        for cond, (extra, noise) in CONDITIONS.items():
            test = f"test_{lang}" + ("" if cond == "clean" else f"_{cond}")
            ref = data / test / "text"
            ref.parent.mkdir(parents=True, exist_ok=True)
            ref.write_text("".join(f"{u} {t}\n" for u, t in refs.items()), encoding="utf-8")
            for up, p in UPSTREAMS.items():
                for k, seed in enumerate(seeds or [None]):
                    hyp_words = {u: [w if rng.random() > p + extra + 0.1 * k else "x"
                                     for w in t.split()] for u, t in refs.items()}
                    hyp = tmp_path / f"hyp_{up}_{test}_{seed}"
                    hyp.write_text("".join(f"{u} {' '.join(w)}\n" for u, w in hyp_words.items()),
                                   encoding="utf-8")
                    asr = exp / (f"asr_{up}_{lang}" + (f"_seed{seed}" if k else ""))
                    meta = {"upstream": up, "test_set": test, "condition": cond,
                            "decode": "decode_ctc_greedy", **noise}
                    if seed is not None:
                        meta["seed"] = str(seed)
                    score_files(ref, hyp, lang, asr / "decode_ctc_greedy" / test / "score", meta)
                    state = {"encoder.w": torch.zeros(2)}
                    if up != "fbank":
                        state["frontend.weights"] = torch.tensor([0.0, 1.0, 2.0 + k])
                    torch.save(state, asr / "valid.acc.ave.pth")
    (exp / "upstreams").mkdir()
    for name, info in EXPORTS.items():
        (exp / "upstreams" / f"{name}.json").write_text(json.dumps(info))
    for up in ("fbank", "xling_apc_tiny_2h"):
        for lang in ("nl", "es"):
            d = exp / "probe" / up / lang
            d.mkdir(parents=True)
            n = 1 if up == "fbank" else 3
            (d / "probe.json").write_text(json.dumps({
                "upstream": up, "lang": lang, "num_utts": 10, "num_classes": 20, "chance": 0.1,
                "layers": [{"layer": i, "accuracy": 0.3 + 0.1 * i, "train_frames": 900,
                            "test_frames": 300} for i in range(n)]}))
    for up, per in (("fbank", 62.5), ("xling_apc_tiny_2h", 48.0)):
        for lang in ("es", "cs"):
            d = exp / "phone_recognition" / up / lang
            d.mkdir(parents=True)
            (d / "result.json").write_text(json.dumps({
                "upstream": up, "lang": lang, "per": per, "num_phones": 30, "train_utts": 50,
                "test_utts": 20, "test_phones": 400, "oov_test_phones": 2, "loss_first": 9.1,
                "loss_last": 2.3, "layer_weights": [1.0], "options": {}}))
    return exp


def test_default_pairs_are_twin_vs_model_and_each_vs_fbank():
    pairs = default_pairs(systems_of(EXPORTS))
    assert ("xling_joint_tiny_twin_2h", "xling_joint_tiny_2h") in pairs
    assert ("fbank", "xling_apc_tiny_2h") in pairs and len(pairs) == 1 + 4


def mpc_exports():
    mpc = {"method": "mpc", "pretrain_config": "conf/pretrain/mpc_tiny.yaml", "variant": "main",
           "pretrain_hours": "2", "text_weight": 1.0, "paired_weight": 1.0}
    return {"xling_mpc_tiny_0h": dict(mpc, pretrain_hours="0", variant="random_init"),
            "xling_mpc_tiny_2h": mpc,
            "xling_mpc_tiny_twin_2h": dict(mpc, variant="twin", text_weight=0.0,
                                           paired_weight=0.0),
            "xling_mpc_tiny_paired_2h": dict(mpc, variant="paired", text_weight=0.0),
            # another config whose name shares the prefix
            "xling_mpc_tiny_base_2h": dict(mpc, pretrain_config="conf/pretrain/mpc_tiny_base.yaml")}


def test_default_pairs_add_paired_arm_and_random_init_control():
    ups = ["fbank", "xling_mpc_tiny_0h", "xling_mpc_tiny_2h", "xling_mpc_tiny_twin_2h",
           "xling_mpc_tiny_paired_2h", "xling_mpc_tiny_base_2h"]
    systems = systems_of(mpc_exports())
    assert [systems[u]["arm"] for u in ups] == ["fbank", "random_init", "joint", "twin", "paired",
                                                "joint"]
    pairs = set(default_pairs(systems))
    assert {("xling_mpc_tiny_twin_2h", "xling_mpc_tiny_2h"),
            ("xling_mpc_tiny_twin_2h", "xling_mpc_tiny_paired_2h")} <= pairs
    # the control vs every run of its own config, not of another config sharing the prefix
    assert {("xling_mpc_tiny_0h", v) for v in ups[2:5]} <= pairs
    assert ("xling_mpc_tiny_0h", "xling_mpc_tiny_base_2h") not in pairs
    assert len(pairs) == 2 + 3 + 5


def test_report_from_fixture_exp(tmp_path):
    exp = build_exp(tmp_path)
    out = tmp_path / "results"
    md = write_report(exp, out, decode="decode_ctc_greedy", n_resamples=200, seed=1,
                      compare=[("xling_apc_tiny_0.5h", "xling_apc_tiny_2h")]).read_text()

    rows = json.loads((out / "results.json").read_text())
    assert len(rows) == len(UPSTREAMS) * 2 * len(CONDITIONS)
    assert list(rows[0])[:2] == ["upstream", "arm"]
    assert {(r["upstream"], r["arm"]) for r in rows} == {
        ("fbank", "fbank"), ("xling_apc_tiny_0.5h", "apc"), ("xling_apc_tiny_2h", "apc"),
        ("xling_joint_tiny_2h", "joint"), ("xling_joint_tiny_twin_2h", "twin")}
    for r in rows:
        assert r["cer_lo"] <= r["cer"] <= r["cer_hi"] and r["wer_lo"] <= r["wer"] <= r["wer_hi"]
    sig = json.loads((out / "significance.json").read_text())
    joint = next(s for s in sig if s["system"] == "xling_joint_tiny_2h" and s["language"] == "es"
                 and s["condition"] == "clean" and s["metric"] == "wer"
                 and s["baseline"] == "xling_joint_tiny_twin_2h")
    assert (joint["baseline_arm"], joint["system_arm"]) == ("twin", "joint")
    # 5% vs 50% replaced words over 360 words: a large, significant improvement
    assert joint["diff"] < -30 and joint["significant"] and joint["diff_hi"] < 0
    assert any(s["baseline"] == "xling_apc_tiny_0.5h" for s in sig)  # the --compare pair
    # cross-language: every pair also on the macro average, every upstream aggregated
    macro = next(s for s in sig if s["language"] == "macro" and s["condition"] == "clean"
                 and s["metric"] == "wer" and s["system"] == "xling_joint_tiny_2h"
                 and s["baseline"] == "xling_joint_tiny_twin_2h")
    assert macro["diff"] < -30 and macro["significant"]
    agg = json.loads((out / "aggregates.json").read_text())
    assert {(a["upstream"], a["condition"], a["metric"]) for a in agg} == {
        (u, c, m) for u in UPSTREAMS for c in CONDITIONS for m in ("cer", "wer")}
    for a in agg:
        assert a["macro_lo"] <= a["macro"] <= a["macro_hi"] and a["worst_language"] in ("cs", "es")
        assert a["worst"] >= a["macro"] and a["languages"] == "cs es"
    assert "## Across languages, clean test sets (cs es)" in md

    weights = json.loads((out / "layer_weights.json").read_text())
    assert len(weights) == 4 * 2  # every non-fbank (upstream, language)
    assert weights[0]["weights"] == pytest.approx(torch.softmax(torch.tensor([0., 1., 2.]), 0)
                                                  .tolist(), abs=1e-4)
    for png in ("error_vs_snr_babble", "error_vs_pretrain_hours", "layer_weights", "probe_accuracy"):
        assert (out / f"{png}.png").stat().st_size > 1000
        assert f"({png}.png)" in md
    assert "## CER (%) per condition" in md
    header = next(line for line in md.splitlines() if "snr10_babble" in line)
    assert header.index("clean") < header.index("snr10_babble") < header.index("loud_babble")
    assert "| xling_joint_tiny_twin_2h | xling_joint_tiny_2h | es | clean |" in md
    assert "WER = " in md and "bootstrap" in md
    assert (out / "probe.csv").read_text().count("\n") == 1 + 2 * (1 + 3)
    assert "## Phone recognition on real speech" in md
    assert "| xling_apc_tiny_2h | 48.0 (9.10 -> 2.30) | 48.0 (9.10 -> 2.30) |" in md
    assert (out / "phone_recognition.csv").read_text().count("\n") == 1 + 2 * 2
    # the decision rule: the joint model (5% words replaced) vs its twin (50%) on the macro CER
    verdict = json.loads((out / "verdict.json").read_text())
    [v] = verdict["verdicts"]
    assert (v["system"], v["baseline"], v["verdict"]) == ("xling_joint_tiny_2h",
                                                          "xling_joint_tiny_twin_2h", "helps")
    [check] = verdict["twin_checks"]  # no random-init control in this exp
    assert check["control_arm"] == "fbank" and check["languages"] == 2
    assert md.index("## Verdict of the decision rule") < md.index("## Clean test sets")
    assert "**helps**" in md


def test_verdict_follows_the_interval_and_flags_a_twin_that_learned_nothing():
    from espnet_ext.evaluation import verdict

    assert [verdict.decide(lo, hi) for lo, hi in ((-3, -0.1), (0.2, 4), (-1, 1), (-2, 0))] == [
        "helps", "hurts", "no measurable effect", "no measurable effect"]

    def row(base, sys_, arm_b, arm_s, lang, lo, hi, metric="cer", cond="clean"):
        return {"baseline": base, "system": sys_, "baseline_arm": arm_b, "system_arm": arm_s,
                "language": lang, "condition": cond, "metric": metric, "diff": (lo + hi) / 2,
                "diff_lo": lo, "diff_hi": hi, "n_seeds": 3}

    sig = [row("t", "j", "twin", "joint", "macro", 0.5, 2.0),
           row("t", "p", "twin", "paired", "macro", -1.0, 0.5),
           row("t", "j", "twin", "joint", "macro", -9, -8, metric="wer"),      # not the rule's
           row("t", "j", "twin", "joint", "macro", -9, -8, cond="snr0_babble"),  # not the rule's
           row("f", "t", "fbank", "twin", "cs", 1.0, 2.0),
           row("f", "t", "fbank", "twin", "es", 0.5, 1.0),
           row("r", "t", "random_init", "twin", "cs", 1.0, 2.0)]
    verdicts = verdict.text_verdicts(sig)
    assert [(v["system"], v["verdict"], v["n_seeds"]) for v in verdicts] == [
        ("j", "hurts", 3), ("p", "no measurable effect", 3)]
    checks = verdict.twin_checks(sig)
    assert [(c["control_arm"], c["languages_better"], c["languages"]) for c in checks] == [
        ("fbank", 0, 2), ("random_init", 0, 1)]
    md = verdict.render(verdicts, checks)
    assert "**hurts**" in md and "not shown to be useful" in md
    assert verdict.render([], checks) == ""


def test_report_refuses_unknown_pairs_and_missing_decode(tmp_path):
    exp = build_exp(tmp_path, n_utts=5)
    with pytest.raises(XlingError, match="without results.*'nope'"):
        write_report(exp, tmp_path / "r", compare=[("fbank", "nope")], n_resamples=10)
    with pytest.raises(XlingError, match="decode_beam"):
        write_report(exp, tmp_path / "r", decode="decode_beam", n_resamples=10)


def test_report_names_an_unreadable_model_file(tmp_path):
    exp = build_exp(tmp_path, n_utts=5)
    bad = exp / "asr_xling_apc_tiny_2h_es" / "valid.acc.ave.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(XlingError, match=f"{bad}.*corrupt, truncated"):
        write_report(exp, tmp_path / "r", decode="decode_ctc_greedy", n_resamples=10)


def test_report_over_seeds_gives_mean_spread_and_paired_seeds(tmp_path):
    exp = build_exp(tmp_path, n_utts=30, seeds=(1, 2, 3))
    out = tmp_path / "results"
    md = write_report(exp, out, n_resamples=200, seed=1).read_text()

    rows = json.loads((out / "results.json").read_text())
    assert len(rows) == len(UPSTREAMS) * 2 * len(CONDITIONS)  # one row over the seeds
    r = next(r for r in rows
             if r["upstream"] == "xling_joint_tiny_2h" and r["test_set"] == "test_es")
    assert r["n_seeds"] == 3 and r["seeds"] == "1 2 3"
    cers = [json.loads((exp / d / "summary.json").read_text())["cer"]
            for d in r["exp_dir"].split()]
    assert r["exp_dir"].split()[1].startswith("asr_xling_joint_tiny_2h_es_seed2/")
    assert r["cer"] == pytest.approx(sum(cers) / 3, abs=0.01)
    assert r["cer_sd"] == pytest.approx(float(torch.tensor(cers).std()), abs=0.02)
    assert r["cer_sd"] > 3  # each seed replaces 10% more words
    assert r["cer_lo"] <= r["cer"] <= r["cer_hi"] and r["wer_lo"] <= r["wer"] <= r["wer_hi"]
    assert (out / "results.csv").read_text().splitlines()[0].endswith(
        "exp_dir,n_seeds,seeds,cer_sd,wer_sd,cer_lo,cer_hi,wer_lo,wer_hi")

    sig = json.loads((out / "significance.json").read_text())
    joint = next(s for s in sig if s["system"] == "xling_joint_tiny_2h" and s["language"] == "es"
                 and s["condition"] == "clean" and s["metric"] == "wer"
                 and s["baseline"] == "xling_joint_tiny_twin_2h")
    assert joint["seeds"] == "1 2 3" and joint["n_seeds"] == 3
    assert joint["diff"] < -30 and joint["significant"]
    assert f" | {r['cer']:.1f} ± {r['cer_sd']:.1f} (3 seeds) [{r['cer_lo']:.1f}, " in md
    assert "over seeds and test utterances together" in md

    weights = json.loads((out / "layer_weights.json").read_text())
    assert len(weights) == 4 * 2 * 3 and {w["seed"] for w in weights} == {"1", "2", "3"}
    assert (out / "layer_weights.png").stat().st_size > 1000


def test_pairs_trained_with_different_seeds_are_skipped_with_a_warning(tmp_path, caplog):
    exp = build_exp(tmp_path, n_utts=5, seeds=(1, 2, 3))
    shutil.rmtree(exp / "asr_xling_joint_tiny_twin_2h_es_seed3")
    with caplog.at_level(logging.WARNING):
        out = write_report(exp, tmp_path / "r", n_resamples=10).parent
    assert "not compared: 'xling_joint_tiny_twin_2h' (seeds 1 2) and 'xling_joint_tiny_2h' " \
           "(seeds 1 2 3) on es, clean" in caplog.text
    sig = json.loads((out / "significance.json").read_text())
    twin = {(s["language"], s["condition"]) for s in sig
            if s["baseline"] == "xling_joint_tiny_twin_2h"}
    assert ("cs", "clean") in twin and ("es", "clean") not in twin


def test_a_control_trained_once_pairs_with_every_seed_of_a_pretrained_model(tmp_path):
    """fbank trained once next to models pre-trained with three seeds: compared per language and
    on the macro average, its one run paired with each seed; its aggregates counted once."""
    exp = build_exp(tmp_path, n_utts=20, seeds=(1, 2, 3))
    for lang in ("es", "cs"):
        for k in (2, 3):
            shutil.rmtree(exp / f"asr_fbank_{lang}_seed{k}")
    out = write_report(exp, tmp_path / "r", n_resamples=50).parent
    sig = json.loads((out / "significance.json").read_text())
    vs_fbank = [s for s in sig if s["baseline"] == "fbank" and s["condition"] == "clean"
                and s["metric"] == "cer" and s["system"] == "xling_joint_tiny_twin_2h"]
    assert sorted(s["language"] for s in vs_fbank) == ["cs", "es", "macro"]
    for s in vs_fbank:
        assert (s["n_seeds"], s["baseline_runs"], s["system_runs"]) == (3, 1, 3), s
    # between models of three seeds nothing changes: seed by seed
    twin = next(s for s in sig if s["baseline"] == "xling_joint_tiny_twin_2h"
                and s["language"] == "macro" and s["condition"] == "clean")
    assert (twin["baseline_runs"], twin["system_runs"]) == (3, 3)
    agg = json.loads((out / "aggregates.json").read_text())
    fb = [a for a in agg if a["upstream"] == "fbank" and a["condition"] == "clean"
          and a["metric"] == "cer"]
    assert len(fb) == 1 and fb[0]["n_seeds"] == 1


def test_one_recorded_seed_gives_the_report_without_seeds(tmp_path):
    plain, seeded = (write_report(build_exp(tmp_path / name, n_utts=10, seeds=seeds),
                                  tmp_path / name / "r", n_resamples=50).parent
                     for name, seeds in (("plain", None), ("seeded", (1,))))
    for name in ("results.csv", "results.json", "significance.csv", "significance.json",
                 "layer_weights.json"):
        assert (seeded / name).read_text() == (plain / name).read_text()

    def without_date(d):
        return [line for line in (d / "RESULTS.md").read_text().splitlines()
                if not line.startswith("- generated")]

    assert without_date(seeded) == without_date(plain)


def test_group_seeds_refuses_a_seed_twice_or_results_without_seed():
    row = {"upstream": "fbank", "language": "es", "test_set": "test_es", "condition": "clean",
           "decode": "d"}
    rows = [dict(row, seed=s, exp_dir=f"asr_{i}/score") for i, s in enumerate(["1", "2", "2"])]
    with pytest.raises(XlingError, match=r"'fbank', es, test_es: several results of seed\(s\) "
                                         r"\['2'\].*asr_2/score"):
        group_seeds(rows)
    rows[2]["seed"] = ""
    with pytest.raises(XlingError, match="without a recorded seed"):
        group_seeds(rows)
    assert [len(g) for g in group_seeds(rows[:2])] == [2]
    assert group_seeds([dict(row, seed="", exp_dir="x")]) == [[dict(row, exp_dir="x")]]


def test_second_head_pairs_within_itself_and_kendall_tau_on_known_ranks():
    from espnet_ext.evaluation.report import head_agreement, label_heads

    rows = [{"upstream": u, "head": h, "main_head": main, "language": "cs", "condition": "clean"}
            for u in ("fbank", "xling_mpc_tiny_2h", "xling_mpc_tiny_twin_2h")
            for h, main in (("conformer", True), ("ctc", False))]
    labelled, labels = label_heads(rows, systems_of(mpc_exports()))
    assert [r["upstream"] for r in labelled] == list(labels)
    assert "fbank" in labels and "fbank@ctc" in labels and "xling_mpc_tiny_2h@ctc" in labels
    assert labels["xling_mpc_tiny_twin_2h@ctc"]["arm"] == "twin"
    pairs = default_pairs(labels)
    assert ("fbank@ctc", "xling_mpc_tiny_2h@ctc") in pairs
    assert ("xling_mpc_tiny_twin_2h@ctc", "xling_mpc_tiny_2h@ctc") in pairs
    assert not any(("@" in a) != ("@" in b) for a, b in pairs)  # never across heads
    cer = {"fbank": (80, 60), "xling_mpc_tiny_2h": (50, 70), "xling_mpc_tiny_twin_2h": (60, 65)}
    results = [{"upstream": u + ("@ctc" if i else ""), "head": "ctc" if i else "conformer",
                "language": "cs", "condition": "clean", "cer": c[i]}
               for u, c in cer.items() for i in (0, 1)]
    (row,) = head_agreement(results, labels)
    # conformer: mpc < twin < fbank; ctc: fbank < twin < mpc: the order is reversed
    assert row["kendall_tau"] == -1.0 and row["head_a"] == "conformer" and row["head_b"] == "ctc"
    assert row["flipped_pairs"].count(" vs ") == 3 and row["n_upstreams"] == 3
