"""Stage-level integration: the default recipe's fast variant end to end on the real offline
corpus (Debian packages installed by tools/install.sh), then a rerun that must do no work.

This is the CI smoke run of the recipe: slow (minutes), but never skipped in CI.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Callable, Dict, List, Optional

import pytest

from tests.conftest import REPO_ROOT

RECIPE = REPO_ROOT / "egs2" / "offline_mini" / "xling1"
LANGS = "nl es"


def run_recipe(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = ["./run.sh", "--fast", "true", "--languages", LANGS, "--datadir", str(tmp / "data"),
           "--expdir", str(tmp / "exp"), "--dumpdir", str(tmp / "dump"), *args]
    proc = subprocess.run(cmd, cwd=RECIPE, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    (tmp / "log.txt").open("a").write(proc.stdout + proc.stderr)
    return proc


def missing_debian_data() -> bool:
    return not Path("/usr/share/games/fillets-ng/script").is_dir() or shutil.which("espeak-ng") is None


needs_corpora = pytest.mark.skipif(
    missing_debian_data() and not os.environ.get("CI"),
    reason="Debian corpora not installed (run tools/install.sh); never skipped in CI")


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory) -> Path:
    """One full fast run shared by the tests of this module (it takes minutes)."""
    tmp_path = tmp_path_factory.mktemp("fast_recipe")
    proc = run_recipe(tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return tmp_path


@pytest.mark.slow
@pytest.mark.timeout(3600)  # builds the shared fast run (about 10 min on 2 free cores)
@needs_corpora
def test_fast_recipe_end_to_end_then_rerun_does_nothing(fast_run):
    tmp_path = fast_run

    results = json.loads((tmp_path / "exp" / "results" / "results.json").read_text())
    # fbank plus every (pre-training config x amount) of the fast variant, on both languages
    pretrained = {"xling_apc_fast_0.02h", "xling_mpc_fast_0h",
                  "xling_mpc_fast_0.04h", "xling_mpc_fast_twin_0.04h"}
    # every upstream x language x (clean + the conditions of conf/degrade/quick.yaml)
    conditions = {"clean", "snr10_babble", "snr10_pink", "tel8k"}
    assert {(r["upstream"], r["language"], r["condition"]) for r in results} == {
        (u, lang, c) for u in {"fbank"} | pretrained for lang in ("nl", "es") for c in conditions}
    for r in results:
        assert r["num_utts"] > 0 and r["cer_lo"] <= r["cer"] <= r["cer_hi"]
    md = (tmp_path / "exp" / "results" / "RESULTS.md").read_text()
    assert "| fbank |" in md and "| xling_apc_fast_0.02h |" in md
    # stage 1: degraded copies of each test set, same utterances
    clean_ids = (tmp_path / "data" / "test_es" / "text").read_text().split("\n")[0].split()[0]
    assert (tmp_path / "data" / "test_es_tel8k" / "text").read_text().startswith(clean_ids)
    # stage 9: a probe per upstream x probe language; stage 10: significance and plots
    for name in {"fbank"} | pretrained:
        for lang in ("nl", "es"):
            probe = json.loads((tmp_path / "exp" / "probe" / name / lang / "probe.json").read_text())
            assert probe["layers"] and 0 < probe["chance"] < 1
    # stage 9: phone recognition on real speech per upstream x evaluation language
    for name in {"fbank"} | pretrained:
        for lang in ("nl", "es"):
            pr = json.loads((tmp_path / "exp" / "phone_recognition" / name / lang /
                             "result.json").read_text())
            assert pr["test_utts"] > 0 and pr["per"] >= 0 and pr["loss_last"] < pr["loss_first"]
    assert "## Phone recognition on real speech" in md
    sig = json.loads((tmp_path / "exp" / "results" / "significance.json").read_text())
    assert any(s["baseline"] == "xling_mpc_fast_twin_0.04h" and s["condition"] == "tel8k"
               for s in sig)
    assert any(s["baseline"] == "xling_mpc_fast_0h" and s["system"] == "xling_mpc_fast_twin_0.04h"
               for s in sig)
    for png in ("error_vs_snr_babble", "error_vs_snr_pink", "error_vs_pretrain_hours", "layer_weights",
                "probe_accuracy"):
        assert (tmp_path / "exp" / "results" / f"{png}.png").stat().st_size > 0
    # stages 3-4: nested amounts (apc's 0.02 h within mpc's 0.04 h), ESPnet training logs, exported upstream + config per run
    small, large = (set((tmp_path / "data" / f"pretrain_nl_{h}h" / "wav.scp").read_text()
                        .splitlines()) for h in ("0.02", "0.04"))
    assert small < large
    # text arms: phones of the transcripts and of unpaired corpus sentences, one phone list,
    # espeak-ng's phone durations
    pool = tmp_path / "data" / "pretrain_nl_0.04h"
    assert (pool / "phones").read_text().count("\n") == len(large)
    assert (pool / "unpaired_phones").read_text().count("\n") == len(large)
    phone_dir = tmp_path / "data" / "token_list" / "nl_phones_ipa"
    assert (phone_dir / "tokens.txt").read_text().startswith("<blank>\n<unk>\n")
    assert min(min(d) for d in json.loads((phone_dir / "durations.json").read_text()).values()) >= 1
    joint_log = (tmp_path / "exp" / "pretrain_mpc_fast_0.04h" / "train.log").read_text()
    twin_log = (tmp_path / "exp" / "pretrain_mpc_fast_twin_0.04h" / "train.log").read_text()
    assert "loss_text_mlm" in joint_log and "loss_paired_ctc" in joint_log
    assert "loss_text_mlm" not in twin_log and "loss_mpc" in twin_log
    for name in pretrained:
        assert (tmp_path / "exp" / "upstreams" / f"{name}.pt").stat().st_size > 0
        conf = (tmp_path / "exp" / "upstreams" / f"{name}.yaml").read_text()
        assert "upstream: xling_" in conf
        if not name.endswith("_0h"):  # the random-init control is not trained
            assert (tmp_path / "exp" / f"pretrain_{name[len('xling_'):]}" / "tensorboard").is_dir()
    summary = json.loads((tmp_path / "data" / "summary.json").read_text())
    assert summary  # the corpus summary was written
    # stage 1 built the languages this run needs (nl es), none of the corpus's four others
    assert sorted(p.name for p in (tmp_path / "data").glob("test_??")) == ["test_es", "test_nl"]
    assert summary["options"]["languages"] == ["nl", "es"]
    for lang in ("nl", "es"):
        for split in ("train", "dev", "test"):
            assert (tmp_path / "data" / f"{split}_{lang}" / "wav.scp").exists()
    assert (tmp_path / "data" / "pretrain_text_nl" / "sentences.txt").stat().st_size > 0
    per_utt = next((tmp_path / "exp").glob("asr_fbank_es/*/test_es/score/per_utt.tsv"))
    fbank_es = next(r for r in results
                    if (r["upstream"], r["language"], r["condition"]) == ("fbank", "es", "clean"))
    assert per_utt.read_text().count("\n") == fbank_es["num_utts"] + 1
    assert "REF:" in (per_utt.parent / "alignments.txt").read_text()

    model = tmp_path / "exp" / "asr_fbank_es" / "valid.acc.ave.pth"
    mtime = model.stat().st_mtime_ns
    probe_file = tmp_path / "exp" / "probe" / "xling_apc_fast_0.02h" / "es" / "probe.json"
    probe_mtime = probe_file.stat().st_mtime_ns
    rerun = run_recipe(tmp_path, "--stage", "2")
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    out = rerun.stdout + rerun.stderr
    assert "Stage 6: ASR training" not in out and "Stage 7: decoding" not in out
    assert "Stage 3: pre-training" not in out and "Stage 4: export" not in out
    assert "Stage 9: phone probe" in out  # the stage ran, but its finished probes were kept:
    assert probe_file.stat().st_mtime_ns == probe_mtime
    assert out.count("skipping") >= 8  # tokens, training, decoding, scoring for both languages
    assert model.stat().st_mtime_ns == mtime


STAGE_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d) \(xling\.sh:\d+:\w+\) Stage (\d+):",
                        re.MULTILINE)


def stage_seconds(log: str) -> Dict[int, float]:
    """Seconds from each stage's first log line to the next stage's (an uninterrupted run's log)."""
    starts: Dict[int, float] = {}
    for stamp, stage in STAGE_LINE.findall(log):
        starts.setdefault(int(stage), datetime.fromisoformat(stamp).timestamp())
    order = sorted(starts)
    return {s: (starts[n] - starts[s] if n is not None else 30.0)
            for s, n in zip(order, order[1:] + [None])}


def run_until_killed(cmd: List[str], log: Path, stage: int, delay: float,
                     kill_when: Optional[Callable[[], bool]] = None) -> bool:
    """Run ``cmd``; ``delay`` s after its first "Stage N:" line, or as soon as ``kill_when()``
    holds, kill -9 its whole process group.

    Returns False if the command finished first (it must then have succeeded).
    """
    offset = log.stat().st_size if log.exists() else 0
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, cwd=RECIPE, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True,
                                env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    started = None
    while proc.poll() is None:
        if started is None:
            with log.open("rb") as f:
                f.seek(offset)
                if f"Stage {stage}:".encode() in f.read():
                    started = time.time()
        if (started is not None and time.time() - started >= delay) or (
                kill_when is not None and kill_when()):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.1)
    assert proc.returncode == 0, log.read_text(errors="replace")[-3000:]
    return False


