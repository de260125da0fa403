"""The recipe's run plan (espnet_ext.recipe.plan) and the bookkeeping steps of its stages
(espnet_ext.recipe.stages), without training anything. The expected names are those the stage
script built in bash before the plan moved to Python: finished work is found again by them."""

import json
import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from espnet_ext.errors import ConfigError, DataDirError
from espnet_ext.recipe import plan, stages
from espnet_ext.recipe.plan import RecipeOptions
from tests.conftest import REPO_ROOT

CONF = REPO_ROOT / "conf"
ASR = "conf/asr/train_asr_fast.yaml"
CTC = "conf/asr/train_asr_ctc_head_fast.yaml"


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch):
    """Config paths as the recipes give them (relative to the recipe dir; conf/ links the repo's)."""
    monkeypatch.chdir(REPO_ROOT)


def options(**kw) -> RecipeOptions:
    """The fast recipe's options (egs2/offline_mini/xling1/run.sh --fast true), changed by ``kw``."""
    base = dict(languages="nl es", datadir="data_fast", expdir="exp_fast", asr_config=ASR,
                inference_config="conf/decode/decode_ctc_greedy.yaml",
                conditions="snr10_babble snr10_pink tel8k", probe_languages="nl es",
                pretrain_configs="conf/pretrain/apc_fast.yaml:0.02 conf/pretrain/mpc_fast.yaml:0,0.04",
                pretrain_hours="0.02 0.04")
    return RecipeOptions(**{**base, **kw})


def exps(opts: RecipeOptions, lang: str = "es") -> list:
    return [r.exp for r in plan.asr_runs(opts) if r.lang == lang]


# --- names --------------------------------------------------------------------------------------

def test_fast_run_names():
    opts = options()
    runs = plan.recipe_pretrain_runs(opts)
    assert [plan.pretrain_exp(opts, r) for r in runs] == [
        "exp_fast/pretrain_apc_fast_0.02h", "exp_fast/pretrain_mpc_fast_0h",
        "exp_fast/pretrain_mpc_fast_0.04h", "exp_fast/pretrain_mpc_fast_twin_0.04h"]
    assert [plan.pretrain_data(opts, r.hours) for r in runs] == [
        "data_fast/pretrain_nl_0.02h", "data_fast/pretrain_nl_0h", "data_fast/pretrain_nl_0.04h",
        "data_fast/pretrain_nl_0.04h"]
    assert plan.pretrain_pools(opts, runs) == [("0.02", "data_fast/pretrain_nl_0.02h"),
                                               ("0.04", "data_fast/pretrain_nl_0.04h")]
    assert plan.all_upstreams(opts, runs) == ["fbank"] + [
        f"exp_fast/upstreams/xling_{t}.yaml"
        for t in ("apc_fast_0.02h", "mpc_fast_0h", "mpc_fast_0.04h", "mpc_fast_twin_0.04h")]
    assert exps(opts) == ["exp_fast/asr_fbank_es", "exp_fast/asr_xling_apc_fast_0.02h_es",
                          "exp_fast/asr_xling_mpc_fast_0h_es", "exp_fast/asr_xling_mpc_fast_0.04h_es",
                          "exp_fast/asr_xling_mpc_fast_twin_0.04h_es"]
    run = plan.asr_runs(opts)[1]
    assert run.row() == (
        "fbank 1 conf/asr/train_asr_fast.yaml es exp_fast/asr_fbank_es data_fast/train_es "
        "data_fast/dev_es data_fast/token_list/es_char fbank train_asr_fast true valid.acc.ave.pth "
        "exp_fast/asr_fbank_es/decode_ctc_greedy test_es test_es_snr10_babble test_es_snr10_pink "
        "test_es_tel8k")
    assert plan.cache_root(opts, "exp_fast/upstreams/xling_apc_fast_0.02h.yaml") == \
        "dump/feats/xling_apc_fast_0.02h"


