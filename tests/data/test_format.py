"""format_data_dir: the fix the validator suggests turns 8 kHz stereo + segments into a valid dir."""

import pytest

from espnet_ext.data.format import format_data_dir
from espnet_ext.data.validate import validate_data_dir
from espnet_ext.errors import DataDirError
from tests.conftest import make_wav


def test_resamples_downmixes_and_cuts_segments(tmp_path):
    src = tmp_path / "src"
    rec = make_wav(tmp_path / "rec.wav", seconds=2.0, sr=8000, channels=2)
    src.mkdir()
    (src / "wav.scp").write_text(f"r1 {rec}\n", encoding="utf-8")
    (src / "segments").write_text("s1_a r1 0.0 0.5\ns1_b r1 1.0 2.0\n", encoding="utf-8")
    (src / "text").write_text("s1_a hola\ns1_b adios\n", encoding="utf-8")
    (src / "utt2spk").write_text("s1_a s1\ns1_b s1\n", encoding="utf-8")
    before = {p.name: p.read_bytes() for p in src.iterdir()}
    with pytest.raises(DataDirError, match="8000 Hz"):
        validate_data_dir(src)
    out = format_data_dir(src, tmp_path / "dst", lang="es")
    stats = validate_data_dir(out)
    assert stats.num_utts == 2 and stats.hours == pytest.approx(1.5 / 3600, rel=1e-3)
    assert stats.languages == ["es"]
    assert {p.name: p.read_bytes() for p in src.iterdir()} == before


def test_unreadable_audio_names_utterance(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "wav.scp").write_text(f"u1 {tmp_path / 'missing.wav'}\n", encoding="utf-8")
    (src / "text").write_text("u1 hola\n", encoding="utf-8")
    (src / "utt2spk").write_text("u1 u1\n", encoding="utf-8")
    with pytest.raises(DataDirError, match="'u1': cannot read audio"):
        format_data_dir(src, tmp_path / "dst")