def results_files(root: Path) -> Dict[str, bytes]:
    """Every number a run reports: the report, each test set's scoring, each probe (run-relative
    paths in place of the run's root, which differs between two runs)."""
    exp = root / "exp"
    files = [*(exp / "results").iterdir(), *exp.glob("asr_*/*/test_*/score/*"),
             *exp.glob("asr_*/*/test_*/text"), *exp.glob("probe/*/*/probe.json"),
             *exp.glob("phone_recognition/*/*/result.json")]
    return {str(f.relative_to(root)): f.read_bytes().replace(str(root).encode(), b"<run>")
            for f in files if f.is_file()}


@pytest.mark.full
@pytest.mark.timeout(3600)
@needs_corpora
def test_second_run_killed_in_every_stage_ends_byte_identical(fast_run, tmp_path):
    """The fast recipe again, in a new place: each stage is killed -9 (whole process group) at
    about a third and two thirds of its uninterrupted duration, then the same command finishes
    it. Every results file equals the first run's byte for byte: reruns are exact, and a kill at
    any point neither corrupts an output nor changes a number."""
    durations = stage_seconds((fast_run / "log.txt").read_text(errors="replace"))
    assert sorted(durations) == list(range(1, 11)), durations
    log = tmp_path / "log.txt"
    base = ["./run.sh", "--fast", "true", "--languages", LANGS, "--datadir", str(tmp_path / "data"),
            "--expdir", str(tmp_path / "exp"), "--dumpdir", str(tmp_path / "dump")]
    # Where the time-based kills land depends on the machine's load (on an idle one both can
    # fall in collect-stats), so the training stages are also killed right after the first epoch's
    # checkpoint: the finishing command must then resume a training, whatever the timing.
    checkpoints = {3: "pretrain_*/checkpoint.pth", 6: "asr_*/checkpoint.pth"}
    kills = 0
    for stage, seconds in durations.items():
        cmd = base + ["--stage", str(stage), "--stop_stage", str(stage)]
        if stage in checkpoints:
            pattern = checkpoints[stage]
            assert run_until_killed(cmd, log, stage, float("inf"),
                                    lambda: any((tmp_path / "exp").glob(pattern))), \
                f"stage {stage} ended before any training wrote a checkpoint"
            kills += 1
        for fraction in (1 / 3, 2 / 3):
            kills += run_until_killed(cmd, log, stage, max(0.5, fraction * seconds))
        assert not run_until_killed(cmd, log, stage, float("inf"))  # the same command finishes
    assert kills >= 12, f"only {kills} kills landed before their stage ended"

    first, second = results_files(fast_run), results_files(tmp_path)
    assert len(first) > 100 and sorted(first) == sorted(second)
    differ = [name for name in first if first[name] != second[name]]
    assert not differ, f"{len(differ)} results files differ, e.g. {differ[:5]}"
    # killed trainings continued from their checkpoints (no finished epoch was trained twice)
    assert "The training was resumed" in "".join(
        p.read_text() for p in (tmp_path / "exp").glob("*/train.log"))