def test_seed_suffix_only_for_seeds_other_than_seed():
    opts = options(seeds="1 2")
    assert exps(opts) == [
        "exp_fast/asr_fbank_es", "exp_fast/asr_fbank_es_seed2",
        "exp_fast/asr_xling_apc_fast_0.02h_es", "exp_fast/asr_xling_mpc_fast_0h_es",
        "exp_fast/asr_xling_mpc_fast_0.04h_es", "exp_fast/asr_xling_mpc_fast_twin_0.04h_es",
        "exp_fast/asr_xling_apc_fast_0.02h_es_seed2", "exp_fast/asr_xling_mpc_fast_0h_es_seed2",
        "exp_fast/asr_xling_mpc_fast_0.04h_es_seed2",
        "exp_fast/asr_xling_mpc_fast_twin_0.04h_es_seed2"]
    runs = plan.asr_runs(opts)
    seed2 = [r for r in runs if r.seed == "2" and r.lang == "es"]
    # rows and probes name the upstream without its seed suffix, so that the seeds group
    assert [r.tag for r in seed2] == ["fbank", "xling_apc_fast_0.02h", "xling_mpc_fast_0h",
                                      "xling_mpc_fast_0.04h", "xling_mpc_fast_twin_0.04h"]
    assert seed2[1].upstream == "exp_fast/upstreams/xling_apc_fast_0.02h_seed2.yaml"
    # the probe uses the first seed's models
    pairs = plan.probe_pairs(opts, plan.recipe_pretrain_runs(opts), "exp_fast/probe", "nl")
    assert pairs[3::4] == ["exp_fast/probe/fbank/nl", "exp_fast/probe/xling_apc_fast_0.02h/nl",
                           "exp_fast/probe/xling_mpc_fast_0h/nl", "exp_fast/probe/xling_mpc_fast_0.04h/nl",
                           "exp_fast/probe/xling_mpc_fast_twin_0.04h/nl"]
    # --seed 3 of --seeds "1 3": seed 1 is the one suffixed (as a string: "01" is not "1")
    assert exps(options(seeds="1 3", seed="3", pretrain_configs=""), "nl") == [
        "exp_fast/asr_fbank_nl_seed1", "exp_fast/asr_fbank_nl"]
    assert plan.seed_suffix(options(seed="1"), "01") == "_seed01"


def test_head_suffix_only_for_heads_other_than_the_first():
    opts = options(asr_configs=f"{ASR} {CTC}", pretrain_configs="", seeds="1 2")
    runs = [r for r in plan.asr_runs(opts) if r.lang == "nl"]
    assert [(r.exp, r.head, r.main_head, r.model) for r in runs] == [
        ("exp_fast/asr_fbank_nl", "train_asr_fast", True, "valid.acc.ave.pth"),
        ("exp_fast/asr_fbank_nl_train_asr_ctc_head_fast", "train_asr_ctc_head_fast", False,
         "valid.cer_ctc.ave.pth"),
        ("exp_fast/asr_fbank_nl_seed2", "train_asr_fast", True, "valid.acc.ave.pth"),
        ("exp_fast/asr_fbank_nl_train_asr_ctc_head_fast_seed2", "train_asr_ctc_head_fast", False,
         "valid.cer_ctc.ave.pth")]
    # the other head first: it is the main head then
    swapped = options(asr_configs=f"{CTC} {ASR}", pretrain_configs="")
    assert exps(swapped, "nl") == ["exp_fast/asr_fbank_nl",
                                   "exp_fast/asr_fbank_nl_train_asr_fast"]
    assert plan.inference_model(options(inference_model="valid.loss.best.pth"), CTC) == \
        "valid.loss.best.pth"


def test_cap_and_asr_tag_and_token_type():
    opts = options(train_max_hours="0.25", asr_tag="t1", token_type="bpe", pretrain_configs="",
                   asr_configs=f"{ASR} {CTC}", seeds="1 2", inference_tag="dec")
    runs = [r for r in plan.asr_runs(opts) if r.lang == "es"]
    assert [r.exp for r in runs] == [
        "exp_fast/asr_fbank_es_max0.25h_t1", "exp_fast/asr_fbank_es_max0.25h_t1_train_asr_ctc_head_fast",
        "exp_fast/asr_fbank_es_max0.25h_t1_seed2",
        "exp_fast/asr_fbank_es_max0.25h_t1_train_asr_ctc_head_fast_seed2"]
    assert {r.tag for r in runs} == {"fbank_t1"}
    assert runs[0].train_dir == "data_fast/train_es_max0.25h"
    assert runs[0].token_dir == "data_fast/token_list/es_max0.25h_bpe"
    assert runs[0].decode_dir == "exp_fast/asr_fbank_es_max0.25h_t1/dec"
    assert plan.data_dirs(opts, ["train", "dev"]) == [
        "data_fast/train_nl_max0.25h", "data_fast/dev_nl", "data_fast/train_es_max0.25h",
        "data_fast/dev_es"]


