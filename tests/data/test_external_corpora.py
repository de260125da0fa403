"""Common Voice, FLEURS and MLS preparers on tiny fixtures in each corpus' real on-disk layout
(built by tests/data/external_fixtures.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from espnet_ext.data.corpora import common_voice, fleurs, mls
from espnet_ext.data.corpora.items import RawItem, SkipLog, pick_items
from espnet_ext.data.kaldi import read_kaldi_map
from espnet_ext.data.validate import validate_data_dir
from espnet_ext.errors import ConfigError, CorpusError, DataDirError
from espnet_ext.steps import OWNER_FILE
from tests.data.external_fixtures import (
    build_common_voice_root, build_fleurs_root, build_mls_root, client, fleurs_row, tone,
)

REPO = Path(__file__).resolve().parents[2]
SPLITS = ("train", "dev", "test")


def skipped(data_dir: Path) -> dict:
    return json.loads((data_dir / "skipped.json").read_text(encoding="utf-8"))


def audio_format(data_dir: Path) -> set:
    return {(i.samplerate, i.channels, i.subtype) for i in
            (sf.info(p) for p in read_kaldi_map(data_dir / "wav.scp").values())}


# --- Common Voice --------------------------------------------------------------------------

@pytest.fixture
def cv_root(tmp_path: Path) -> Path:
    return build_common_voice_root(tmp_path / "cv-corpus-17.0-2024-03-15" / "ro")


def test_prepare_common_voice_writes_valid_split_dirs_and_records_skips(cv_root, tmp_path):
    out = common_voice.prepare_common_voice(cv_root, tmp_path / "data", "ro", nj=2)
    assert out == {s: tmp_path / "data" / f"{s}_ro" for s in SPLITS}
    for d in out.values():
        assert validate_data_dir(d).languages == ["ro"]
        assert audio_format(d) == {(16000, 1, "PCM_16")}  # MP3 decoded and resampled
    spk_a = "cv_" + client("a")[:12]
    text = read_kaldi_map(out["train"] / "text")
    assert text == {f"{spk_a}_common_voice_ro_1": "bună ziua lume",
                    f"{spk_a}_common_voice_ro_2": "ea a spus da și a plecat"}
    assert read_kaldi_map(out["train"] / "text.orig")[f"{spk_a}_common_voice_ro_2"] == \
        'Ea a spus "da" și a plecat.'
    assert set(read_kaldi_map(out["train"] / "utt2spk").values()) == {spk_a}
    assert read_kaldi_map(out["test"] / "utt2spk") == {
        f"cv_{client('c')[:12]}_common_voice_ro_9": f"cv_{client('c')[:12]}",
        f"cv_{client('d')[:12]}_common_voice_ro_7": f"cv_{client('d')[:12]}"}
    assert skipped(out["train"]) == {"empty_text": 1, "in_other_split": 1, "malformed_row": 1,
                                     "no_audio": 1}
    listing = (out["train"] / "skipped.txt").read_text(encoding="utf-8")
    assert "malformed_row\ttrain.tsv:4 (3 of 13 columns)" in listing
    assert "no_audio\ttrain.tsv:5 common_voice_ro_4.mp3" in listing
    prov = (out["train"] / "PROVENANCE.md").read_text(encoding="utf-8")
    assert "CC0-1.0" in prov and "cv-corpus-17.0-2024-03-15" in prov
    assert str(cv_root.resolve()) in prov and "validated.tsv holds 9 clips" in prov
    assert "Debian package" not in prov and "`skipped.txt` beside this file" in prov
    assert (out["train"] / OWNER_FILE).read_text().strip() == "common_voice"


def test_prepare_common_voice_rerun_skips_and_other_options_need_force(cv_root, tmp_path):
    kwargs = dict(root=cv_root, out_dir=tmp_path / "data", lang="ro", nj=1)
    out = common_voice.prepare_common_voice(**kwargs)
    marker = tmp_path / "data/.corpus_ro.done"
    stamps = {p: p.stat().st_mtime_ns for p in (marker, out["train"] / "text")}
    assert common_voice.prepare_common_voice(**kwargs) == out
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    with pytest.raises(ConfigError, match=r"other options.*max_utts.*--force"):
        common_voice.prepare_common_voice(**kwargs, max_utts=1)
    common_voice.prepare_common_voice(**kwargs, max_utts=1, force=True)
    assert [validate_data_dir(out[s]).num_utts for s in SPLITS] == [1, 1, 1]
    assert json.loads(marker.read_text())["options"]["max_utts"] == 1


def test_prepare_common_voice_refuses_a_data_dir_it_did_not_write(cv_root, tmp_path):
    foreign = tmp_path / "data/train_ro"
    foreign.mkdir(parents=True)
    (foreign / "wav.scp").write_text("u1 /my/own.wav\n")
    with pytest.raises(DataDirError, match=r"did not write .*no \.prepared_by"):
        common_voice.prepare_common_voice(cv_root, tmp_path / "data", "ro", nj=1)
    assert (foreign / "wav.scp").read_text() == "u1 /my/own.wav\n"


@pytest.mark.parametrize("remove, message", [
    ("dev.tsv", r"ro: missing dev.tsv; expected the release layout "
                r"<lang>/\{train,dev,test,validated\}.tsv \+ clips/"),
    ("clips", "missing clips/;"),
])
def test_common_voice_missing_layout_raises_before_any_conversion(cv_root, tmp_path, remove,
                                                                  message):
    target = cv_root / remove
    if target.is_dir():
        for f in target.iterdir():
            f.unlink()
        target.rmdir()
    else:
        target.unlink()
    with pytest.raises(CorpusError, match=message):
        common_voice.prepare_common_voice(cv_root, tmp_path / "data", "ro")
    assert not (tmp_path / "data").exists()


def test_common_voice_header_without_sentence_column_raises_naming_it(cv_root, tmp_path):
    (cv_root / "dev.tsv").write_text("client_id\tpath\ttext\nx\ty.mp3\tz\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"dev.tsv: header row .* lacks column\(s\) "
                                          r"\['sentence'\]"):
        common_voice.prepare_common_voice(cv_root, tmp_path / "data", "ro")
    assert not (tmp_path / "data/local/audio").exists()


def test_common_voice_columns_are_found_by_name_not_position(cv_root):
    (cv_root / "dev.tsv").write_text(
        "sentence\tpath\tclient_id\nReordonat.\tcommon_voice_ro_6.mp3\tabcdef0123456789\n",
        encoding="utf-8")
    items = common_voice.collect_split(cv_root, "dev", SkipLog("t"))
    assert [(it.utt_id, it.spk_id, it.text) for it in items] == [
        ("cv_abcdef012345_common_voice_ro_6", "cv_abcdef012345", "Reordonat.")]


# --- FLEURS --------------------------------------------------------------------------------

@pytest.fixture
def fleurs_root(tmp_path: Path) -> Path:
    return build_fleurs_root(tmp_path / "fleurs" / "sw_ke")


def test_prepare_fleurs_uses_raw_text_and_one_pseudo_speaker_per_utterance(fleurs_root,
                                                                          tmp_path):
    out = fleurs.prepare_fleurs(fleurs_root, tmp_path / "data", "sw", nj=1)
    for d in out.values():
        validate_data_dir(d)
        assert audio_format(d) == {(16000, 1, "PCM_16")}
    assert read_kaldi_map(out["train"] / "text") == {
        "fleurs_10004088536354799741": "habari ya dunia",
        "fleurs_10011458478546381113": "habari ya dunia"}
    utt2spk = read_kaldi_map(out["train"] / "utt2spk")
    assert all(utt == spk for utt, spk in utt2spk.items())
    assert read_kaldi_map(out["test"] / "text") == {
        "fleurs_3000000000000000001": "ziwa viktoria ni kubwa"}
    assert skipped(out["train"]) == {"malformed_row": 1, "no_audio": 1}
    assert "(5 of 7 columns)" in (out["train"] / "skipped.txt").read_text(encoding="utf-8")
    prov = (out["dev"] / "PROVENANCE.md").read_text(encoding="utf-8")
    assert "CC-BY-4.0" in prov and "Google FLEURS" in prov and "no speaker ids" in prov
    assert str(fleurs_root.resolve()) in prov


def test_fleurs_missing_audio_folder_names_it_and_the_archive(fleurs_root, tmp_path):
    for f in (fleurs_root / "audio/dev").iterdir():
        f.unlink()
    (fleurs_root / "audio/dev").rmdir()
    (fleurs_root / "audio/dev.tar.gz").write_bytes(b"")
    (fleurs_root / "test.tsv").unlink()
    with pytest.raises(CorpusError, match=r"sw_ke: missing test.tsv, audio/dev/ "
                                          r"\(audio/dev.tar.gz is there: extract it"):
        fleurs.prepare_fleurs(fleurs_root, tmp_path / "data", "sw")


def test_fleurs_split_without_usable_utterance_raises_before_conversion(fleurs_root, tmp_path):
    (fleurs_root / "dev.tsv").write_text(fleurs_row(1, "missing.wav", "Hakuna.") + "\n")
    with pytest.raises(CorpusError, match=r"no usable utterance in the dev split "
                                          r"\(1 listed; skipped: \{'no_audio': 1\}\)"):
        fleurs.prepare_fleurs(fleurs_root, tmp_path / "data", "sw", nj=1)
    assert not (tmp_path / "data/local/audio").exists()


# --- MLS -----------------------------------------------------------------------------------

@pytest.fixture
def mls_root(tmp_path: Path) -> Path:
    return build_mls_root(tmp_path / "mls_dutch")


def test_prepare_mls_reads_flac_and_opus_with_speaker_from_the_id(mls_root, tmp_path):
    out = mls.prepare_mls(mls_root, tmp_path / "data", "nl", nj=1)
    for d in out.values():
        validate_data_dir(d)
    assert read_kaldi_map(out["train"] / "text") == {"mls_1234_5678_000001": "dit is een test",
                                                     "mls_1234_5678_000002": "nog een zin"}
    assert set(read_kaldi_map(out["train"] / "utt2spk").values()) == {"mls_1234"}
    assert read_kaldi_map(out["dev"] / "utt2spk") == {"mls_2222_3333_000001": "mls_2222"}
    assert skipped(out["train"]) == {"malformed_row": 2, "no_audio": 1}
    prov = (out["test"] / "PROVENANCE.md").read_text(encoding="utf-8")
    assert "CC-BY-4.0" in prov and "OpenSLR MLS" in prov and "audio variant: flac" in prov


def test_mls_opus_without_libsndfile_support_is_skipped_with_a_reason(mls_root, tmp_path,
                                                                      monkeypatch):
    monkeypatch.setattr(mls, "opus_supported", lambda: False)
    out = mls.prepare_mls(mls_root, tmp_path / "data", "nl", nj=1)
    assert list(read_kaldi_map(out["train"] / "text")) == ["mls_1234_5678_000001"]
    assert skipped(out["train"])["opus_not_supported"] == 1


def test_mls_missing_audio_folder_raises_naming_it(mls_root, tmp_path):
    (mls_root / "test/audio").rename(mls_root / "test/audio_elsewhere")
    with pytest.raises(CorpusError, match=r"mls_dutch: missing test/audio/; expected the MLS"):
        mls.prepare_mls(mls_root, tmp_path / "data", "nl")


# --- shared pieces and the CLI -------------------------------------------------------------

def test_pick_items_is_seeded_deterministic_and_logs_missing_audio(tmp_path):
    wav = tone(tmp_path / "a.wav", 16000)
    items = [RawItem(f"s_{i:03d}", "s", str(wav) if i % 5 else str(tmp_path / "none.wav"),
                     "t", f"row {i}") for i in range(50)]
    skips = SkipLog("t")
    a = pick_items(items, 10, 3, skips)
    assert a == pick_items(items, 10, 3, SkipLog("t")) and len(a) == 10
    assert a != pick_items(items, 10, 4, SkipLog("t"))
    assert [it.utt_id for it in a] == sorted(it.utt_id for it in a)
    assert skips.counts().get("no_audio", 0) >= 1  # missing files met on the way are recorded
    assert len(pick_items(items, None, 3, SkipLog("t"))) == 40


def test_bad_language_code_is_a_config_error(fleurs_root, tmp_path):
    with pytest.raises(ConfigError, match="lang='sw/ke'"):
        fleurs.prepare_fleurs(fleurs_root, tmp_path / "data", "sw/ke")


def test_cli_prepares_then_skips_and_reports_layout_errors_without_traceback(fleurs_root,
                                                                            tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "espnet_ext.bin.prepare_corpus", "--corpus", "fleurs",
           "--root", str(fleurs_root), "--lang", "sw", "--out_dir", str(tmp_path / "data"),
           "--max_utts", "1", "--nj", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for split in SPLITS:
        assert validate_data_dir(tmp_path / "data" / f"{split}_sw").num_utts == 1
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0 and "nothing to do" in proc.stderr
    bad = cmd[:6] + [str(tmp_path / "nowhere")] + cmd[7:]
    proc = subprocess.run(bad, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 2
    assert "FLEURS folder" in proc.stderr and "not found" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- plain Kaldi data dirs (a new language by data only) ----------------------------------

def kaldi_root(tmp_path: Path) -> Path:
    root = tmp_path / "xx_kaldi"
    for split, n in (("train", 3), ("dev", 1), ("test", 1)):
        d = root / split
        d.mkdir(parents=True)
        rows = [(f"spk{i}-{split}{i}", tone(d / f"u{i}.wav", 22050, freq=200 + 50 * i), f"Jambo {i}!")
                for i in range(n)]
        (d / "wav.scp").write_text("".join(f"{u} {w}\n" for u, w, _ in rows))
        (d / "text").write_text("".join(f"{u} {t}\n" for u, _, t in rows))
        (d / "utt2spk").write_text("".join(f"{u} {u.split('-')[0]}\n" for u, _, _ in rows))
    return root


def test_prepare_kaldi_dirs_converts_audio_and_keeps_ids(tmp_path):
    from espnet_ext.data.corpora import kaldi_dirs

    root = kaldi_root(tmp_path)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    out = kaldi_dirs.prepare_kaldi_dirs(root, tmp_path / "data", "xx")
    assert validate_data_dir(out["train"]).num_utts == 3
    assert audio_format(out["train"]) == {(16000, 1, "PCM_16")}
    assert read_kaldi_map(out["test"] / "text") == {"spk0-test0": "jambo 0"}
    assert read_kaldi_map(out["dev"] / "utt2spk") == {"spk0-dev0": "spk0"}
    assert "only read" in (out["train"] / "PROVENANCE.md").read_text()
    assert before == {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_kaldi_dirs_transcript_without_audio_is_a_recorded_skip(tmp_path):
    from espnet_ext.data.corpora import kaldi_dirs

    root = kaldi_root(tmp_path)
    with (root / "train" / "text").open("a") as f:
        f.write("spk9-train9 habari\n")  # no wav.scp line for it
    out = kaldi_dirs.prepare_kaldi_dirs(root, tmp_path / "data", "xx")
    assert validate_data_dir(out["train"]).num_utts == 3
    provenance = (out["train"] / "PROVENANCE.md").read_text()
    assert "no_wav_entry" in provenance and "Skipped: none" not in provenance
    assert "train/spk9-train9 (in text, not in wav.scp)" in (out["train"] / "skipped.txt").read_text()


def test_kaldi_dirs_layout_errors_name_the_file_and_the_fix(tmp_path):
    from espnet_ext.data.corpora import kaldi_dirs

    root = kaldi_root(tmp_path)
    (root / "dev" / "utt2spk").unlink()
    with pytest.raises(CorpusError, match=r"missing dev/utt2spk"):
        kaldi_dirs.check_layout(root)
    (root / "dev" / "utt2spk").write_text("spk0-dev0 spk0\n")
    (root / "test" / "segments").write_text("a spk0-test0 0.0 0.1\n")
    with pytest.raises(CorpusError, match="format_data_dir"):
        kaldi_dirs.check_layout(root)
