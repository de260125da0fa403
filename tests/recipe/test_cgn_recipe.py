"""The CGN study recipe (egs2/cgn_flemish/xling1), stages 1-2 only, on tiny fixtures: a CGN
release in its real layout (tests/data/cgn_fixture.py) and a FLEURS language folder
(tests/data/external_fixtures.py), with db.sh's paths given as environment variables. No
training: data dirs, token lists and phones, a rerun that does nothing, and the errors of
unset corpus paths."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from espnet_ext.data.kaldi import read_kaldi_map
from tests.conftest import REPO_ROOT
from tests.data.cgn_fixture import build_cgn_root
from tests.data.external_fixtures import build_fleurs_root

RECIPE = REPO_ROOT / "egs2" / "cgn_flemish" / "xling1"


def run_recipe(tmp: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    # Phones of the joint config come from espeak-ng (a Debian package of tools/install.sh);
    # without it the same step runs on graphemes.
    phones = [] if shutil.which("espeak-ng") else ["--phone_mode", "grapheme"]
    cmd = ["./run.sh", "--stage", "1", "--stop_stage", "2", "--eval_langs", "sw=fleurs:sw_ke",
           "--datadir", str(tmp / "data"), "--expdir", str(tmp / "exp"),
           "--dumpdir", str(tmp / "dump"), "--nj", "1", "--local_data_opts", "--nj 1",
           *phones, *args]
    proc = subprocess.run(cmd, cwd=RECIPE, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env})
    with (tmp / "log.txt").open("a") as log:
        log.write(proc.stdout + proc.stderr)
    return proc


@pytest.fixture
def corpora(tmp_path: Path) -> dict:
    """db.sh's variables, pointing at the fixtures."""
    return {"CGN": str(build_cgn_root(tmp_path / "CGN_2.0.3")),
            "FLEURS": str(build_fleurs_root(tmp_path / "fleurs" / "sw_ke").parent),
            "COMMON_VOICE": ""}


def speakers(data_dir: Path) -> set:
    return set(read_kaldi_map(data_dir / "utt2spk").values())


def test_stages_1_2_prepare_cgn_and_fleurs_then_rerun_does_nothing(corpora, tmp_path):
    proc = run_recipe(tmp_path, corpora)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = tmp_path / "data"
    # The CGN sets, the FLEURS language, its 1 h cap and a degraded test set (babble from dev_nl).
    sets = ["pretrain_nl", "dev_nl", "train_nl", "test_nl", "train_sw", "dev_sw", "test_sw",
            "train_sw_max1h", "test_sw_snr10_babble"]
    check = subprocess.run(
        [sys.executable, "-m", "espnet_ext.bin.validate_data_dir", *(str(data / s) for s in sets)],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert check.returncode == 0, check.stderr

    # Pool, dev, test and the text speakers are speaker-disjoint; the text corpus holds no
    # sentence of them.
    pool, dev, test = (speakers(data / s) for s in ("pretrain_nl", "dev_nl", "test_nl"))
    text_spk = speakers(data / "local" / "cgn_vl_text_speakers")
    assert pool and dev and test and text_spk
    assert not (pool & dev or pool & test or dev & test or text_spk & (pool | dev | test))
    assert speakers(data / "train_nl") == pool | text_spk
    sentences = (data / "pretrain_text_nl" / "sentences.txt").read_text().splitlines()
    assert sentences
    said = {t for s in ("pretrain_nl", "dev_nl", "test_nl")
            for t in read_kaldi_map(data / s / "text").values()}
    assert not set(sentences) & said
    assert "CGN licence" in (data / "pretrain_nl" / "PROVENANCE.md").read_text()
    # Stage 2: the language's token list; the joint config's phones and phone list.
    assert (data / "token_list" / "sw_max1h_char" / "tokens.txt").is_file()
    assert (data / "pretrain_nl" / "unpaired_phones").is_file()
    assert next((data / "token_list").glob("nl_phones_*/tokens.txt")).is_file()

    stamps = {p: p.stat().st_mtime_ns for p in (
        data / ".cgn_nl.done", data / "pretrain_nl" / "wav.scp", data / "dev_nl" / "phones",
        data / "pretrain_text_nl" / "sentences.txt", data / "train_sw" / "wav.scp",
        data / "train_sw_max1h" / ".done")}
    rerun = run_recipe(tmp_path, corpora)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    out = rerun.stdout + rerun.stderr
    assert "CGN 'nl' in" in out and "already prepared" in out and "nothing to do" in out
    assert "Stage 2: " in out and "exists, skipping" in out and "phones are up to date" in out
    assert "wrote" not in out
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert not (RECIPE / "data").exists() and not (RECIPE / "exp").exists()


@pytest.mark.parametrize("env, message", [
    ({"CGN": ""}, "CGN is not set: set CGN= in .*db.sh"),
    ({"CGN": "/no/such/cgn"}, r"CGN=/no/such/cgn \(db.sh\) is not a directory"),
    ({"FLEURS": ""}, "FLEURS is not set: set FLEURS= in .*db.sh"),
])
def test_unset_or_missing_corpus_path_stops_stage_1_naming_db_sh(corpora, tmp_path, env,
                                                                 message):
    proc = run_recipe(tmp_path, {**corpora, **env})
    assert proc.returncode == 2
    assert re.search(message, proc.stderr), proc.stderr[-2000:]
    assert not (tmp_path / "data" / "pretrain_nl").exists()


def test_common_voice_languages_need_common_voice_set(corpora, tmp_path):
    proc = run_recipe(tmp_path, corpora, "--eval_langs", "ro=common_voice:ro sw=fleurs:sw_ke")
    assert proc.returncode == 2 and "COMMON_VOICE is not set" in proc.stderr