def test_pretrain_tags_of_arms_amounts_and_seeds():
    opts = options(pretrain_configs="conf/pretrain/mpc_fast.yaml:0,0.04 conf/pretrain/apc_fast.yaml",
                   pretrain_hours="0.02 all", pretrain_arms="twin paired", seeds="2 1")
    runs = plan.recipe_pretrain_runs(opts)
    assert [plan.pretrain_tag(opts, r) for r in runs][:8] == [
        "mpc_fast_0h_seed2", "mpc_fast_0.04h_seed2", "mpc_fast_twin_0.04h_seed2",
        "mpc_fast_paired_0.04h_seed2", "apc_fast_0.02h_seed2", "apc_fast_allh_seed2",
        "mpc_fast_0h", "mpc_fast_0.04h"]
    assert plan.pretrain_data(opts, "all") == "data_fast/pretrain_nl"
    # the first seed's (2) models are probed
    assert plan.probe_upstreams(opts, runs)[1] == "exp_fast/upstreams/xling_mpc_fast_0h_seed2.yaml"
    assert plan.base_tag(opts, "exp_fast/upstreams/xling_mpc_fast_0h_seed2.yaml", "2") == \
        "xling_mpc_fast_0h"


def test_arm_seeds_train_those_arms_once_per_seed_and_the_others_once():
    """The default experiment's shape: the twin and the joint model with three seeds, the
    controls (fbank, random init, APC) and the paired arm once, with --seed."""
    opts = options(pretrain_configs="conf/pretrain/apc_fast.yaml:0.02 conf/pretrain/mpc_fast.yaml:0,0.04",
                   pretrain_arms="twin paired", arm_seeds="twin=1,2,3 joint=3,1,2", languages="es")
    runs = plan.recipe_pretrain_runs(opts)
    assert [(plan.pretrain_tag(opts, r), r.system) for r in runs] == [
        ("apc_fast_0.02h", "apc"), ("mpc_fast_0h", "random_init"), ("mpc_fast_0.04h", "joint"),
        ("mpc_fast_twin_0.04h", "twin"), ("mpc_fast_paired_0.04h", "paired"),
        ("mpc_fast_0.04h_seed2", "joint"), ("mpc_fast_twin_0.04h_seed2", "twin"),
        ("mpc_fast_0.04h_seed3", "joint"), ("mpc_fast_twin_0.04h_seed3", "twin")]
    asr = [(r.tag, r.seed) for r in plan.asr_runs(opts)]
    assert asr[0] == ("fbank", "1") and [t for t, _ in asr].count("fbank") == 1
    assert [s for t, s in asr if t == "xling_mpc_fast_twin_0.04h"] == ["1", "2", "3"]
    assert [s for t, s in asr if t == "xling_mpc_fast_paired_0.04h"] == ["1"]
    # each system probed once, with the first of its seeds (joint: 3)
    probed = plan.probe_upstreams(opts, runs)
    assert "exp_fast/upstreams/xling_mpc_fast_0.04h_seed3.yaml" in probed and len(probed) == 6
    assert "--out_dir" in plan.probe_pairs(opts, runs, "exp_fast/probe", "es")
    assert "exp_fast/probe/xling_mpc_fast_0.04h/es" in plan.probe_pairs(opts, runs, "exp_fast/probe", "es")
    # fbank takes its seeds from --arm_seeds too
    assert [r.seed for r in plan.asr_runs(options(pretrain_configs="", arm_seeds="fbank=4,5",
                                                  languages="es"))] == ["4", "5"]