# One failure point per stage (espnet_ext/faults.py lists them all), each where the stage has
# written part of its outputs but not their .done marker. Stage 6 gets a real kill -9 instead.
FAIL_POINTS = {1: "degraded_wavs", 2: "token_list", 3: "saving_1epoch.pth", 4: "export",
               5: "feature_cache", 7: "decoded", 8: "scored", 9: "probe_result",
               10: "report_tables"}


@pytest.mark.slow
@pytest.mark.timeout(3600)
@needs_corpora
def test_second_run_crashed_in_every_stage_ends_byte_identical(fast_run, tmp_path):
    """The fast recipe again, in a new place, one stage at a time: each stage dies abruptly at a
    named failure point (XLING_FAIL_AT: the whole process group gets SIGKILL, as under kill -9),
    and stage 6 is killed -9 from outside right after a training's first checkpoint; then the same
    command finishes the stage. Every results file equals the first run's byte for byte: reruns
    are exact, and a crash neither corrupts an output nor changes a number.

    To save time this run trains the text-arm systems only (fbank, the joint mpc model and its
    audio-only twin: the pre-training with text, the most to crash), on the same data: each of
    their test sets' and probes' results must equal the fast run's, and its report (of fewer
    systems, so not the fast run's) must equal an uninterrupted rerun of stage 10. (One language
    instead would not do: a test set's babble noise is the other languages' speech.)"""
    log = tmp_path / "log.txt"
    systems = ("fbank", "xling_mpc_fast_0.04h", "xling_mpc_fast_twin_0.04h")
    base = ["./run.sh", "--fast", "true", "--languages", LANGS, "--datadir", str(tmp_path / "data"),
            "--expdir", str(tmp_path / "exp"), "--dumpdir", str(tmp_path / "dump"),
            "--pretrain_configs", "conf/pretrain/mpc_fast.yaml:0.04"]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    for stage in range(1, 11):
        cmd = base + ["--stage", str(stage), "--stop_stage", str(stage)]
        if stage == 6:
            assert run_until_killed(cmd, log, stage, float("inf"),
                                    lambda: any((tmp_path / "exp").glob("asr_*/checkpoint.pth"))), \
                "stage 6 ended before any training wrote a checkpoint"
        else:
            point = f"{stage}:{FAIL_POINTS[stage]}"
            crashed = subprocess.run(cmd, cwd=RECIPE, capture_output=True, text=True,
                                     env={**env, "XLING_FAIL_AT": point}, start_new_session=True)
            log.open("a").write(crashed.stdout + crashed.stderr)
            # steps run through run.pl or ESPnet's launcher print into their own logs
            said = crashed.stderr + "".join(p.read_text(errors="replace")
                                            for p in tmp_path.glob("*/**/*.log"))
            assert crashed.returncode == -signal.SIGKILL and f"injected failure at {point}" in said, \
                f"failure point {point} was not reached: " + crashed.stderr[-3000:]
        finished = subprocess.run(cmd, cwd=RECIPE, capture_output=True, text=True, env=env)
        log.open("a").write(finished.stdout + finished.stderr)
        assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]

    report = {k: v for k, v in results_files(tmp_path).items() if k.startswith("exp/results/")}
    rerun = subprocess.run(base + ["--stage", "10"], cwd=RECIPE, capture_output=True, text=True,
                           env=env)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    second = results_files(tmp_path)
    assert len(report) > 5 and report == {k: v for k, v in second.items() if k in report}
    of_systems = re.compile(r"^exp/(asr_(%s)_[a-z]+|(probe|phone_recognition)/(%s))/" % (
        ("|".join(map(re.escape, systems)),) * 2))
    first = {k: v for k, v in results_files(fast_run).items() if of_systems.search(k)}
    second = {k: v for k, v in second.items() if k not in report}
    assert len(first) > 50 and sorted(first) == sorted(second)
    differ = [name for name in first if first[name] != second[name]]
    assert not differ, f"{len(differ)} results files differ, e.g. {differ[:5]}"
    # the crashed trainings continued from their checkpoints (no finished epoch was trained twice)
    for runs in ("pretrain_*", "asr_*"):
        assert "The training was resumed" in "".join(
            p.read_text() for p in (tmp_path / "exp").glob(f"{runs}/train.log")), runs


