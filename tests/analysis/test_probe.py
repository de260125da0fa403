"""Linear phone probe: classifier sanity, espeak-ng phone timings, the CLI end to end."""

import json
import logging
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "upstream"))
import fixtures  # noqa: E402

from espnet_ext.bin import phone_probe as cli  # noqa: E402
from espnet_ext.analysis.probe import (  # noqa: E402
    ProbeOptions,
    frame_labels,
    phone_probe,
    probe_frames,
    split_utterances,
)
from espnet_ext.errors import ConfigError, CorpusError  # noqa: E402
from espnet_ext.text import espeak  # noqa: E402


def _espeak_or_skip():
    try:
        return espeak.get_espeak()
    except CorpusError as e:
        pytest.skip(f"libespeak-ng is not installed (Debian package espeak-ng): {e}")


def _blobs(n_per_class=150, dims=16, classes=5, seed=0, priors=None):
    rng = np.random.default_rng(seed)
    counts = ([n_per_class] * classes if priors is None
              else [int(p * n_per_class * classes) for p in priors])
    x = np.concatenate([rng.normal(0, 1, (n, dims)) + 4.0 * np.eye(dims)[k]
                        for k, n in enumerate(counts)])
    y = np.concatenate([[f"p{k}"] * n for k, n in enumerate(counts)])
    order = rng.permutation(len(y))
    return x[order].astype(np.float32), y[order]


# ----------------------------------------------------------------------------- classifier


def test_separable_blobs_are_classified_almost_perfectly():
    x, y = _blobs()
    r = probe_frames(x[:500], y[:500], x[500:], y[500:], min_count=5)
    assert r["accuracy"] > 0.95
    assert r["num_classes"] == 5 and abs(r["chance"] - 0.2) < 0.1
    assert r["train_frames"] == 500 and r["test_frames"] == len(y) - 500


def test_shuffled_labels_give_about_the_majority_rate():
    x, _ = _blobs(priors=[0.4, 0.2, 0.2, 0.1, 0.1])
    rng = np.random.default_rng(1)
    y = rng.choice([f"p{k}" for k in range(5)], size=len(x), p=[0.4, 0.2, 0.2, 0.1, 0.1])
    r = probe_frames(x[:500], y[:500], x[500:], y[500:], min_count=5)
    assert abs(r["accuracy"] - r["chance"]) < 0.1, r
    assert 0.3 < r["chance"] < 0.5