@pytest.mark.parametrize("value, message", [
    ("twin", "--arm_seeds entry 'twin' is not ARM=S1"),
    ("twin=1,x", "--arm_seeds entry 'twin=1,x' is not ARM=S1"),
    ("twin=1 twin=2", "arm 'twin' is given twice"),
])
def test_bad_arm_seeds(value, message):
    with pytest.raises(ConfigError, match=message):
        stages.check(options(arm_seeds=value, stop_stage=4))


def test_stem_is_basename_without_yaml():
    assert plan.stem("conf/asr/train_asr_fast.yaml") == "train_asr_fast"
    assert plan.stem("fbank") == "fbank"
    assert plan.stem("a/b.yml") == "b.yml"


# --- languages ----------------------------------------------------------------------------------

def test_lang_data_joins_the_languages_and_leaves_local_data_sh_the_rest(tmp_path):
    opts = options(languages="es", lang_data=f"sw=kaldi:{tmp_path} xx=fleurs:{tmp_path}/a:b",
                   probe_languages="nl xx")
    assert plan.lang_data_entries(opts.lang_data, check_paths=False) == [
        ("sw", "kaldi", str(tmp_path)), ("xx", "fleurs", f"{tmp_path}/a:b")]
    assert plan.evaluation_languages(opts) == ["es", "sw", "xx"]
    assert plan.local_languages(opts) == ["nl", "es"]
    assert plan.local_languages(options(languages="", lang_data="sw=kaldi:/x",
                                        pretrain_lang="es")) == ["es", "nl"]
    # a code already in --languages is not added twice
    assert plan.evaluation_languages(options(languages="es sw", lang_data="sw=kaldi:/x")) == \
        ["es", "sw"]


@pytest.mark.parametrize("entry, message", [
    ("sw:kaldi", "--lang_data entry 'sw:kaldi' is not CODE=KIND:PATH (e.g. sw=fleurs:/data/fleurs/sw_ke)"),
    ("Sw=kaldi:/x", "--lang_data entry 'Sw=kaldi:/x' is not CODE=KIND:PATH"),
    ("sw=kaldi:", "--lang_data entry 'sw=kaldi:' is not CODE=KIND:PATH"),
    ("sw=fleurs:/no/such/sw_ke", "--lang_data entry 'sw=fleurs:/no/such/sw_ke': /no/such/sw_ke does not exist"),
])
def test_bad_lang_data_entries(entry, message):
    with pytest.raises(ConfigError) as e:
        plan.lang_data_entries(entry, check_paths=True)
    assert str(e.value).startswith(message)
    if "exist" in message:  # only stage 1 reads the paths
        assert plan.lang_data_entries(entry) == [("sw", "fleurs", "/no/such/sw_ke")]


def test_babble_sources_are_other_language_speech():
    opts = options(languages="nl es cs")
    assert plan.babble_sources(opts, "nl") == ["data_fast/train_es", "data_fast/train_cs"]
    assert plan.babble_sources(opts, "es") == ["data_fast/train_nl", "data_fast/train_cs",
                                               "data_fast/dev_nl"]
    # uncapped training sets; a --lang_data language is babble too
    capped = options(languages="es", lang_data="sw=kaldi:/x", train_max_hours="1")
    assert plan.babble_sources(capped, "es") == ["data_fast/train_sw", "data_fast/dev_nl"]


def test_conditions_from_the_degradation_config():
    assert plan.conditions(options(conditions=None, degrade_config="conf/degrade/quick.yaml")) == \
        ["snr10_babble", "snr10_pink", "tel8k"]
    assert plan.conditions(options(conditions=None)) == []
    assert plan.test_sets(options(conditions=""), "es") == ["test_es"]


def test_probes_of_stage_9():
    assert [p.program + " " + p.lang for p in plan.probes(options(pr_updates="100"))] == [
        "phone_probe nl", "phone_probe es", "phone_recognition nl", "phone_recognition es"]
    assert plan.probes(options(pr_updates="0", probe_languages="es")) == [
        ("phone_probe", "es", "exp_fast/probe", "data_fast/test_es/text")]
    assert plan.probes(options(probe_languages="", train_max_hours="1"))[1].src == \
        "data_fast/train_es_max1h, data_fast/test_es"


