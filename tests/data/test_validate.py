"""validate_data_dir: a valid dir passes; every kind of bad input raises naming the culprit."""

import re
import shutil
from pathlib import Path

import pytest

from espnet_ext.data.validate import validate_data_dir
from espnet_ext.errors import DataDirError
from tests.conftest import make_data_dir, make_wav


def _edit(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")


def test_valid_dir_passes_with_counts(data_dir):
    stats = validate_data_dir(data_dir)
    assert stats.num_utts == 3 and stats.num_speakers == 1
    assert stats.hours == pytest.approx(1.5 / 3600, rel=1e-3)
    assert stats.languages == ["es"]


def test_missing_audio_names_utterance(data_dir):
    (data_dir / "wav" / "b.wav").unlink()
    with pytest.raises(DataDirError, match=r"spk1_b.*does not exist"):
        validate_data_dir(data_dir)


def test_corrupt_audio_names_utterance(data_dir):
    (data_dir / "wav" / "a.wav").write_bytes(b"RIFF\x00\x00garbage")
    with pytest.raises(DataDirError, match=r"spk1_a.*cannot read audio"):
        validate_data_dir(data_dir)


def test_empty_audio_raises(data_dir):
    make_wav(data_dir / "wav" / "c.wav", seconds=0.0)
    with pytest.raises(DataDirError, match=r"spk1_c.*empty"):
        validate_data_dir(data_dir)


def test_zero_byte_file_is_called_empty(data_dir):
    (data_dir / "wav" / "a.wav").write_bytes(b"")
    with pytest.raises(DataDirError, match=r"spk1_a.*is an empty file \(0 bytes\)"):
        validate_data_dir(data_dir)


def test_wav_cut_mid_data_is_truncated(data_dir):
    wav = data_dir / "wav" / "b.wav"
    data = wav.read_bytes()
    wav.write_bytes(data[: len(data) // 2])  # the header still declares the full length
    with pytest.raises(DataDirError, match=r"spk1_b.*truncated: its header declares 0.50 s but "
                                           r"the file holds 0.2\d s"):
        validate_data_dir(data_dir)


def test_float_wav_with_nan_or_inf_samples_is_refused(data_dir):
    import numpy as np
    import soundfile as sf

    x = np.zeros(8000, dtype=np.float32)
    x[800], x[900] = np.nan, np.inf
    sf.write(str(data_dir / "wav" / "c.wav"), x, 16000, subtype="FLOAT")
    with pytest.raises(DataDirError, match=r"spk1_c.*2 sample\(s\) that are NaN or infinite "
                                           r"\(first at 0.050 s\)"):
        validate_data_dir(data_dir)
    x[800] = x[900] = 0.0
    sf.write(str(data_dir / "wav" / "c.wav"), x, 16000, subtype="FLOAT")
    validate_data_dir(data_dir)  # finite float audio is fine


def test_relative_path_says_what_it_was_resolved_against(data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _edit(data_dir / "wav.scp", str(data_dir / "wav" / "a.wav"), "wav/a.wav")
    with pytest.raises(DataDirError, match=r"'wav/a.wav' does not exist \(a relative path is "
                                           r"resolved against the working directory"):
        validate_data_dir(data_dir)


def test_data_dir_without_utterances_is_refused(tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    for name in ("wav.scp", "text", "utt2spk"):
        (d / name).write_text("")
    with pytest.raises(DataDirError, match=r"wav.scp: no utterances"):
        validate_data_dir(d)


def test_wrong_sample_rate_says_how_to_convert(data_dir):
    make_wav(data_dir / "wav" / "a.wav", sr=8000)
    with pytest.raises(DataDirError, match=r"spk1_a.*8000 Hz, expected 16000.*format_data_dir"):
        validate_data_dir(data_dir)


def test_stereo_raises(data_dir):
    make_wav(data_dir / "wav" / "a.wav", channels=2)
    with pytest.raises(DataDirError, match=r"spk1_a.*2 channels"):
        validate_data_dir(data_dir)


def test_empty_transcript_names_utterance(data_dir):
    _edit(data_dir / "text", "spk1_b buenos dias", "spk1_b ")
    with pytest.raises(DataDirError, match=r"'spk1_b' has an empty transcript"):
        validate_data_dir(data_dir)


def test_non_utf8_transcript_names_line(data_dir):
    raw = (data_dir / "text").read_bytes().replace(b"adios", b"adi\xf3s")
    (data_dir / "text").write_bytes(raw)
    with pytest.raises(DataDirError, match=r"text:\d+: not valid UTF-8"):
        validate_data_dir(data_dir)


def test_duplicate_id_raises(data_dir):
    with open(data_dir / "text", "a", encoding="utf-8") as f:
        f.write("spk1_c adios otra vez\n")
    with pytest.raises(DataDirError, match=r"duplicate key 'spk1_c'"):
        validate_data_dir(data_dir)


def test_unsorted_raises_with_fix(data_dir):
    lines = (data_dir / "wav.scp").read_text(encoding="utf-8").splitlines(keepends=True)
    (data_dir / "wav.scp").write_text("".join(reversed(lines)), encoding="utf-8")
    with pytest.raises(DataDirError, match=r"not sorted.*sort"):
        validate_data_dir(data_dir)


def test_mismatched_files_name_first_missing(data_dir):
    _edit(data_dir / "utt2spk", "spk1_b spk1\n", "")
    with pytest.raises(DataDirError, match=r"utt2spk: does not match.*missing 1 \(first: 'spk1_b'\)"):
        validate_data_dir(data_dir)


def test_missing_required_file(data_dir):
    (data_dir / "text").unlink()
    with pytest.raises(DataDirError, match=r"required file 'text' is missing"):
        validate_data_dir(data_dir)
    assert validate_data_dir(data_dir, require_text=False).num_utts == 3


def test_spk2utt_inconsistent(data_dir):
    _edit(data_dir / "spk2utt", "spk1_c", "")
    with pytest.raises(DataDirError, match=r"speaker 'spk1' does not match utt2spk"):
        validate_data_dir(data_dir)


def test_segments_beyond_recording_end(data_dir):
    (data_dir / "segments").write_text("spk1_a-seg spk1_a 0.0 2.0\n", encoding="utf-8")
    for name in ("text", "utt2spk"):
        (data_dir / name).write_text("spk1_a-seg x\n" if name == "text" else "spk1_a-seg spk1\n",
                                     encoding="utf-8")
    (data_dir / "spk2utt").write_text("spk1 spk1_a-seg\n", encoding="utf-8")
    (data_dir / "utt2lang").unlink()
    with pytest.raises(DataDirError, match=r"'spk1_a-seg': ends at 2.00 s but recording 'spk1_a'"):
        validate_data_dir(data_dir)


def _write_utt2dur(data_dir: Path, lines: str) -> None:
    (data_dir / "utt2dur").write_text(lines, encoding="utf-8")


def test_utt2dur_matching_audio_passes(data_dir):
    # 0.5 s each; rounding and small decoding differences are within the tolerance
    _write_utt2dur(data_dir, "spk1_a 0.500\nspk1_b 0.52\nspk1_c 0.48\n")
    assert validate_data_dir(data_dir).num_utts == 3


def test_utt2dur_mismatch_names_dir_utterance_and_both_durations(data_dir):
    _write_utt2dur(data_dir, "spk1_a 0.500\nspk1_b 0.700\nspk1_c 0.500\n")
    with pytest.raises(DataDirError, match=rf"^{re.escape(str(data_dir))}: utterance 'spk1_b': "
                                           r"utt2dur says 0.700 s but its audio lasts 0.500 s; "
                                           r"regenerate utt2dur or fix the audio$"):
        validate_data_dir(data_dir)
    validate_data_dir(data_dir, check_audio=False)  # durations need the audio


@pytest.mark.parametrize("lines, match", [
    ("spk1_a 0.5\nspk1_x 0.5\nspk1_b 0.5\nspk1_c 0.5\n",
     r"utt2dur:2: utterance 'spk1_x' is not in the data dir"),
    ("spk1_a 0.5\nspk1_b half\nspk1_c 0.5\n",
     r"utt2dur:2: utterance 'spk1_b': duration 'half' is not a positive number"),
    ("spk1_a 0.5\nspk1_b 0.5\nspk1_c nan\n",
     r"utt2dur:3: utterance 'spk1_c': duration 'nan' is not a positive number"),
    ("spk1_a -1\nspk1_b 0.5\nspk1_c 0.5\n",
     r"utt2dur:1: utterance 'spk1_a': duration '-1' is not a positive number"),
    ("spk1_a 0.5\nspk1_c 0.5\n", r"utt2dur: 1 utterance\(s\) missing \(first: 'spk1_b'\)"),
])
def test_bad_utt2dur_line_names_file_and_line(data_dir, lines, match):
    _write_utt2dur(data_dir, lines)
    for check_audio in (True, False):  # read whether or not the audio is
        with pytest.raises(DataDirError, match=match):
            validate_data_dir(data_dir, check_audio=check_audio)


def test_utt2dur_of_segments_is_the_segment_length(data_dir):
    (data_dir / "segments").write_text("spk1_a-seg spk1_a 0.1 0.4\n", encoding="utf-8")
    (data_dir / "text").write_text("spk1_a-seg x\n", encoding="utf-8")
    (data_dir / "utt2spk").write_text("spk1_a-seg spk1\n", encoding="utf-8")
    (data_dir / "spk2utt").write_text("spk1 spk1_a-seg\n", encoding="utf-8")
    (data_dir / "utt2lang").unlink()
    _write_utt2dur(data_dir, "spk1_a-seg 0.300\n")
    validate_data_dir(data_dir)
    _write_utt2dur(data_dir, "spk1_a-seg 0.500\n")  # the recording's length, not the segment's
    with pytest.raises(DataDirError, match=r"'spk1_a-seg': utt2dur says 0.500 s but its audio "
                                           r"lasts 0.300 s"):
        validate_data_dir(data_dir)


def test_pipe_entries_are_read(tmp_path, data_dir):
    wav = data_dir / "wav" / "a.wav"
    _edit(data_dir / "wav.scp", f"spk1_a {wav}", f"spk1_a cat {wav} |")
    assert validate_data_dir(data_dir).num_utts == 3
    _edit(data_dir / "wav.scp", f"cat {wav} |", "false |")
    with pytest.raises(DataDirError, match=r"spk1_a.*cannot read audio"):
        validate_data_dir(data_dir)


def test_validator_never_modifies(data_dir, tmp_path):
    before = {p.name: p.read_bytes() for p in data_dir.iterdir() if p.is_file()}
    (data_dir / "wav" / "b.wav").unlink()
    with pytest.raises(DataDirError):
        validate_data_dir(data_dir)
    after = {p.name: p.read_bytes() for p in data_dir.iterdir() if p.is_file()}
    assert before == after


def test_write_data_dir_refuses_to_overwrite(tmp_path):
    d = make_data_dir(tmp_path / "x", {"a": "uno"})
    with pytest.raises(DataDirError, match="refusing to overwrite"):
        make_data_dir(tmp_path / "x", {"a": "dos"})
    assert "uno" in (d / "text").read_text(encoding="utf-8")


def test_cli_exits_2_with_message(data_dir, capfd):
    import subprocess
    import sys

    shutil.rmtree(data_dir / "wav")
    proc = subprocess.run([sys.executable, "-m", "espnet_ext.bin.validate_data_dir", str(data_dir)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "spk1_a" in proc.stderr and "Traceback" not in proc.stderr
