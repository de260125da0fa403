"""Synthetic espeak-ng speech: valid 16 kHz data dirs, nested prefixes, idempotent reruns."""

import shutil
from pathlib import Path

import pytest
import soundfile as sf

from espnet_ext.data.corpora.synthetic import make_jobs, prepare_synthetic_speech
from espnet_ext.data.kaldi import read_kaldi_map
from espnet_ext.data.subset import subset_by_hours
from espnet_ext.data.validate import validate_data_dir
from espnet_ext.errors import ConfigError, CorpusError, DataDirError
from espnet_ext.text.espeak import parse_wav

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None,
    reason="espeak-ng is not installed (apt-get install -y espeak-ng; "
           "see tools/debian_packages.d/pretrain.txt)",
)

SENTENCES = ["Dit is de eerste zin.", "Een tweede zin volgt hier.", "En dan de derde."]
VOICES = ["nl+m1", "nl+f3"]


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    f = tmp_path / "text.txt"
    f.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    return f


def test_jobs_depend_only_on_their_line(tmp_path):
    sents = list(enumerate(SENTENCES))
    a = list(make_jobs(sents, tmp_path, "nl", VOICES, 7, (140, 200), (30, 70)))
    b = list(make_jobs(sents[:2], tmp_path, "nl", VOICES, 7, (140, 200), (30, 70)))
    assert a[:2] == b
    assert all(j.utt_id.startswith(j.spk_id) for j in a)


def test_parse_wav_reads_streamed_header():
    # espeak-ng --stdout writes placeholder sizes (0x7ffff000) in its header.
    import struct
    pcm = struct.pack("<4h", 0, 16384, -16384, 0)
    fmt = struct.pack("<HHIIHH", 1, 1, 22050, 44100, 2, 16)
    data = (b"RIFF" + struct.pack("<I", 0x7FFFF024) + b"WAVE" + b"fmt " + struct.pack("<I", 16)
            + fmt + b"data" + struct.pack("<I", 0x7FFFF000) + pcm)
    samples, sr = parse_wav(data, "x")
    assert sr == 22050 and samples.tolist() == [0.0, 0.5, -0.5, 0.0]


@needs_espeak
def test_synthesis_writes_valid_nested_idempotent_data_dirs(tmp_path, text_file):
    audio = tmp_path / "audio"
    full = tmp_path / "synth_nl"
    prepare_synthetic_speech(text_file, full, audio, hours=1.0 / 3600, voices=VOICES, seed=1,
                             nj=2)
    stats = validate_data_dir(full)
    assert stats.languages == ["nl"] and stats.hours >= 1.0 / 3600
    wavs = read_kaldi_map(full / "wav.scp")
    for path in wavs.values():
        info = sf.info(path)
        assert (info.samplerate, info.channels) == (16000, 1)
    texts = set(read_kaldi_map(full / "text").values())
    assert texts <= {"dit is de eerste zin", "een tweede zin volgt hier", "en dan de derde"}
    assert (full / "provenance.txt").is_file() and (full / ".done").is_file()

    # Rerun: nothing is rewritten.
    mtimes = {p: p.stat().st_mtime_ns for p in list(full.iterdir()) + list(audio.rglob("*.wav"))}
    prepare_synthetic_speech(text_file, full, audio, hours=1.0 / 3600, voices=VOICES, seed=1,
                             nj=2)
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes
    # Without the marker (e.g. a killed run) complete WAVs are reused, not synthesised again.
    (full / ".done").unlink()
    prepare_synthetic_speech(text_file, full, audio, hours=1.0 / 3600, voices=VOICES, seed=1,
                             nj=2)
    assert all(p.stat().st_mtime_ns == m for p, m in mtimes.items() if p.suffix == ".wav")

    # A smaller amount is a prefix (by text line) of the larger one, both ways of making it.
    order = read_kaldi_map(full / "utt2idx")
    dur = {k: float(v) for k, v in read_kaldi_map(full / "utt2dur").items()}
    first = min(order, key=lambda u: int(order[u]))
    small_h = dur[first] / 3600 * 0.5
    sub = subset_by_hours(full, tmp_path / "synth_small_nl", small_h)
    direct = tmp_path / "direct_small_nl"
    prepare_synthetic_speech(text_file, direct, audio, hours=small_h, voices=VOICES, seed=1, nj=1)
    assert list(read_kaldi_map(sub / "wav.scp")) == [first]
    assert read_kaldi_map(direct / "wav.scp") == read_kaldi_map(sub / "wav.scp")
    assert read_kaldi_map(direct / "text") == read_kaldi_map(sub / "text")
    validate_data_dir(sub)


@needs_espeak
def test_too_little_text_raises(tmp_path, text_file):
    with pytest.raises(CorpusError, match="less than the 1.0 h"):
        prepare_synthetic_speech(text_file, tmp_path / "d", tmp_path / "a", hours=1.0,
                                 voices=VOICES[:1], nj=1)


@needs_espeak
def test_unknown_variant_raises(tmp_path, text_file):
    # espeak-ng itself silently falls back to its default voice for an unknown variant.
    with pytest.raises(ConfigError, match="unknown variant 'nosuchvoice'"):
        prepare_synthetic_speech(text_file, tmp_path / "d", tmp_path / "a", hours=0.001,
                                 voices=["nl+nosuchvoice"], nj=1)


def test_subset_larger_than_source_raises(data_dir):
    with pytest.raises(DataDirError, match="less than the 1.0 h"):
        subset_by_hours(data_dir, data_dir.parent / "sub", 1.0)


def test_capped_random_subset_is_seeded_and_keeps_short_sets_whole(tmp_path):
    from tests.conftest import make_data_dir

    src = make_data_dir(tmp_path / "train_es", {f"u{i:02d}": f"frase {i}" for i in range(12)})
    a = subset_by_hours(src, tmp_path / "a", 3 / 3600, seed=1, at_most=True)
    b = subset_by_hours(src, tmp_path / "b", 3 / 3600, seed=1, at_most=True)
    c = subset_by_hours(src, tmp_path / "c", 3 / 3600, seed=2, at_most=True)
    ids = lambda d: sorted(read_kaldi_map(d / "text"))  # noqa: E731
    assert ids(a) == ids(b) and len(ids(a)) == 6  # 0.5 s utterances, 3 s cap
    assert ids(a) != ids(c)
    whole = subset_by_hours(src, tmp_path / "w", 1.0, seed=1, at_most=True)
    assert len(ids(whole)) == 12
    with pytest.raises(DataDirError, match="less than the 1.0 h"):
        subset_by_hours(src, tmp_path / "x", 1.0, seed=1)