# --- stage steps --------------------------------------------------------------------------------

def test_check_gives_the_settings_and_refuses_bad_seeds_and_encoder_inputs():
    settings = dict(stages.check(options(stop_stage=4, conditions=None,
                                         degrade_config="conf/degrade/quick.yaml")))
    assert settings["languages"] == "nl es" and settings["conditions"] == "snr10_babble snr10_pink tel8k"
    assert settings["inference_tag"] == "decode_ctc_greedy" and settings["ngpu_inference"] == "0"
    assert settings["probe_upstreams"].split()[:2] == [
        "fbank", "exp_fast/upstreams/xling_apc_fast_0.02h.yaml"]
    with pytest.raises(ConfigError, match="--seed/--seeds value 'x' is not a non-negative integer"):
        stages.check(options(seeds="1 x", stop_stage=4))
    with pytest.raises(ConfigError, match="--encoder_input 'convs': one of conv, stack"):
        stages.check(options(encoder_input="convs", stop_stage=4))
    with pytest.raises(ConfigError, match="--encoder_frame_ms 'x'"):
        stages.check(options(encoder_frame_ms="x", stop_stage=4))


def test_training_arguments():
    opts = options()
    twin = plan.recipe_pretrain_runs(opts)[3]
    with pytest.raises(DataDirError, match="data_fast/pretrain_nl_0.04h/phones missing: run stage 2"):
        stages.pretrain_args(opts, twin)
    apc = plan.recipe_pretrain_runs(opts)[0]
    assert stages.pretrain_args(opts, apc, stats=True) == [
        "--train_data_path_and_name_and_type", "data_fast/pretrain_nl_0.02h/wav.scp,speech,sound",
        "--valid_data_path_and_name_and_type", "data_fast/dev_nl/wav.scp,speech,sound",
        "--config", "conf/pretrain/apc_fast.yaml"]
    assert stages.pretrain_args(opts, apc)[4:] == [
        "--train_shape_file", "exp_fast/pretrain_apc_fast_0.02h/stats/train/speech_shape",
        "--valid_shape_file", "exp_fast/pretrain_apc_fast_0.02h/stats/valid/speech_shape",
        "--use_tensorboard", "true", "--config", "conf/pretrain/apc_fast.yaml"]


def test_text_arm_arguments(tmp_path):
    opts = options(datadir=str(tmp_path))
    for d in ("pretrain_nl_0.04h", "dev_nl"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "phones").write_text("")
    _, _, joint, twin = plan.recipe_pretrain_runs(opts)
    args = stages.pretrain_args(opts, twin, stats=True)
    assert args[4:] == [
        "--train_data_path_and_name_and_type", f"{tmp_path}/pretrain_nl_0.04h/phones,text,text",
        "--train_data_path_and_name_and_type",
        f"{tmp_path}/pretrain_nl_0.04h/unpaired_phones,unpaired,text",
        "--valid_data_path_and_name_and_type", f"{tmp_path}/dev_nl/phones,text,text",
        "--valid_data_path_and_name_and_type", f"{tmp_path}/dev_nl/unpaired_phones,unpaired,text",
        "--model_conf", f"phone_list={tmp_path}/token_list/nl_phones_ipa/tokens.txt",
        "--model_conf", f"phone_durations={tmp_path}/token_list/nl_phones_ipa/durations.json",
        "--model_conf", "text_weight=0.0", "--model_conf", "paired_weight=0.0",
        "--config", "conf/pretrain/mpc_fast.yaml"]
    assert "text_weight=0.0" not in stages.pretrain_args(opts, joint, stats=True)