def _torch_lbfgs_accuracy(xtr, ytr, xte, yte, C=1.0, max_iter=200):
    """Reference: the probe's former classifier (same objective, torch L-BFGS from zeros)."""
    import torch

    mean, std = xtr.mean(0), xtr.std(0)
    xt = torch.as_tensor((xtr - mean) / std, dtype=torch.float32)
    xe = torch.as_tensor((xte - mean) / std, dtype=torch.float32)
    yt = torch.as_tensor(ytr, dtype=torch.long)
    k = int(ytr.max()) + 1
    w = torch.zeros(k, xt.shape[1], requires_grad=True)
    b = torch.zeros(k, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, history_size=20,
                            tolerance_grad=1e-6, tolerance_change=1e-9,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = (torch.nn.functional.cross_entropy(xt @ w.T + b, yt)
                + 0.5 / (C * len(yt)) * w.pow(2).sum())
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return float(((xe @ w.T + b).argmax(1).numpy() == yte).mean())


@pytest.mark.parametrize("spread", [4.0, 0.5, 0.25])
def test_sklearn_probe_matches_the_former_torch_classifier(spread):
    # Separable (4.0, accuracy 1.0) to overlapping (0.5: ~0.7; 0.25: ~0.36, chance 0.11).
    rng = np.random.default_rng(7)
    k, dims, n = 8, 24, 1600
    means = rng.normal(0, spread, (k, dims))
    y = rng.integers(0, k, n)
    x = (means[y] + rng.normal(0, 1, (n, dims))).astype(np.float32)
    labels = np.array([f"p{c}" for c in y], dtype=object)
    r = probe_frames(x[:1100], labels[:1100], x[1100:], labels[1100:], min_count=5)
    ref = _torch_lbfgs_accuracy(x[:1100].astype(np.float64), y[:1100],
                                x[1100:].astype(np.float64), y[1100:])
    assert abs(r["accuracy"] - ref) <= 0.03, (r["accuracy"], ref)


def test_probe_is_deterministic():
    x, y = _blobs(seed=3)
    a = probe_frames(x[:400], y[:400], x[400:], y[400:], min_count=5)
    b = probe_frames(x[:400], y[:400], x[400:], y[400:], min_count=5)
    assert a == b


def test_rare_phones_are_dropped_and_counted():
    x, y = _blobs()
    y = y.copy()
    y[:3] = "rare"  # 3 training frames < min_count
    y[600:602] = "rare"
    r = probe_frames(x[:500], y[:500], x[500:], y[500:], min_count=5)
    assert "rare" not in r["classes"] and r["rare_frames"] == 5
    assert r["train_frames"] == 497


def test_too_few_classes_raises():
    x, _ = _blobs()
    y = np.array(["a"] * len(x), dtype=object)
    with pytest.raises(ConfigError, match="phone class"):
        probe_frames(x[:500], y[:500], x[500:], y[500:], min_count=5)


def test_frame_labels_take_the_phone_at_the_frame_centre():
    segs = [espeak.PhoneSegment(0, 100, "sil"), espeak.PhoneSegment(100, 250, "a"),
            espeak.PhoneSegment(250, 480, "b")]
    # stride 160: centres 80, 240, 400, 560 (past the audio)
    assert frame_labels(segs, 4, 160, 0.5) == ["sil", "a", "b", None]
    # centred frames (ESPnet's STFT): centres 0, 160, 320
    assert frame_labels(segs, 3, 160, 0.0) == ["sil", "a", "b"]


def test_split_is_seeded_disjoint_and_non_empty():
    utts = [f"u{i}" for i in range(10)]
    tr, te = split_utterances(utts, 0.7, seed=1)
    assert len(tr) == 7 and len(te) == 3 and not set(tr) & set(te)
    assert (tr, te) == split_utterances(list(reversed(utts)), 0.7, seed=1)
    assert split_utterances(["a", "b"], 0.99, seed=1)[1]
    with pytest.raises(ConfigError):
        split_utterances(["a"], 0.7, seed=1)


# ----------------------------------------------------------------------------- espeak-ng


@pytest.mark.parametrize("voice,text", [
    ("nl", "Hallo wereld, dit is een korte test. Nog een zin!"),
    ("es", "Buenos días, ¿cómo estás? Muy bien, gracias."),
    ("cs+f2", "Dobrý den, jak se máte? Příliš žluťoučký kůň."),
])
def test_espeak_phones_increase_and_cover_the_audio(voice, text):
    _espeak_or_skip()
    wav, segs = espeak.synthesize_utterance(text, voice)
    assert wav.dtype == np.float32 and wav.size > 16000
    assert segs[0].start == 0 and segs[-1].end == wav.size
    for a, b in zip(segs, segs[1:]):
        assert a.end == b.start and a.start < a.end, (a, b)
    phones = [s for s in segs if s.phone != espeak.SIL]
    assert len(phones) > 15
    assert sum(s.end - s.start for s in phones) > 0.6 * wav.size
    # The event layout is right if the labels match the audio: pauses are near-silent.
    rms = lambda s: float(np.sqrt(np.mean(wav[s.start:s.end] ** 2)))  # noqa: E731
    sil = [rms(s) for s in segs if s.phone == espeak.SIL and s.end - s.start > 1600]
    assert sil and max(sil) < 0.1 * np.median([rms(s) for s in phones])


def test_unknown_voice_or_variant_raises():
    _espeak_or_skip()
    with pytest.raises(ConfigError, match="'xx'"):
        espeak.synthesize_utterance("test", "xx")
    with pytest.raises(ConfigError, match="unknown variant 'nosuch'"):
        espeak.synthesize_utterance("test", "nl+nosuch")


def test_missing_library_names_the_debian_package():
    with pytest.raises(CorpusError, match="espeak-ng"):
        espeak.Espeak(lib_names=("libespeak-ng-does-not-exist.so.9",))


# ----------------------------------------------------------------------------- CLI


SENTENCES = {
    "u1": "de kat zit op de mat",
    "u2": "wij gaan morgen naar het strand",
    "u3": "het regent al de hele dag",
    "u4": "zij leest een boek in de tuin",
    "u5": "mijn broer speelt graag voetbal",
    "u6": "de trein vertrekt om negen uur",
    "u7": "",  # an empty transcript is skipped
}


@pytest.fixture
def text_file(tmp_path):
    f = tmp_path / "text"
    f.write_text("".join(f"{u} {t}\n" if t else f"{u}\n" for u, t in SENTENCES.items()),
                 encoding="utf-8")
    return f


def test_cli_writes_probe_json_per_layer_and_rerun_skips(tmp_path, text_file, caplog,
                                                         monkeypatch, capsys):
    _espeak_or_skip()
    ckpt = tmp_path / "apc.pt"
    n_layers, _ = fixtures.build_apc(ckpt)
    conf = tmp_path / "tiny_apc.yaml"
    conf.write_text(yaml.safe_dump({"upstream": "apc_local", "path": str(ckpt)}))
    out, synth = tmp_path / "probe" / "tiny_apc" / "nl", tmp_path / "synth_nl"
    fb_out = tmp_path / "probe" / "fbank" / "nl"
    # two upstreams in one process, each with its own --out_dir
    args = ["--upstream", str(conf), "--lang", "nl", "--text", str(text_file),
            "--num_utts", "6", "--out_dir", str(out), "--synth_dir", str(synth),
            "--seed", "1", "--voice", "nl", "--min_count", "3",
            "--upstream", "fbank", "--out_dir", str(fb_out)]
    # In-process (a subprocess would import s3prl a second time, ~12 s).
    monkeypatch.setattr(sys, "argv", ["phone_probe", *args])
    cli.main()
    result = out / "probe.json"
    # the result files, last on stdout in --upstream order (imports may print before them)
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-2:] == [str(result), str(fb_out / "probe.json")]
    assert json.loads((fb_out / "probe.json").read_text(encoding="utf-8"))["upstream"] == "fbank"
    monkeypatch.setattr(sys, "argv", ["phone_probe", *args[:-2]])  # an --upstream without --out_dir
    with pytest.raises(SystemExit) as e:
        cli.main()
    assert e.value.code == 2 and "one --out_dir per --upstream" in capsys.readouterr().err
    r = json.loads(result.read_text(encoding="utf-8"))
    assert r["upstream"] == "tiny_apc" and r["lang"] == "nl" and r["num_utts"] == 6
    assert r["train_utts"] + r["test_utts"] == 6
    assert [e["layer"] for e in r["layers"]] == list(range(n_layers))
    for e in r["layers"]:
        assert 0.0 <= e["accuracy"] <= 1.0 and 0.0 < e["chance"] < 1.0
        assert e["train_frames"] > 0 and e["test_frames"] > 0 and e["num_classes"] >= 2
    assert r["num_classes"] == r["layers"][0]["num_classes"] and len(r["classes"]) == \
        r["num_classes"]
    assert (out / ".done").is_file() and (synth / ".done").is_file()
    ctm = (synth / "phones.ctm").read_text(encoding="utf-8").splitlines()
    assert len({line.split()[0] for line in ctm}) == 6

    # Same inputs: nothing is redone.
    stamps = {p: p.stat().st_mtime_ns for p in (result, out / ".done", synth / ".done")}
    opts = ProbeOptions(seed=1, min_count=3)
    with caplog.at_level(logging.INFO):
        phone_probe(str(conf), "nl", text_file, out, num_utts=6, voices=["nl"],
                    synth_dir=synth, options=opts, progress=False)
    assert "up to date" in caplog.text
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps

    # A changed probe option reruns the probe but reuses the shared probe set.
    phone_probe(str(conf), "nl", text_file, out, num_utts=6, voices=["nl"], synth_dir=synth,
                options=ProbeOptions(seed=1, min_count=3, silence="label"), progress=False)
    r2 = json.loads(result.read_text(encoding="utf-8"))
    assert r2["silence"] == "label" and "sil" in r2["classes"]
    assert (synth / ".done").stat().st_mtime_ns == stamps[synth / ".done"]

    # The fbank baseline: one layer, same probe set.
    fb = phone_probe("fbank", "nl", text_file, tmp_path / "probe" / "fbank" / "nl",
                     num_utts=6, voices=["nl"], synth_dir=synth, options=opts,
                     progress=False)
    rf = json.loads(fb.read_text(encoding="utf-8"))
    assert rf["upstream"] == "fbank" and len(rf["layers"]) == 1
    assert rf["layers"][0]["frame_shift_ms"] == 10.0


def test_min_count_counts_speech_time_so_a_40_ms_upstream_keeps_the_same_classes():
    """A phone with 8 frames at 40 ms has 32 x 10 ms of speech: kept with min_count 20, as the
    same phone's 32 frames at 10 ms are; counted as frames it would be dropped."""
    rng = np.random.default_rng(0)
    y = np.array(["a"] * 8 + ["b"] * 30 + ["c"] * 3 + ["a", "b", "c"] * 4, dtype=object)
    x = rng.standard_normal((len(y), 4)).astype(np.float32)
    n = 41
    at_40ms = probe_frames(x[:n], y[:n], x[n:], y[n:], min_count=20, frame_weight=4.0)
    assert at_40ms["classes"] == ["a", "b"]  # c: 3 frames = 12 x 10 ms < 20
    with pytest.raises(ConfigError, match="only 1 phone class"):  # counted as frames: b only
        probe_frames(x[:n], y[:n], x[n:], y[n:], min_count=20)