@pytest.mark.slow
@needs_corpora
def test_upstream_sweep_frozen_cached_and_fine_tuned(fast_run, tmp_path):
    """Off-the-shelf upstreams through the shipped configs (tiny checkpoints in their real
    formats): apc frozen from the feature cache, wav2vec2 fine-tuned through ESPnet's s3prl
    frontend, both scored; a changed checkpoint gets a new cache instead of the stale one. (Each
    family's own contract, frozen and fine-tuned, is checked in tests/upstream.)"""
    from tests.upstream.fixtures import build_apc, build_wav2vec2

    ckpts = tmp_path / "ckpts"
    ckpts.mkdir()
    build_apc(ckpts / "apc_360hr.ckpt")
    build_wav2vec2(ckpts / "wav2vec_small.pt")
    fine_tuned = tmp_path / "wav2vec2_ft.yaml"
    fine_tuned.write_text("upstream: wav2vec2_local\npath: ${XLING_CKPT_DIR}/wav2vec_small.pt\n"
                          "frozen: false\n")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "XLING_CKPT_DIR": str(ckpts)}
    base = ["./run.sh", "--fast", "true", "--languages", "es", "--datadir", str(fast_run / "data"),
            "--expdir", str(tmp_path / "exp"), "--dumpdir", str(tmp_path / "dump"),
            "--pretrain_configs", "", "--degrade_config", "", "--probe_languages", "",
            "--pr_updates", "0"]

    def run(*args):
        proc = subprocess.run(base + list(args), cwd=RECIPE, capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc

    run("--stage", "5", "--upstreams", f"apc {fine_tuned}")
    rows = json.loads((tmp_path / "exp" / "results" / "results.json").read_text())
    assert {r["upstream"] for r in rows} == {"apc", "wav2vec2_ft"}
    assert all(r["language"] == "es" and r["num_utts"] > 0 for r in rows)
    # a fine-tuned upstream runs on the waveform: no cache
    assert not list((tmp_path / "dump" / "feats").glob("wav2vec2_ft/*/feats.scp"))

    caches = lambda: sorted((tmp_path / "dump" / "feats" / "apc").glob("train_es.*"))  # noqa: E731
    assert len(caches()) == 1
    run("--stage", "5", "--stop_stage", "5", "--upstreams", "apc")
    assert len(caches()) == 1  # same config + checkpoint + data: reused
    build_apc(ckpts / "apc_360hr.ckpt", dim=12)  # a different checkpoint under the same name
    run("--stage", "5", "--stop_stage", "5", "--upstreams", "apc")
    assert len(caches()) == 2  # new key, new cache; the stale one is never read

    # a second downstream head: its own runs and model selection, its rows and the ranking check
    heads = "conf/asr/train_asr_fast.yaml conf/asr/train_asr_ctc_head_fast.yaml"
    run("--stage", "6", "--upstreams", "fbank apc", "--asr_configs", heads)
    assert (tmp_path / "exp" / "asr_apc_es_train_asr_ctc_head_fast" / "valid.cer_ctc.ave.pth").exists()
    rows = json.loads((tmp_path / "exp" / "results" / "results.json").read_text())
    clean = {(r["upstream"], r["head"]) for r in rows if r["condition"] == "clean"}
    assert {("fbank", "train_asr_fast"), ("fbank@train_asr_ctc_head_fast", "train_asr_ctc_head_fast"),
            ("apc@train_asr_ctc_head_fast", "train_asr_ctc_head_fast")} <= clean
    assert all(r["encoder_frame_ms"] == "40" for r in rows if "@" in r["upstream"])
    agreement = (tmp_path / "exp" / "results" / "head_agreement.csv").read_text()
    assert agreement.startswith("language,head_a,head_b") and "\nes,train_asr_fast," in agreement


SWAHILI = ["habari ya asubuhi", "ninapenda kusoma vitabu", "watoto wanacheza mpira nje",
           "mvua inanyesha leo", "tafadhali fungua mlango", "chakula kiko tayari sasa",
           "mwalimu anafundisha darasa", "gari jekundu limesimama", "tunakwenda sokoni kesho",
           "maji ni baridi sana", "ndege wanaimba mtini", "mama anapika wali",
           "kitabu kiko mezani", "rafiki yangu anaishi mjini", "jua linawaka angani",
           "samaki wanaogelea ziwani", "baba anasoma gazeti", "simu yangu imeharibika",
           "tulikula ndizi jana", "mtoto analala kitandani", "nyumba yetu ni kubwa",
           "barabara ni ndefu sana", "paka amekaa dirishani", "wanafunzi wanaandika barua"]


def kaldi_dir_by_espeak(root: Path, voice: str, sentences, speakers=("sp1", "sp2")) -> Path:
    """A plain Kaldi data dir (22.05 kHz WAV from espeak-ng, two pitch 'speakers') per split."""
    rows = {"train": sentences[:-8], "dev": sentences[-8:-4], "test": sentences[-4:]}
    for split, texts in rows.items():
        d = root / split
        (d / "audio").mkdir(parents=True)
        wav_scp, text, utt2spk = [], [], []
        for i, sentence in enumerate(texts):
            spk = speakers[i % len(speakers)]
            utt = f"{spk}-{split}{i:03d}"
            wav = d / "audio" / f"{utt}.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-p", str(30 + 40 * (i % 2)), "-w", str(wav),
                            sentence], check=True)
            wav_scp.append(f"{utt} {wav}")
            text.append(f"{utt} {sentence}")
            utt2spk.append(f"{utt} {spk}")
        for name, lines in (("wav.scp", wav_scp), ("text", text), ("utt2spk", utt2spk)):
            (d / name).write_text("\n".join(sorted(lines)) + "\n")
    return root