def test_asr_arguments(tmp_path):
    opts = options(datadir=str(tmp_path), pretrain_configs="")
    run = plan.asr_runs(opts)[1]
    with pytest.raises(DataDirError, match="token_list/es_char/tokens.txt missing: run stage 2"):
        stages.asr_train_args(opts, run)
    (tmp_path / "token_list" / "es_char").mkdir(parents=True)
    (tmp_path / "token_list" / "es_char" / "tokens.txt").write_text("<blank>\n")
    stats = stages.asr_train_args(opts, run, stats=True)
    assert stats[:6] == ["--use_preprocessor", "true", "--token_type", "char", "--token_list",
                         f"{tmp_path}/token_list/es_char/tokens.txt"]
    assert stats[-8:] == [
        "--train_data_path_and_name_and_type", f"{tmp_path}/train_es/text,text,text",
        "--valid_data_path_and_name_and_type", f"{tmp_path}/dev_es/text,text,text",
        "--fold_length", "150", "--config", ASR]
    train = stages.asr_train_args(opts, run)
    assert train[:len(stats) - 2] == stats[:-2]
    assert train[len(stats) - 2:] == [
        "--train_shape_file", "exp_fast/asr_fbank_es/stats/train/speech_shape",
        "--train_shape_file", "exp_fast/asr_fbank_es/stats/train/text_shape.char",
        "--valid_shape_file", "exp_fast/asr_fbank_es/stats/valid/speech_shape",
        "--valid_shape_file", "exp_fast/asr_fbank_es/stats/valid/text_shape.char",
        "--normalize", "global_mvn",
        "--normalize_conf", "stats_file=exp_fast/asr_fbank_es/stats/train/feats_stats.npz",
        "--use_tensorboard", "false", "--config", ASR]


def test_probe_arguments(tmp_path):
    opts = options(datadir=str(tmp_path), pretrain_configs="", probe_num_utts="10",
                   pr_updates="100")
    with pytest.raises(DataDirError, match="test_nl/text missing: the probe reads its sentences"):
        stages.probe_args(opts, "phone_probe", "nl")
    (tmp_path / "test_nl").mkdir()
    (tmp_path / "test_nl" / "text").write_text("")
    assert stages.probe_args(opts, "phone_probe", "nl") == [
        "--upstream", "fbank", "--out_dir", "exp_fast/probe/fbank/nl", "--lang", "nl",
        "--text", f"{tmp_path}/test_nl/text", "--num_utts", "10",
        "--synth_dir", "exp_fast/probe/synth_nl", "--voice", "nl,nl+f2,nl+m3", "--seed", "1"]
    assert stages.probe_args(opts, "phone_recognition", "es") == [
        "--upstream", "fbank", "--out_dir", "exp_fast/phone_recognition/fbank/es", "--lang", "es",
        "--train_dir", f"{tmp_path}/train_es", "--test_dir", f"{tmp_path}/test_es",
        "--updates", "100", "--seed", "1"]
    assert "nl,--voice" not in " ".join(stages.probe_args(
        options(datadir=str(tmp_path), probe_variants=""), "phone_probe", "nl"))


def write_test_set(root: Path, name: str, utts: dict) -> None:
    d = root / name
    d.mkdir(parents=True)
    (d / "wav.scp").write_text("".join(f"{u} /audio/{u}.wav\n" for u in utts))
    (d / "text").write_text("".join(f"{u} {t}\n" for u, t in utts.items()))


