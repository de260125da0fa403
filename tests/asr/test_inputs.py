"""The ESPnet input arguments per upstream kind: fbank, cached frozen, fine-tuned."""

import json

import pytest

from espnet_ext.errors import ConfigError
from espnet_ext.upstream.config import UpstreamConfig
from espnet_ext.asr.inputs import decode_args, frontend_args, speech_input, uses_cache


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
    import espnet_ext.asr.inputs as ea

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


def _asr_model(input_args, tmp_path):
    """The fast ASR config built as stage 6 builds it, with the given input arguments."""
    from espnet_ext.asr.task import register_frontends
    from tests.test_configs import TOKENS, build_training

    register_frontends()
    from espnet2.tasks.asr import ASRTask

    from tests.conftest import REPO_ROOT

    tmp_path.mkdir(parents=True, exist_ok=True)
    token_list = tmp_path / "tokens.txt"
    token_list.write_text("\n".join(TOKENS) + "\n", encoding="utf-8")
    argv = input_args + ["--token_type", "char", "--token_list", str(token_list),
                         "--normalize", "utterance_mvn", "--output_dir", str(tmp_path / "asr")]
    return build_training(ASRTask, argv, REPO_ROOT / "conf" / "asr" / "train_asr_fast.yaml")


def _cached_20ms_upstream(tmp_path):
    """A frozen 20 ms upstream (2 layers of 16) and its complete cache."""
    cache = tmp_path / "c"
    cache.mkdir()
    (cache / "cache.json").write_text(json.dumps({"num_layers": 2, "dim": 16, "cache_key": "k",
                                                  "frame_shift_ms": 20.0}))
    (cache / ".done").write_text("k")
    return UpstreamConfig(name="w2v", upstream="wav2vec2_local", path="/x.pt"), cache


def test_10ms_and_20ms_upstreams_reach_the_encoder_at_one_frame_rate(tmp_path):
    """fbank (10 ms) and a cached 20 ms upstream: the built encoders emit one frame per 40 ms."""
    import torch

    from espnet_ext.asr.inputs import encoder_input_args

    fbank = UpstreamConfig(name="fbank", upstream="fbank")
    w2v, cache = _cached_20ms_upstream(tmp_path)
    from espnet_ext.asr.inputs import frame_shift_ms

    assert frame_shift_ms(fbank) == 10.0 and frame_shift_ms(w2v, cache) == 20.0
    seconds = 4
    outputs = {}
    for name, cfg, shift, frontend in (("fbank", fbank, 10.0, frontend_args(fbank)),
                                       ("w2v", w2v, 20.0, frontend_args(w2v, cache))):
        model = _asr_model(frontend + encoder_input_args(cfg, shift, 40.0), tmp_path / name)
        frames = int(seconds * 1000 / shift)
        with torch.no_grad():
            feats = torch.randn(1, frames, 80)  # what the (pre)encoder input would be
            out, out_len, _ = model.encoder(feats, torch.tensor([frames]))
        outputs[name] = int(out_len[0])
    # 4 s at 40 ms = 100 frames; each conv front loses a few frames at the edges
    assert all(abs(n - seconds * 1000 / 40) <= 3 for n in outputs.values()), outputs


def _models_at_40ms(tmp_path, encoder_input):
    """(name, frame shift, input width, built ASR model) of fbank (10 ms, 80 bins) and a cached
    20 ms upstream (16 dims) brought to 40 ms encoder frames through ``encoder_input``."""
    from espnet_ext.asr.inputs import encoder_input_args

    fbank = UpstreamConfig(name="fbank", upstream="fbank")
    w2v, cache = _cached_20ms_upstream(tmp_path)
    for name, cfg, shift, frontend, width in (("fbank", fbank, 10.0, frontend_args(fbank), 80),
                                              ("w2v", w2v, 20.0, frontend_args(w2v, cache), 16)):
        yield name, shift, width, _asr_model(
            frontend + encoder_input_args(cfg, shift, 40.0, encoder_input), tmp_path / name)


def test_stacked_inputs_reach_one_linear_input_layer_at_one_frame_rate(tmp_path):
    """--encoder_input stack: fbank's 10 ms bins (as they are) and a cached 20 ms upstream (after
    the linear map to 80) are stacked to 40 ms frames by the pre-encoder; both encoders have
    ESPnet's linear input layer, no convolution, and emit one frame per 40 ms."""
    import torch

    from espnet_ext.asr.preencoder import StackPreEncoder

    seconds = 4
    for name, shift, width, model in _models_at_40ms(tmp_path, "stack"):
        assert isinstance(model.preencoder, StackPreEncoder)
        assert model.preencoder.output_size() == 80 * 40 / shift  # 80 values per input frame
        assert not any(isinstance(m, torch.nn.Conv2d) for m in model.encoder.modules())
        frames = int(seconds * 1000 / shift)
        with torch.no_grad():
            x, n = model.preencoder(torch.randn(1, frames, width), torch.tensor([frames]))
            _, out_len, _ = model.encoder(x, n)
        assert int(out_len[0]) == seconds * 1000 / 40, name


