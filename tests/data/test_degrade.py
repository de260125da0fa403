"""Degraded test conditions: signal functions, config checks and the make_degraded_sets CLI."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import welch

from espnet_ext.data import degrade
from espnet_ext.data.degrade import (
    SilentAudioError, apply_codec, coloured_noise, guard_clipping, load_degrade_config,
    make_babble, make_degraded_sets, mix_at_snr, speed_perturb, utterance_rng,
)
from espnet_ext.data.kaldi import read_kaldi_map
from espnet_ext.data.validate import validate_data_dir
from espnet_ext.errors import ConfigError, DataDirError
from tests.conftest import REPO_ROOT, make_data_dir, make_wav

SR = 16000
CONF_DIR = REPO_ROOT / "conf" / "degrade"


def _snr_db(speech, mixture):
    speech = np.asarray(speech, dtype=np.float64)
    added = np.asarray(mixture, dtype=np.float64) - speech
    return 10 * np.log10(np.mean(speech ** 2) / np.mean(added ** 2))


def _speech_like(seconds=1.0, seed=0):
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2  # syllable-like level changes
    x = env * (0.3 * np.sin(2 * np.pi * 180 * t) + 0.05 * rng.standard_normal(t.shape))
    return x.astype(np.float32)


@pytest.fixture
def babble_dir(tmp_path):
    """Spanish 'speech' (tones) to babble with; the test set below is Czech."""
    return make_data_dir(tmp_path / "train_es", {f"b{i}": "hola" for i in range(6)}, lang="es",
                         spk="es1", seconds=0.7)


@pytest.fixture
def test_dir(tmp_path):
    return make_data_dir(tmp_path / "test_cs", {"a": "ahoj", "b": "dobry den", "c": "nazdar",
                                                "d": "cau"}, lang="cs", spk="cs1")


def _write_conf(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- signal functions -------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["white", "pink", "brown", "babble"])
def test_mix_at_snr_hits_requested_snr_within_0_1_db(kind, babble_dir):
    speech = _speech_like()
    rng = np.random.default_rng(3)
    if kind == "babble":
        entries = list(read_kaldi_map(babble_dir / "wav.scp").values())
        noise = make_babble(entries, len(speech) // 2, rng, 5)  # shorter: must be looped
    else:
        noise = coloured_noise(kind, len(speech) * 2, rng)  # longer: must be cropped
    for snr in (20, 10, 5, 0, -5):
        mixture = mix_at_snr(speech, noise, snr)
        assert mixture.shape == speech.shape and mixture.dtype == np.float32
        assert abs(_snr_db(speech, mixture) - snr) < 0.1


def test_mix_at_snr_silent_speech_raises_naming_it():
    with pytest.raises(SilentAudioError, match="utterance 'u1'.*silent"):
        mix_at_snr(np.zeros(1600), np.ones(100), 10, name="utterance 'u1'")


def test_coloured_noise_spectral_slopes():
    for kind, slope in (("white", 0.0), ("pink", -1.0), ("brown", -2.0)):
        n = coloured_noise(kind, 4 * SR, np.random.default_rng(1))
        assert np.mean(n ** 2) == pytest.approx(1.0)
        f, p = welch(n, fs=SR, nperseg=4096)
        band = (f >= 100) & (f <= 4000)
        fitted = np.polyfit(np.log10(f[band]), np.log10(p[band]), 1)[0]
        assert fitted == pytest.approx(slope, abs=0.15), kind


def test_noise_is_deterministic_per_seed_and_utterance():
    a = coloured_noise("pink", 1000, utterance_rng(1, "pink", "u1"))
    assert np.array_equal(a, coloured_noise("pink", 1000, utterance_rng(1, "pink", "u1")))
    assert not np.allclose(a, coloured_noise("pink", 1000, utterance_rng(1, "pink", "u2")))
    assert not np.allclose(a, coloured_noise("pink", 1000, utterance_rng(2, "pink", "u1")))


def test_speed_perturb_changes_duration_and_pitch():
    t = np.arange(SR) / SR
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    slow, fast = speed_perturb(tone, 0.9), speed_perturb(tone, 1.1)
    assert len(slow) / len(tone) == pytest.approx(1 / 0.9, rel=1e-3)
    assert len(fast) / len(tone) == pytest.approx(1 / 1.1, rel=1e-3)
    for y, hz in ((slow, 900), (fast, 1100)):  # sox `speed`: pitch moves with tempo
        spec = np.abs(np.fft.rfft(y))
        assert np.fft.rfftfreq(len(y), 1 / SR)[np.argmax(spec)] == pytest.approx(hz, abs=3)


def test_tel8k_removes_energy_above_4khz_and_quantises():
    x = (0.1 * np.random.default_rng(2).standard_normal(SR)).astype(np.float32)
    for codec in ("tel8k", "nb8k"):
        y = apply_codec(x, codec)
        assert len(y) == len(x)
        f, p = welch(y, fs=SR, nperseg=1024)
        assert p[f > 4000].sum() / p.sum() < 1e-3, codec
        assert p[(f > 0) & (f < 200)].sum() / p.sum() < 1e-2, codec  # 300 Hz high-pass
    # mu-law alone: 8 bits, at most 256 levels
    assert len(np.unique(apply_codec(x, "mulaw"))) <= 256
    assert len(np.unique(x)) > 256
    tel, nb = apply_codec(x, "tel8k"), apply_codec(x, "nb8k")
    assert not np.allclose(tel, nb) and _snr_db(nb, tel) > 20  # mu-law adds ~38 dB SNR noise


def test_guard_clipping_scales_whole_utterance_keeping_snr():
    speech = _speech_like() * 3  # peaks above 1.0
    mixture = mix_at_snr(speech, coloured_noise("white", len(speech), np.random.default_rng(0)),
                         5)
    guarded, gain = guard_clipping(mixture)
    assert gain < 1.0 and np.max(np.abs(guarded)) == pytest.approx(0.99, abs=1e-6)
    assert abs(_snr_db(speech * gain, guarded) - 5) < 0.1
    same, g1 = guard_clipping(mixture * 0.1)
    assert g1 == 1.0 and np.array_equal(same, (mixture * 0.1).astype(np.float32))


# --- config -----------------------------------------------------------------------------------

@pytest.mark.parametrize("conf", sorted(CONF_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load(conf):
    conds = load_degrade_config(conf)
    assert conds and all(c.name == n for n, c in conds.items())


def test_bad_config_key_or_value_lists_valid_ones(tmp_path):
    bad_key = _write_conf(tmp_path / "k.yaml", "conditions:\n  x: {noise: pink, snr: 10}\n")
    with pytest.raises(ConfigError, match="unknown key.*'snr'.*valid keys: noise, snr_db, speed, "
                                          "codec, babble_talkers"):
        load_degrade_config(bad_key)
    bad_noise = _write_conf(tmp_path / "n.yaml", "conditions:\n  x: {noise: cafe, snr_db: 5}\n")
    with pytest.raises(ConfigError, match="'cafe' is unknown; valid: white, pink, brown, babble"):
        load_degrade_config(bad_noise)
    bad_codec = _write_conf(tmp_path / "c.yaml", "conditions:\n  x: {codec: gsm}\n")
    with pytest.raises(ConfigError, match="valid: tel8k, nb8k, mulaw"):
        load_degrade_config(bad_codec)
    top = _write_conf(tmp_path / "t.yaml", "conds:\n  x: {codec: tel8k}\n")
    with pytest.raises(ConfigError, match="valid keys: conditions"):
        load_degrade_config(top)
    half = _write_conf(tmp_path / "h.yaml", "conditions:\n  x: {noise: pink}\n")
    with pytest.raises(ConfigError, match="'noise' and 'snr_db' go together"):
        load_degrade_config(half)


def test_unknown_condition_name_lists_valid_ones(test_dir, tmp_path):
    with pytest.raises(ConfigError, match="'snr99'.*valid: snr10_babble, snr10_pink, tel8k"):
        make_degraded_sets(CONF_DIR / "quick.yaml", test_dir, tmp_path / "o", conditions=["snr99"])


# --- data dirs and CLI ------------------------------------------------------------------------

def _cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "espnet_ext.bin.make_degraded_sets", *args],
                          capture_output=True, text=True, env=env, cwd=cwd)


def _wav_bytes(out_dir: Path):
    return {p.name: p.read_bytes() for p in sorted((out_dir / "wav").iterdir())}


def test_cli_writes_valid_paired_dirs_then_skips(test_dir, babble_dir, tmp_path):
    args = ["--config", str(CONF_DIR / "quick.yaml"), "--data_dir", str(test_dir),
            "--babble_source", str(babble_dir), "--out_prefix", str(tmp_path / "test_cs"),
            "--seed", "1"]
    proc = _cli(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    clean = read_kaldi_map(test_dir / "wav.scp")
    for name in ("snr10_babble", "snr10_pink", "tel8k"):
        out = tmp_path / f"test_cs_{name}"
        assert f"Condition {name}" in proc.stderr
        stats = validate_data_dir(out)
        wavs = read_kaldi_map(out / "wav.scp")
        assert list(wavs) == list(clean) and stats.num_utts == 4
        assert all(Path(w).parent == (out / "wav").resolve() for w in wavs.values())
        assert (out / "text").read_bytes() == (test_dir / "text").read_bytes()
        assert (out / "utt2spk").read_bytes() == (test_dir / "utt2spk").read_bytes()
        for utt, w in wavs.items():
            info = sf.info(w)
            assert (info.samplerate, info.channels, info.subtype) == (SR, 1, "PCM_16")
            assert info.frames == sf.info(clean[utt]).frames
        prov = (out / "PROVENANCE.md").read_text(encoding="utf-8")
        assert str(test_dir.resolve()) in prov and "Seed: 1" in prov
        assert (out / ".done").is_file()
    assert str(babble_dir.resolve()) in (tmp_path / "test_cs_snr10_babble" /
                                         "PROVENANCE.md").read_text(encoding="utf-8")
    before = _wav_bytes(tmp_path / "test_cs_snr10_babble")
    proc = _cli(*args, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr.count("nothing to do") == 3, proc.stderr
    assert _wav_bytes(tmp_path / "test_cs_snr10_babble") == before
    proc = _cli("--config", str(CONF_DIR / "default.yaml"), "--list", cwd=tmp_path)
    assert proc.stdout.split() == ["snr20_babble", "snr10_babble", "snr5_babble", "snr0_babble",
                                   "snr10_pink", "speed0.9", "speed1.1", "tel8k"]


def test_output_byte_identical_with_force_and_any_nj(test_dir, babble_dir, tmp_path):
    conf = _write_conf(tmp_path / "c.yaml", "conditions:\n"
                       "  bab: {noise: babble, snr_db: 0, babble_talkers: 3}\n"
                       "  mix: {speed: 0.9, noise: brown, snr_db: 5, codec: tel8k}\n")
    outs = make_degraded_sets(conf, test_dir, tmp_path / "t", [babble_dir], seed=7, nj=1)
    first = {n: _wav_bytes(d) for n, d in outs.items()}
    assert validate_data_dir(outs["mix"]).hours == pytest.approx(
        validate_data_dir(test_dir).hours / 0.9, rel=1e-2)
    make_degraded_sets(conf, test_dir, tmp_path / "t", [babble_dir], seed=7, nj=2, force=True)
    assert {n: _wav_bytes(d) for n, d in outs.items()} == first
    # another seed: other noise, same utterances
    make_degraded_sets(conf, test_dir, tmp_path / "u", [babble_dir], seed=8, nj=2)
    assert _wav_bytes(tmp_path / "u_bab").keys() == first["bab"].keys()
    assert _wav_bytes(tmp_path / "u_bab") != first["bab"]


def test_changed_input_or_killed_run_is_redone(test_dir, babble_dir, tmp_path):
    conf = CONF_DIR / "quick.yaml"
    out = make_degraded_sets(conf, test_dir, tmp_path / "t", [babble_dir], seed=1,
                             conditions=["snr10_pink"])["snr10_pink"]
    old = _wav_bytes(out)
    make_degraded_sets(conf, test_dir, tmp_path / "t", [babble_dir], seed=2,
                       conditions=["snr10_pink"])
    assert _wav_bytes(out) != old  # the seed changed: rebuilt, not skipped
    make_degraded_sets(conf, test_dir, tmp_path / "t", [], seed=1, conditions=["snr10_pink"])
    assert _wav_bytes(out) == old
    (out / ".done").unlink()  # as if killed before the marker: redone, stale files removed
    (out / "wav" / "stale.wav").write_bytes(b"junk")
    make_degraded_sets(conf, test_dir, tmp_path / "t", [], seed=1, conditions=["snr10_pink"])
    assert _wav_bytes(out) == old and (out / ".done").is_file()


def test_refuses_to_overwrite_a_foreign_data_dir(test_dir, tmp_path):
    foreign = make_data_dir(tmp_path / "t_tel8k", {"x": "cizi"}, lang="cs")
    with pytest.raises(DataDirError, match="did not write"):
        make_degraded_sets(CONF_DIR / "quick.yaml", test_dir, tmp_path / "t",
                           conditions=["tel8k"])
    assert read_kaldi_map(foreign / "text") == {"spk1_x": "cizi"}


def test_babble_without_sources_is_a_clear_error(test_dir, tmp_path):
    proc = _cli("--config", str(CONF_DIR / "quick.yaml"), "--data_dir", str(test_dir),
                "--out_prefix", str(tmp_path / "t"), cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "snr10_babble need babble" in proc.stderr and "--babble_source" in proc.stderr
    assert not (tmp_path / "t_snr10_pink").exists()  # checked before any condition is made


def test_babble_source_of_the_test_set_or_its_language_refused(test_dir, tmp_path):
    conf = CONF_DIR / "quick.yaml"
    with pytest.raises(ConfigError, match="is the test set itself"):
        make_degraded_sets(conf, test_dir, tmp_path / "t", [test_dir])
    other_cs = make_data_dir(tmp_path / "train_cs", {"z": "ahoj"}, lang="cs")
    with pytest.raises(ConfigError, match="language of the test set.*cs"):
        make_degraded_sets(conf, test_dir, tmp_path / "t", [other_cs])


def test_silent_utterance_is_named(tmp_path, babble_dir):
    d = make_data_dir(tmp_path / "test_cs", {"a": "ahoj", "b": "cau"}, lang="cs", spk="cs1")
    sf.write(str(d / "wav" / "b.wav"), np.zeros(SR // 2, dtype=np.float32), SR)
    with pytest.raises(SilentAudioError, match="utterance 'cs1_b'.*silent"):
        make_degraded_sets(CONF_DIR / "quick.yaml", d, tmp_path / "t",
                           conditions=["snr10_pink"])
    # a condition without noise does not need a level
    make_degraded_sets(CONF_DIR / "quick.yaml", d, tmp_path / "t", conditions=["tel8k"])
    assert (tmp_path / "t_tel8k" / ".done").is_file()


def test_babble_loader_resamples_other_rates(tmp_path):
    # Babble sources may be at any rate: 8 kHz audio is resampled, not rejected.
    w = make_wav(tmp_path / "x.wav", seconds=0.25, sr=8000)
    assert len(degrade.load_16k(str(w))) == SR // 4
