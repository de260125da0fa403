"""Frozen-feature cache: cached == on-the-fly (eval mode), keying, rebuild, fp16.

A tiny randomly initialised APC checkpoint in s3prl's own format (``{"config", "model"}``,
read by ``apc_local``) stands in for a real upstream; everything runs on CPU in seconds.
"""

import argparse
import json
import os
import shutil
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import torch

from espnet_ext.errors import ConfigError
from espnet_ext.upstream.config import file_sha256
from espnet_ext.features.extract import (
    data_hash,
    extract_features,
    make_cache_key,
    read_cache_info,
)

from conftest import make_data_dir, make_wav

TEXTS = {"a": "hola mundo", "b": "buenos dias", "c": "adios"}


def build_apc_ckpt(path: Path, seed: int = 0, hidden: int = 16) -> Path:
    """A tiny APC checkpoint (3 GRU layers -> 3 hidden states) in s3prl's apc format."""
    from s3prl.upstream.apc.apc import APC

    cfg = {
        "data": {"audio": {"feat_type": "fbank", "feat_dim": 40, "frame_length": 25,
                           "frame_shift": 10, "dither": 0, "cmvn": True}},
        "model": {"paras": {"num_layers": 3, "hidden_size": hidden, "dropout": 0.3,
                            "residual": True}},
    }
    torch.manual_seed(seed)
    model = APC(40, **cfg["model"]["paras"])
    torch.save({"config": cfg, "model": model.state_dict()}, path)
    return path


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from s3prl.nn import S3PRLUpstream

    root = tmp_path_factory.mktemp("cache")
    ckpt = build_apc_ckpt(root / "apc.ckpt")
    # Equal lengths (0.5 s, different tones): batched on-the-fly s3prl is only padding-free
    # then. For fbank-based upstreams (APC, TERA, ...) S3PRLUpstream._match_length pads the
    # upstream's frames up to ceil(samples/hop) by repeating the last frame, but inside a padded
    # batch a shorter utterance gets zeros there instead: its last ~3 valid frames differ from
    # its batch-1 (cached) features.
    data = make_data_dir(root / "data", TEXTS)
    upstream = S3PRLUpstream("apc_local", path_or_url=str(ckpt))
    upstream_key = json.dumps({"name": "apc_local", "ckpt": file_sha256(ckpt)})
    key = make_cache_key(upstream_key, data, None, "float32")
    cache = extract_features(upstream, data, root / "feats", cache_key=key, progress=False)
    return argparse.Namespace(root=root, ckpt=ckpt, data=data, upstream=upstream,
                              upstream_key=upstream_key, key=key, cache=cache)


def waves(data: Path):
    import soundfile as sf

    out = {}
    for line in (data / "wav.scp").read_text().splitlines():
        utt, path = line.split(maxsplit=1)
        out[utt] = torch.from_numpy(sf.read(path, dtype="float32")[0])
    return out


def test_cache_layout_and_info(env):
    info = read_cache_info(env.cache)
    assert info["cache_key"] == env.key and env.key[:16] in env.cache.name
    assert (info["num_layers"], info["dim"], info["dtype"]) == (3, 16, "float32")
    assert info["downsample_rate"] == 160 and info["layers"] == [0, 1, 2]
    feats = kaldiio.load_scp(str(env.cache / "feats.scp"))
    shapes = dict(line.split() for line in (env.cache / "feats_shape").read_text().splitlines())
    assert sorted(feats) == sorted(shapes) == sorted(waves(env.data))
    for utt, mat in feats.items():
        assert shapes[utt] == f"{mat.shape[0]},{mat.shape[1]}" and mat.shape[1] == 48


@pytest.mark.parametrize("normalize", [False, True])
def test_cached_frontend_equals_s3prl_featurizer(env, normalize):
    from s3prl.nn import Featurizer

    from espnet_ext.asr.frontend import CachedLayersFrontend

    featurizer = Featurizer(env.upstream, normalize=normalize)
    frontend = CachedLayersFrontend(num_layers=3, layer_dim=16, normalize=normalize)
    with torch.no_grad():
        featurizer.weights.copy_(torch.tensor([0.3, -1.0, 0.7]))
        frontend.weights.copy_(featurizer.weights)
    feats = kaldiio.load_scp(str(env.cache / "feats.scp"))
    env.upstream.eval()
    with torch.no_grad():
        for utt, wav in waves(env.data).items():
            hs, lens = env.upstream(wav[None], torch.LongTensor([len(wav)]))
            ref, ref_len = featurizer(hs, lens)
            cached = torch.from_numpy(feats[utt])[None]
            out, out_len = frontend(cached, torch.LongTensor([cached.size(1)]))
            assert out.shape == ref.shape and int(out_len) == int(ref_len)
            torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)


