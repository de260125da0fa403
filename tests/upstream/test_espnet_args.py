"""The ESPnet input arguments per upstream kind: fbank, cached frozen, fine-tuned."""

import json

import pytest

from espnet_ext.errors import ConfigError
from espnet_ext.upstream.config import UpstreamConfig
from espnet_ext.upstream.espnet_args import decode_args, frontend_args, speech_input, uses_cache


def test_fbank_is_espnets_default_frontend_on_the_waveform(tmp_path):
    cfg = UpstreamConfig(name="fbank", upstream="fbank")
    args = frontend_args(cfg)
    assert args[:2] == ["--frontend", "default"] and "n_mels=80" in args
    assert not uses_cache(cfg)
    assert speech_input(cfg, tmp_path / "test_es", tmp_path, "float32").endswith(
        "test_es/wav.scp,speech,sound")


def test_frozen_upstream_reads_its_cache_with_a_linear_preencoder(tmp_path):
    cache = tmp_path / "c"
    cache.mkdir()
    (cache / "cache.json").write_text(json.dumps({"num_layers": 13, "dim": 768, "cache_key": "k"}))
    (cache / ".done").write_text("k")
    cfg = UpstreamConfig(name="w", upstream="wav2vec2_local", path="/x.pt")
    args = frontend_args(cfg, cache)
    assert args[:2] == ["--frontend", "cached_layers"]
    assert "num_layers=13" in args and "layer_dim=768" in args
    assert "input_size=768" in args and "output_size=80" in args


def test_missing_cache_says_to_run_stage_5(tmp_path, monkeypatch):
    import espnet_ext.upstream.espnet_args as ea

    monkeypatch.setattr(ea, "config_hash", lambda cfg: "h")
    (tmp_path / "test_es").mkdir()
    (tmp_path / "test_es" / "wav.scp").write_text("")
    cfg = UpstreamConfig(name="w", upstream="wav2vec2_local", path="/x.pt")
    with pytest.raises(ConfigError, match="run stage 5"):
        decode_args(cfg, tmp_path / "test_es", tmp_path / "cache", "float32")


@pytest.mark.parametrize("kwargs,msg", [
    ({"freeze_steps": 100}, "freeze_steps=100 is not supported"),
    ({"layers": [1, 2]}, "all layers or one layer"),
])
def test_fine_tuning_limits_are_clear_errors(kwargs, msg):
    cfg = UpstreamConfig(name="w", upstream="wav2vec2_local", path="/x.pt", frozen=False, **kwargs)
    with pytest.raises(ConfigError, match=msg):
        frontend_args(cfg)