def test_decode_prepare_splits_the_sets_and_merge_sorts_as_c_sort(tmp_path):
    data, exp = tmp_path / "data", tmp_path / "exp"
    utts = {f"spk{i}-u{i}": f"word {i}" for i in range(5)}
    for name in ("test_es", "test_es_tel8k"):
        write_test_set(data, name, utts)
    write_test_set(data, "test_es_snr10_pink", dict(list(utts.items())[:2]))
    opts = options(datadir=str(data), expdir=str(exp), pretrain_configs="",
                   conditions="snr10_pink tel8k", inference_nj=3)
    run = plan.asr_run(opts, "fbank", "1", ASR, "es")
    with pytest.raises(DataDirError, match="valid.acc.ave.pth missing: run stage 6"):
        stages.decode_prepare(opts, run)
    Path(run.exp).mkdir(parents=True)
    (Path(run.exp) / "valid.acc.ave.pth").write_bytes(b"")
    (Path(run.decode_dir) / "test_es_tel8k").mkdir(parents=True)
    (Path(run.decode_dir) / "test_es_tel8k" / ".done").touch()
    (Path(run.decode_dir) / "logdir").mkdir()
    (Path(run.decode_dir) / "logdir" / "sets.7").write_text("stale\n")
    nj, todo = stages.decode_prepare(opts, run)
    assert (nj, todo) == (2, ["test_es", "test_es_snr10_pink"])  # the 2-utterance set caps the jobs
    logdir = Path(run.decode_dir) / "logdir"
    assert sorted(p.name for p in logdir.iterdir()) == ["sets.1", "sets.2"]
    d = run.decode_dir
    assert (logdir / "sets.2").read_text() == (
        f"{d}/test_es/logdir/output.2 {d}/test_es/logdir/keys.2.scp "
        f"{data}/test_es/wav.scp,speech,sound\n"
        f"{d}/test_es_snr10_pink/logdir/output.2 {d}/test_es_snr10_pink/logdir/keys.2.scp "
        f"{data}/test_es_snr10_pink/wav.scp,speech,sound\n")
    assert (Path(d) / "test_es" / "logdir" / "keys.1.scp").read_text().count("\n") == 3
    # the jobs' outputs: unsorted, one hypothesis empty; merged by utterance, bytewise
    for name, parts in (("test_es", ["b x\na2 y\n", "a10 z\nA w\n"]),
                        ("test_es_snr10_pink", ["u2 \n", "u1 q\n"])):
        for j, part in enumerate(parts, 1):
            out = Path(d) / name / "logdir" / f"output.{j}" / "1best_recog"
            out.mkdir(parents=True)
            (out / "text").write_text(part)
    stages.decode_merge(opts, run, nj, todo)
    assert (Path(d) / "test_es" / "text").read_text() == "A w\na10 z\na2 y\nb x\n"
    assert (Path(d) / "test_es_snr10_pink" / "text").read_text() == "u1 q\nu2 \n"
    assert (Path(d) / "test_es" / ".done").exists()
    assert stages.decode_prepare(opts, run) == (0, [])


def test_score_all_writes_each_summary_with_its_row_fields(tmp_path):
    data, exp = tmp_path / "data", tmp_path / "exp"
    utts = {"u1": "hola mundo", "u2": "buenos dias"}
    opts = options(datadir=str(data), expdir=str(exp), pretrain_configs="", languages="es",
                   degrade_config="conf/degrade/quick.yaml", conditions="snr10_pink tel8k",
                   asr_configs=f"{ASR} {CTC}", asr_tag="t")
    for run in plan.asr_runs(opts):
        for name in run.test_sets:
            if not (data / name).exists():
                write_test_set(data, name, utts)
            (Path(run.decode_dir) / name).mkdir(parents=True)
            (Path(run.decode_dir) / name / "text").write_text("u1 hola\nu2 buenos dias\n")
    done = Path(plan.asr_runs(opts)[0].decode_dir) / "test_es" / "score" / ".done"
    done.parent.mkdir()
    done.touch()
    stages.score_all(opts)
    assert not (done.parent / "summary.json").exists()  # done: skipped
    summary = json.loads((Path(plan.asr_runs(opts)[1].decode_dir) / "test_es_tel8k" / "score" /
                          "summary.json").read_text())
    assert summary["meta"] == {
        "upstream": "fbank_t", "seed": "1", "test_set": "test_es_tel8k", "condition": "tel8k",
        "train_set": "train_es", "decode": "decode_ctc_greedy", "encoder_frame_ms": "40",
        "encoder_input": "conv1d", "head": "train_asr_ctc_head_fast", "main_head": "false"}
    assert list(summary["meta"]) == ["upstream", "seed", "test_set", "condition", "train_set",
                                     "decode", "encoder_frame_ms", "encoder_input", "head",
                                     "main_head"]
    noisy = json.loads((Path(plan.asr_runs(opts)[0].decode_dir) / "test_es_snr10_pink" / "score" /
                        "summary.json").read_text())  # additive noise: its kind and SNR (the plots')
    assert (noisy["meta"]["condition"], noisy["meta"]["noise"], noisy["meta"]["snr_db"]) == (
        "snr10_pink", "pink", 10.0)