def _asr_args(frontend: str, frontend_conf: dict, token_list):
    from espnet2.tasks.asr import ASRTask

    args = ASRTask.get_parser().parse_args(["--output_dir", "unused"])
    args.token_list = list(token_list)
    args.frontend, args.frontend_conf = frontend, frontend_conf
    args.normalize, args.normalize_conf = None, {}
    args.encoder = "transformer"
    args.encoder_conf = dict(output_size=32, attention_heads=2, linear_units=32, num_blocks=1,
                             dropout_rate=0.0, positional_dropout_rate=0.0,
                             attention_dropout_rate=0.0, input_layer="conv2d")
    args.decoder = "transformer"
    args.decoder_conf = dict(attention_heads=2, linear_units=32, num_blocks=1, dropout_rate=0.0,
                             positional_dropout_rate=0.0, self_attention_dropout_rate=0.0,
                             src_attention_dropout_rate=0.0)
    args.model_conf = dict(ctc_weight=0.3, lsm_weight=0.0)
    return args


def test_cached_training_loss_equals_on_the_fly(env):
    """Same weights, dropout off, eval-mode upstream: cached and on-the-fly losses agree."""
    from espnet2.tasks.asr import ASRTask
    from torch.nn.utils.rnn import pad_sequence

    from espnet_ext.asr.task import register_frontends

    register_frontends()
    chars = sorted({c for t in TEXTS.values() for c in t.replace(" ", "")})
    tokens = ["<blank>", "<unk>", "<space>"] + chars + ["<sos/eos>"]
    torch.manual_seed(0)
    otf = ASRTask.build_model(_asr_args(
        "s3prl", {"frontend_conf": {"upstream": "apc_local", "path_or_url": str(env.ckpt)},
                  "multilayer_feature": True}, tokens))
    cached = ASRTask.build_model(_asr_args("cached_layers",
                                           {"num_layers": 3, "layer_dim": 16}, tokens))
    with torch.no_grad():
        otf.frontend.featurizer.weights.copy_(torch.tensor([0.5, -0.2, 0.1]))
    state = {k.replace("frontend.featurizer.", "frontend."): v
             for k, v in otf.state_dict().items() if not k.startswith("frontend.upstream.")}
    cached.load_state_dict(state, strict=True)
    otf.eval()
    cached.eval()

    utts = sorted(waves(env.data))
    wavs = waves(env.data)
    feats = kaldiio.load_scp(str(env.cache / "feats.scp"))
    ids = [[tokens.index(c if c != " " else "<space>") for c in TEXTS[u.split("_", 1)[1]]]
           for u in utts]
    text = pad_sequence([torch.tensor(i) for i in ids], batch_first=True, padding_value=-1)
    text_lengths = torch.tensor([len(i) for i in ids])
    with torch.no_grad():
        loss_otf, stats_otf, _ = otf(
            speech=pad_sequence([wavs[u] for u in utts], batch_first=True),
            speech_lengths=torch.tensor([len(wavs[u]) for u in utts]),
            text=text, text_lengths=text_lengths)
        loss_cached, stats_cached, _ = cached(
            speech=pad_sequence([torch.from_numpy(feats[u]) for u in utts], batch_first=True),
            speech_lengths=torch.tensor([feats[u].shape[0] for u in utts]),
            text=text, text_lengths=text_lengths)
    torch.testing.assert_close(loss_cached, loss_otf, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(stats_cached["loss_ctc"], stats_otf["loss_ctc"], rtol=1e-5,
                               atol=1e-5)
    # ESPnet's trainer calls model.train(): the "frozen" upstream's dropout comes back on.
    otf.train()
    assert otf.frontend.upstream.training


def test_same_key_reuses_cache(env, caplog):
    done_mtime = (env.cache / ".done").stat().st_mtime_ns
    with caplog.at_level("INFO"):
        again = extract_features(env.upstream, env.data, env.root / "feats", cache_key=env.key,
                                 progress=False)
    assert again == env.cache and (env.cache / ".done").stat().st_mtime_ns == done_mtime
    assert "Reusing" in caplog.text


def test_changed_config_checkpoint_or_data_changes_key(env, tmp_path):
    base = make_cache_key(env.upstream_key, env.data, None, "float32")
    assert base == env.key
    other_ckpt = build_apc_ckpt(tmp_path / "apc2.ckpt", seed=1)
    assert file_sha256(other_ckpt) != file_sha256(env.ckpt)
    changed_ckpt = json.dumps({"name": "apc_local", "ckpt": file_sha256(other_ckpt)})
    assert make_cache_key(changed_ckpt, env.data, None, "float32") != base
    assert make_cache_key(env.upstream_key + "normalize", env.data, None, "float32") != base
    assert make_cache_key(env.upstream_key, env.data, [1, 2], "float32") != base
    assert make_cache_key(env.upstream_key, env.data, None, "float16") != base

    data2 = tmp_path / "data"
    shutil.copytree(env.data, data2)
    scp = (data2 / "wav.scp").read_text().replace(str(env.data), str(data2))
    (data2 / "wav.scp").write_text(scp)
    h = data_hash(data2)
    wav = data2 / "wav" / "b.wav"
    make_wav(wav, seconds=0.9, freq=500.0)  # re-generated audio
    os.utime(wav, ns=(1, 1))
    assert data_hash(data2) != h
    key2 = make_cache_key(env.upstream_key, data2, None, "float32")
    cache2 = extract_features(env.upstream, data2, env.root / "feats", cache_key=key2,
                              progress=False)
    assert cache2 != env.cache and read_cache_info(cache2)["cache_key"] == key2


def test_partial_cache_is_rebuilt(env, tmp_path):
    out = tmp_path / "feats"
    cache = extract_features(env.upstream, env.data, out, cache_key=env.key, progress=False)
    (cache / ".done").unlink()
    (cache / "feats.scp").write_text("truncated")
    rebuilt = extract_features(env.upstream, env.data, out, cache_key=env.key, progress=False)
    assert rebuilt == cache and (cache / ".done").exists()
    assert len(kaldiio.load_scp(str(cache / "feats.scp"))) == len(TEXTS)
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_fp16_and_layer_subset_within_tolerance(env, tmp_path):
    key = make_cache_key(env.upstream_key, env.data, [2, 0], "float16")
    cache = extract_features(env.upstream, env.data, tmp_path, cache_key=key, layers=[2, 0],
                             dtype="float16", progress=False)
    info = read_cache_info(cache)
    assert info["layers"] == [0, 2] and info["num_layers"] == 2 and info["dtype"] == "float16"
    full = kaldiio.load_scp(str(env.cache / "feats.scp"))
    half = kaldiio.load_scp(str(cache / "feats.scp"))
    for utt in full:
        ref = np.concatenate([full[utt][:, :16], full[utt][:, 32:]], axis=1)
        assert half[utt].dtype == np.float16
        np.testing.assert_allclose(half[utt].astype(np.float32), ref, rtol=2e-3, atol=2e-3)


def test_bad_layers_and_dims_raise(env, tmp_path):
    from espnet_ext.asr.frontend import CachedLayersFrontend

    with pytest.raises(ConfigError, match="layers"):
        extract_features(env.upstream, env.data, tmp_path, cache_key="k" * 64, layers=[5])
    with pytest.raises(ConfigError, match="num_layers x layer_dim"):
        CachedLayersFrontend(3, 16)(torch.zeros(1, 4, 40), torch.LongTensor([4]))


def test_full_disk_leaves_no_cache_and_a_killed_runs_temp_is_cleared(env, tmp_path, monkeypatch):
    import errno

    out = tmp_path / "feats"
    out.mkdir()
    stale = out / f".{make_cache_dir_name(env)}.abc123.tmp"  # as left by a kill -9 mid-extraction
    stale.mkdir()
    (stale / "feats.ark").write_bytes(b"\0" * 1000)

    def full_disk(self, key, value):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(kaldiio.WriteHelper, "__setitem__", full_disk)
    with pytest.raises(OSError, match="No space left"):
        extract_features(env.upstream, env.data, out, cache_key=env.key, progress=False)
    assert list(out.iterdir()) == []  # neither a partial cache nor the stale temp dir


def make_cache_dir_name(env) -> str:
    from espnet_ext.features.extract import cache_dir_for

    return cache_dir_for(Path("x"), env.data, env.key).name