@pytest.mark.slow
@needs_corpora
def test_new_language_from_a_kaldi_data_dir_only(fast_run, tmp_path):
    """Swahili, which the project ships nothing for: three Kaldi dirs and one option
    (--lang_data sw=kaldi:DIR) take it through tokens, ASR, decoding and scoring."""
    src = kaldi_dir_by_espeak(tmp_path / "sw_kaldi", "sw", SWAHILI)
    before = {p: p.read_bytes() for p in src.rglob("*") if p.is_file()}
    proc = subprocess.run(
        ["./run.sh", "--fast", "true", "--languages", "", "--lang_data", f"sw=kaldi:{src}",
         "--pretrain_configs", "", "--degrade_config", "", "--probe_languages", "",
         "--pr_updates", "0",
         "--datadir", str(fast_run / "data"),
         "--expdir", str(tmp_path / "exp"), "--dumpdir", str(tmp_path / "dump")],
        cwd=RECIPE, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = json.loads((tmp_path / "exp" / "results" / "results.json").read_text())
    assert [(r["upstream"], r["language"], r["num_utts"]) for r in rows] == [("fbank", "sw", 4)]
    for split in ("train", "dev", "test"):
        assert (fast_run / "data" / f"{split}_sw" / "PROVENANCE.md").is_file()
    # the user's data is only read
    assert before == {p: p.read_bytes() for p in src.rglob("*") if p.is_file()}

    bad = subprocess.run(["./run.sh", "--fast", "true", "--lang_data", "sw:kaldi"], cwd=RECIPE,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "is not CODE=KIND:PATH" in bad.stdout + bad.stderr


@pytest.mark.slow
@needs_corpora
def test_seeds_repeat_pretraining_and_downstream_and_report_the_spread(fast_run, tmp_path):
    """--seeds "1 2": APC pre-training and the fbank and APC downstreams once per seed (seed 1,
    the --seed, keeps the plain names; seed 2 gets _seed2); the report averages over seeds.
    Seed 1's runs are the fast run's (copied, so the shared run stays as it is): only seed 2
    trains."""
    exp, dump = tmp_path / "exp", tmp_path / "dump"
    seed1 = ["pretrain_apc_fast_0.02h", "asr_fbank_es", "asr_xling_apc_fast_0.02h_es",
             "probe/synth_es", "probe/fbank/es", "probe/xling_apc_fast_0.02h/es",
             "phone_recognition/fbank/es", "phone_recognition/xling_apc_fast_0.02h/es"]
    for name in seed1:
        shutil.copytree(fast_run / "exp" / name, exp / name, symlinks=True)
    (exp / "upstreams").mkdir()
    for f in (fast_run / "exp" / "upstreams").glob("xling_apc_fast_0.02h.*"):
        shutil.copy2(f, exp / "upstreams")
    shutil.copytree(fast_run / "dump" / "feats" / "xling_apc_fast_0.02h",
                    dump / "feats" / "xling_apc_fast_0.02h", symlinks=True)
    trained = {run: (exp / run / "valid.acc.ave.pth").read_bytes() for run in seed1[1:3]}
    proc = subprocess.run(
        # the fast run's degraded conditions too: seed 1 was decoded under them
        ["./run.sh", "--fast", "true", "--stage", "3", "--languages", "es", "--seeds", "1 2",
         "--pretrain_configs", "conf/pretrain/apc_fast.yaml:0.02",
         "--probe_languages", "es", "--datadir", str(fast_run / "data"),
         "--expdir", str(tmp_path / "exp"), "--dumpdir", str(tmp_path / "dump")],
        cwd=RECIPE, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert f"{exp}/pretrain_apc_fast_0.02h is trained, skipping" in out
    assert f"{exp}/asr_fbank_es is trained, skipping" in out
    assert trained == {run: (exp / run / "valid.acc.ave.pth").read_bytes() for run in trained}
    for run in ("pretrain_apc_fast_0.02h", "asr_fbank_es", "asr_xling_apc_fast_0.02h_es"):
        assert (exp / run / ".done").exists() and (exp / f"{run}_seed2" / ".done").exists()
        assert "--seed 2 " in (exp / f"{run}_seed2" / "train.log").read_text()
    assert (exp / "upstreams" / "xling_apc_fast_0.02h_seed2.pt").exists()
    # different seeds, different models
    assert (exp / "asr_fbank_es" / "valid.acc.ave.pth").read_bytes() != \
        (exp / "asr_fbank_es_seed2" / "valid.acc.ave.pth").read_bytes()
    rows = json.loads((exp / "results" / "results.json").read_text())
    assert sorted((r["upstream"], r["condition"], r["seeds"], r["n_seeds"]) for r in rows) == [
        (up, c, "1 2", 2) for up in ("fbank", "xling_apc_fast_0.02h")
        for c in ("clean", "snr10_babble", "snr10_pink", "tel8k")]
    assert all(r["cer_sd"] >= 0 and r["cer_lo"] <= r["cer"] <= r["cer_hi"] for r in rows)
    sig = json.loads((exp / "results" / "significance.json").read_text())
    assert {(s["baseline"], s["system"], s["seeds"]) for s in sig} == {
        ("fbank", "xling_apc_fast_0.02h", "1 2")}
    # the probe runs on the first seed's models only
    assert sorted(p.name for p in (exp / "probe").iterdir() if not p.name.startswith("synth")) \
        == ["fbank", "xling_apc_fast_0.02h"]


def test_unknown_option_is_rejected():
    proc = subprocess.run(["./xling.sh", "--no_such_option", "1"], cwd=RECIPE,
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert "unknown option --no_such_option" in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["--stage", "99"], "--stage 99: the stages are 1-10"),
    (["--stage", "7", "--stop_stage", "6"], "--stage 7 is after --stop_stage 6"),
    (["--stage", "5", "--upstreams", "fbank nonexistent"],
     "--upstreams 'nonexistent': upstream config .* not found; available in"),
    (["--languages", "es xx"], r"languages \['xx'\]: not supported by the offline corpus"),
    (["--lang_data", "sw=fleurs:/no/such/fleurs/sw_ke"],
     r"Error: --lang_data entry 'sw=fleurs:/no/such/fleurs/sw_ke': /no/such/fleurs/sw_ke does "
     "not exist"),
    (["--asr_configs", "conf/asr/train_asr_fast.yaml {tmp}/missing.yaml"],
     r"--asr_config .*/missing.yaml: ASR config not found"),
    (["--inference_config", "{tmp}/bad.yaml"],
     r"--inference_config .*/bad.yaml: not valid YAML: line 2, column 2: "),
    (["--pretrain_configs", "{tmp}/list.yaml:0"],
     r"--pretrain_config .*/list.yaml: expected a YAML mapping of option names \(pre-training "
     r"config\), got a list"),
    (["--degrade_config", "{tmp}/bad.yaml"], r"--degrade_config .*/bad.yaml: not valid YAML"),
    (["--stage", "5", "--upstreams", "{tmp}/up.yaml"],
     r"--upstreams '.*/up.yaml': .*/up.yaml: upstream 'fbank' takes no options"),
])
def test_bad_options_fail_before_any_work(tmp_path, args, message):
    (tmp_path / "bad.yaml").write_text("a: [1, 2\nb: 3\n")
    (tmp_path / "list.yaml").write_text("- 1\n")
    (tmp_path / "up.yaml").write_text("upstream: fbank\noptions: {nonsense: 1}\n")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    proc = subprocess.run(["./run.sh", "--fast", "true", "--datadir", str(tmp_path / "data"),
                           "--expdir", str(tmp_path / "exp"), *args], cwd=RECIPE,
                          capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert proc.returncode == 2 and re.search(message, proc.stdout + proc.stderr), proc.stderr
    assert not (tmp_path / "data").exists() and not (tmp_path / "exp").exists()