def test_conv1d_inputs_reach_the_encoder_at_one_frame_rate_without_2d_convolutions(tmp_path):
    """--encoder_input conv1d: fbank (stacked to 20 ms) and a cached 20 ms upstream go through
    two 1-D convolutions (stride 2) in the pre-encoder, then ESPnet's linear input layer; the
    pre-encoder's lengths match its output, and both emit one frame per 40 ms."""
    import torch

    from espnet_ext.asr.preencoder import Conv1dPreEncoder

    seconds = 4
    for name, shift, width, model in _models_at_40ms(tmp_path, "conv1d"):
        assert isinstance(model.preencoder, Conv1dPreEncoder)
        assert model.preencoder.stack == 20 / shift
        assert not any(isinstance(m, torch.nn.Conv2d) for m in model.encoder.modules())
        frames = int(seconds * 1000 / shift)
        with torch.no_grad():
            x, n = model.preencoder(torch.randn(2, frames, width),
                                    torch.tensor([frames, frames // 2]))
            _, out_len, _ = model.encoder(x, n)
        assert x.shape[1] == int(n[0]) and abs(int(n[0]) - 2 * int(n[1])) <= 2, name
        assert abs(int(out_len[0]) - seconds * 1000 / 40) <= 2, name


def test_stack_preencoder_concatenates_consecutive_frames():
    import torch

    from espnet_ext.asr.preencoder import StackPreEncoder

    x = torch.arange(2 * 10 * 3, dtype=torch.float).view(2, 10, 3)
    out, lengths = StackPreEncoder(input_size=3, stack=4)(x, torch.tensor([10, 5]))
    assert out.shape == (2, 3, 12) and lengths.tolist() == [3, 2]
    assert torch.equal(out[0, 1], x[0, 4:8].reshape(-1))
    assert torch.equal(out[0, 2, 6:], torch.zeros(6))  # the last group zero-padded
    with pytest.raises(ConfigError, match="stack pre-encoder"):
        StackPreEncoder(input_size=3, stack=0)


def test_40ms_upstreams_get_the_same_arguments_either_way_and_bad_modes_are_refused():
    from espnet_ext.asr.inputs import encoder_input_args

    cfg = UpstreamConfig(name="u", upstream="xling_mpc", path="/x.pt")
    assert encoder_input_args(cfg, 40.0, 40.0, "stack") == encoder_input_args(cfg, 40.0, 40.0)
    assert encoder_input_args(cfg, 40.0, 40.0, "conv1d") == encoder_input_args(cfg, 40.0, 40.0)
    with pytest.raises(ConfigError, match="--encoder_input 'pool'"):
        encoder_input_args(cfg, 10.0, 40.0, "pool")


@pytest.mark.parametrize("shift,target,layer", [(10, 40, "conv2d"), (20, 40, "conv2d2"),
                                                (20, 20, "linear"), (40, 40, "linear"),
                                                (10, 80, "conv2d8")])
def test_input_layer_follows_the_frame_shift(shift, target, layer):
    from espnet_ext.asr.inputs import encoder_input_args

    cfg = UpstreamConfig(name="u", upstream="fbank")
    assert encoder_input_args(cfg, shift, target) == ["--encoder_conf", f"input_layer={layer}"]


def test_impossible_frame_rate_is_a_clear_error_naming_the_upstream():
    from espnet_ext.asr.inputs import encoder_input_args

    cfg = UpstreamConfig(name="odd_upstream", upstream="wav2vec2_local", path="/x.pt")
    with pytest.raises(ConfigError, match=r"odd_upstream.*30 ms frames cannot reach .* 40 ms"):
        encoder_input_args(cfg, 30.0, 40.0)


def test_fine_tuned_upstream_is_built_once_for_its_width_and_frame_shift(tmp_path, monkeypatch):
    import espnet_ext.upstream as up
    from espnet_ext.asr.inputs import frame_shift_ms
    from tests.upstream.fixtures import build_wav2vec2

    build_wav2vec2(tmp_path / "w.pt")
    cfg = UpstreamConfig(name="w", upstream="wav2vec2_local", path=str(tmp_path / "w.pt"),
                         frozen=False)
    builds = []
    real = up.load_upstream
    monkeypatch.setattr(up, "load_upstream", lambda c: builds.append(c) or real(c))
    args = frontend_args(cfg)
    assert "input_size=8" in args and frame_shift_ms(cfg) == 20.0
    assert len(builds) == 1
