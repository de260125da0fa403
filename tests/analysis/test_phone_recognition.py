"""Phone recognition on real speech: the linear CTC head learns a known mapping and not a random
one, PER counts edits, and the CLI writes one result per upstream, reruns nothing and refuses a
bad option."""

import json
import logging
import shutil
import subprocess
import sys

import numpy as np
import pytest

from espnet_ext.analysis.phone_recognition import (
    PhoneRecognitionOptions,
    best_path,
    phone_error_rate,
    phone_recognition,
    train_head,
)
from espnet_ext.errors import ConfigError


def _utterances(n, vocab=6, dim=12, seed=0, random_targets=False):
    """Features of phone sequences: each phone is 3 frames of its own noisy direction, with
    1-2 frames of silence between; targets are the phones (or, shuffled, unrelated ones)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((vocab + 1, dim)) * 3  # row 0: silence
    feats, targets = [], []
    for _ in range(n):
        phones = list(rng.integers(1, vocab + 1, size=rng.integers(3, 7)))
        frames = []
        for p in phones:
            frames += [centres[0]] * int(rng.integers(1, 3)) + [centres[p]] * 3
        x = np.array(frames) + 0.3 * rng.standard_normal((len(frames), dim))
        feats.append(np.stack([x, rng.standard_normal(x.shape)]).astype(np.float16))  # 2 layers
        targets.append(list(rng.integers(1, vocab + 1, size=len(phones))) if random_targets
                       else [int(p) for p in phones])
    return feats, targets


@pytest.mark.parametrize("random_targets", [False, True])
def test_head_learns_a_known_mapping_and_not_a_random_one(random_targets):
    feats, targets = _utterances(120, random_targets=random_targets)
    opts = PhoneRecognitionOptions(updates=300, batch_size=8, lr=1e-2, seed=1)
    head, first, last = train_head(feats[:100], targets[:100], 7, opts, progress=False)
    hyps = [best_path(head, f, "cpu") for f in feats[100:]]
    per = phone_error_rate(targets[100:], hyps)
    weights = head.layer_weights.detach().softmax(0)
    if random_targets:
        assert per > 60  # nothing to learn: far from the known mapping's PER
    else:
        assert per < 10 and last < 0.5 * first
        assert weights[0] > 0.6  # the informative layer, not the noise layer


def test_phone_error_rate_counts_edits_over_reference_phones():
    refs = [["a", "b", "c", "d"], ["e", "f"]]
    hyps = [["a", "x", "c"], []]  # one substitution, one deletion; two deletions
    assert phone_error_rate(refs, hyps) == pytest.approx(100 * 4 / 6)
    assert phone_error_rate([["a"]], [["a", "a", "b"]]) == 200.0  # insertions count too


def _espeak_data_dir(root, sentences):
    from espnet_ext.data.audio import convert_to_16k_wav

    root.mkdir(parents=True)
    lines = {"wav.scp": [], "text": [], "utt2spk": []}
    for i, s in enumerate(sentences):
        utt, raw = f"spk1_u{i}", root / f"raw{i}.wav"
        subprocess.run(["espeak-ng", "-v", "es", "-w", str(raw), s], check=True)
        convert_to_16k_wav(str(raw), root / f"{utt}.wav")
        raw.unlink()
        lines["wav.scp"].append(f"{utt} {root / f'{utt}.wav'}")
        lines["text"].append(f"{utt} {s}")
        lines["utt2spk"].append(f"{utt} spk1")
    for name, ls in lines.items():
        (root / name).write_text("".join(f"{x}\n" for x in ls), encoding="utf-8")
    (root / "spk2utt").write_text("spk1 " + " ".join(f"spk1_u{i}" for i in range(len(sentences)))
                                  + "\n")
    return root


SENTENCES = ["el gato come pan", "la casa es roja", "mi perro duerme mucho",
             "hoy hace sol", "ella lee un libro", "vamos a la playa"]


def test_cli_writes_a_result_per_upstream_and_rerun_does_nothing(tmp_path, monkeypatch, capsys,
                                                                  caplog):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (tools/install.sh)")
    from espnet_ext.bin import phone_recognition as cli

    data = _espeak_data_dir(tmp_path / "train_es", SENTENCES)
    out = tmp_path / "phone_recognition" / "fbank" / "es"
    args = ["--lang", "es", "--train_dir", str(data), "--test_dir", str(data), "--upstream",
            "fbank", "--out_dir", str(out), "--updates", "60", "--batch_size", "3"]
    monkeypatch.setattr(sys, "argv", ["phone_recognition", *args])
    cli.main()
    result = out / "result.json"
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(result)
    r = json.loads(result.read_text(encoding="utf-8"))
    assert r["upstream"] == "fbank" and r["lang"] == "es" and r["train_utts"] == 6
    assert r["test_utts"] == 6 and r["oov_test_phones"] == 0 and r["num_phones"] > 10
    assert r["layer_weights"] == [1.0] and 0 <= r["per"] and r["loss_last"] < r["loss_first"]
    assert (out / ".done").is_file()

    stamp = result.stat().st_mtime_ns
    with caplog.at_level(logging.INFO):
        phone_recognition("fbank", "es", data, data, out,
                          PhoneRecognitionOptions(updates=60, batch_size=3), progress=False)
    assert "up to date" in caplog.text and result.stat().st_mtime_ns == stamp

    # a second --upstream without its --out_dir
    monkeypatch.setattr(sys, "argv", ["phone_recognition", *args, "--upstream", "fbank"])
    with pytest.raises(SystemExit) as e:
        cli.main()
    assert e.value.code == 2 and "one --out_dir per --upstream" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="updates must be >= 1"):
        phone_recognition("fbank", "es", data, data, out, PhoneRecognitionOptions(updates=0))
