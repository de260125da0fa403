"""Dutch text -> phones: numbers, punctuation, unknown words, fallbacks are logged."""

import logging
import shutil

import pytest

from espnet_ext.errors import ConfigError
from espnet_ext.text import espeak
from espnet_ext.text.phonemes import graphemes, phone_inventory, phonemize

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")


@needs_espeak
def test_dutch_numbers_punctuation_and_unknown_words():
    out = phonemize(["Hallo, wereld!", "Hallo wereld", "Het kost 12 euro.", "Xyzzqfloep?",
                     "", "...", "'t Is koud"], "nl")
    assert out[0] == out[1] and len(out[0]) >= 8          # punctuation does not change phones
    assert all(not any(m in p for m in "ˈˌ") for seq in out for p in seq)  # no stress marks
    twaalf = phonemize(["twaalf"], "nl")[0]
    assert " ".join(twaalf) in " ".join(out[2])           # digits are read as Dutch numbers
    assert out[3] and all(p.strip() for p in out[3])      # outside any lexicon: rules, no crash
    assert out[4] == [] and out[5] == []                  # nothing left to say
    assert out[6]
    assert len(phonemize(["een zin"] * 1203, "nl", batch_size=500)) == 1203  # batches align


@needs_espeak
def test_misbehaving_batch_is_redone_per_sentence(monkeypatch):
    calls = []
    real = espeak.phonemize_lines

    def flaky(sentences, voice):
        calls.append(len(sentences))
        if len(sentences) > 1:
            raise RuntimeError("espeak-ng returned 3 lines for 2")
        return real(sentences, voice)

    monkeypatch.setattr(espeak, "phonemize_lines", flaky)
    out = phonemize(["goede morgen", "dag"], "nl")
    assert calls == [2, 1, 1] and all(out)


def test_grapheme_mode_and_logged_fallback_without_espeak(monkeypatch, caplog):
    assert phonemize(["Hallo, 12!"], "nl", mode="grapheme") == [list("hallo12")]
    monkeypatch.setattr(espeak.shutil, "which", lambda name: None)
    with caplog.at_level(logging.WARNING):
        assert phonemize(["Dag"], "nl") == [graphemes("dag")]
    assert "espeak-ng not found" in caplog.text
    with pytest.raises(ConfigError, match="phone mode"):
        phonemize(["x"], "nl", mode="arpabet")
    assert phone_inventory([["a", "b"], ["a"]]) == {"a": 2, "b": 1}