def test_recipe_plan_cli_prints_rows_and_one_error_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    cmd = [sys.executable, "-m", "espnet_ext.bin.recipe_plan"]
    common = ["--languages", "es", "--pretrain_configs", "", "--asr_configs", ASR,
              "--inference_config", "conf/decode/decode_ctc_greedy.yaml", "--stop_stage", "4"]
    rows = subprocess.run(cmd + ["asr_runs", *common, "--conditions", ""], capture_output=True,
                          text=True, env=env, cwd=REPO_ROOT, check=True).stdout.splitlines()
    assert rows == ["fbank 1 conf/asr/train_asr_fast.yaml es exp/asr_fbank_es data/train_es "
                    "data/dev_es data/token_list/es_char fbank train_asr_fast true "
                    "valid.acc.ave.pth exp/asr_fbank_es/decode_ctc_greedy test_es"]
    bad = subprocess.run(cmd + ["check", *common, "--lang_data", "sw:kaldi"], capture_output=True,
                         text=True, env=env, cwd=REPO_ROOT)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip().endswith(
        "Error: --lang_data entry 'sw:kaldi' is not CODE=KIND:PATH (e.g. sw=fleurs:/data/fleurs/sw_ke)")
    assert len(bad.stderr.strip().splitlines()) == 1


def test_recipe_options_default_to_xling_sh_defaults():
    """RecipeOptions (Python callers, tests) and xling.sh (the recipes) agree on every default;
    xling.sh passes all of them to the plan, so a default changed in one place only would give
    Python callers another plan than the recipe's."""
    import shlex

    script = (REPO_ROOT / "egs2" / "TEMPLATE" / "xling1" / "xling.sh").read_text(encoding="utf-8")
    top = script[:script.index("help_message=")]
    defaults = {}
    for line in top.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.isidentifier() and name == name.lower():
            words = shlex.split(value, comments=True)
            defaults[name] = words[0] if words else ""
    checked = 0
    for field in fields(RecipeOptions):
        if field.name == "conditions":  # read from --degrade_config, not an option of xling.sh
            continue
        assert field.name in defaults, f"--{field.name} is not an option of xling.sh"
        value = field.default
        shown = str(value).lower() if isinstance(value, bool) else str(value)
        assert shown == defaults[field.name], field.name
        checked += 1
    assert checked == len(fields(RecipeOptions)) - 1


def test_default_experiment_plan(tmp_path):
    """The default run.sh's options give the experiment in miniature: five non-Germanic
    languages, fbank, APC, the random-init control and the three mpc arms, the twin and the
    joint model with three seeds, the other systems once, one head for all."""
    recipe = REPO_ROOT / "egs2" / "offline_mini" / "xling1"
    (tmp_path / "run.sh").write_bytes((recipe / "run.sh").read_bytes())
    (tmp_path / "xling.sh").write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@"\n')
    os.chmod(tmp_path / "run.sh", 0o755)
    os.chmod(tmp_path / "xling.sh", 0o755)
    argv = subprocess.run(["./run.sh"], cwd=tmp_path, capture_output=True, text=True,
                          check=True).stdout.splitlines()
    given = {argv[i][2:]: argv[i + 1] for i in range(0, len(argv), 2)}
    names = {f.name for f in fields(RecipeOptions)}
    opts = RecipeOptions(**{k: v for k, v in given.items() if k in names and k != "train_jobs"},
                         conditions="snr10_babble snr10_pink tel8k")
    assert plan.evaluation_languages(opts) == ["cs", "es", "fr", "it", "ru"]
    runs = plan.recipe_pretrain_runs(opts)
    systems = sorted((r.system, r.seed) for r in runs)
    assert systems == [("apc", "1"), ("joint", "1"), ("joint", "2"), ("joint", "3"),
                       ("paired", "1"), ("random_init", "1"), ("twin", "1"), ("twin", "2"),
                       ("twin", "3")]
    asr = plan.asr_runs(opts, runs)
    assert len(asr) == (1 + len(runs)) * 5 and {r.head for r in asr} == {"train_asr_ctc_head"}
    assert "encoder_frame_ms" not in given and opts.encoder_frame_ms == "40"  # one rate for all
    assert all(len(r.test_sets) == 4 for r in asr)  # clean + three degraded conditions
