"""Pre-training: losses fall, training resumes exactly, exports load through s3prl and ESPnet."""

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from espnet_ext.errors import ConfigError
from tests.conftest import REPO_ROOT, make_data_dir

APC_CONF = {"audio": {"feat_type": "fbank", "feat_dim": 40, "frame_length": 25,
                      "frame_shift": 10, "dither": 0.0, "cmvn": True},
            "hidden_size": 32, "num_layers": 3, "dropout": 0.0, "residual": True,
            "n_future": 3}
W2V2_CONF = {"model": {
    "conv_feature_layers": "[(32, 10, 5)] + [(32, 3, 2)] * 4 + [(32, 2, 2)] * 2",
    "encoder_layers": 2, "encoder_embed_dim": 32, "encoder_ffn_embed_dim": 64,
    "encoder_attention_heads": 2, "final_dim": 16, "latent_vars": 8, "latent_groups": 2,
    "num_negatives": 10, "conv_pos": 16, "conv_pos_groups": 4, "dropout": 0.0,
    "attention_dropout": 0.0, "dropout_input": 0.0, "dropout_features": 0.0}}
MPC_CONF = {"transformer": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                            "intermediate_size": 64, "hidden_dropout_prob": 0.0,
                            "attention_probs_dropout_prob": 0.0},
            "num_codebooks": 2, "codebook_size": 64, "mask_span": 5}
CONFS = {"apc": APC_CONF, "wav2vec2": W2V2_CONF, "mpc": MPC_CONF}
HUB = {"apc": "xling_apc", "wav2vec2": "xling_wav2vec2", "mpc": "xling_mpc"}
# s3prl's own entry that reads the same checkpoint format
BUILTIN = {"apc": "apc_local", "wav2vec2": "wav2vec2_local", "mpc": "tera_local"}


def speech_batch(n: int = 4, seconds: float = 1.0, seed: int = 0):
    """Harmonic tones with a moving pitch: predictable structure a model can learn."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    wavs = []
    for _ in range(n):
        f0 = rng.uniform(100, 250)
        f = f0 * (1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.5, 2) * t))
        phase = 2 * np.pi * np.cumsum(f) / 16000
        x = sum(np.sin(k * phase) / k for k in range(1, 6)) * 0.2
        wavs.append(x + 0.005 * rng.standard_normal(t.shape))
    lengths = torch.tensor([len(t)] * (n - 1) + [len(t) * 3 // 4])
    speech = torch.tensor(np.stack(wavs), dtype=torch.float32)
    speech[-1, lengths[-1]:] = 0.0
    return speech, lengths


def build(method: str):
    from espnet_ext.pretrain.task import PretrainTask

    torch.manual_seed(0)
    return PretrainTask.build_model(argparse.Namespace(model=method, model_conf=CONFS[method]))


@pytest.mark.parametrize("method,steps,lr", [("apc", 40, 3e-3), ("wav2vec2", 40, 2e-3),
                                             ("mpc", 40, 2e-3)])
def test_loss_goes_down_on_tiny_data(method, steps, lr):
    model = build(method)
    speech, lengths = speech_batch()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses, contrastive = [], []
    for _ in range(steps):
        loss, stats, weight = model(speech, lengths)
        assert torch.isfinite(loss) and int(weight) == len(speech)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(stats["loss"]))
        contrastive.append(float(stats.get("loss_contrastive", 0.0)))
    if method == "mpc":  # starts at chance, ln(64) = 4.16, and must leave it
        assert np.mean(losses[:5]) > 0.95 * np.log(64), losses
        assert np.mean(losses[-5:]) < 0.93 * np.log(64), losses
    else:
        assert np.mean(losses[-5:]) < 0.85 * np.mean(losses[:5]), losses
    if method == "wav2vec2":  # the main term itself learns, not only the penalties
        assert np.mean(contrastive[-5:]) < np.mean(contrastive[:5]), contrastive


def test_apc_loss_ignores_padding():
    """Garbage in the padded tail of a shorter utterance must not change the loss."""
    model = build("apc").eval()
    speech, lengths = speech_batch()
    loss, _, _ = model(speech, lengths)
    noisy = speech.clone()
    noisy[-1, lengths[-1]:] = 5.0
    loss2, _, _ = model(noisy, lengths)
    assert torch.allclose(loss, loss2)


def fake_exp_dir(root: Path, method: str) -> Path:
    """What pretrain_train leaves behind: config.yaml + averaged weights."""
    model = build(method)
    root.mkdir(parents=True)
    (root / "config.yaml").write_text(yaml.safe_dump(
        {"model": method, "model_conf": CONFS[method], "seed": 1}))
    torch.save(model.state_dict(), root / "valid.loss.ave.pth")
    return root


@pytest.fixture(params=["apc", "wav2vec2", "mpc"])
def exported(request, tmp_path):
    from espnet_ext.pretrain.export import export_upstream

    method = request.param
    exp = fake_exp_dir(tmp_path / f"pretrain_{method}", method)
    ckpt, conf = tmp_path / "up" / f"xling_{method}.pt", tmp_path / "up" / f"xling_{method}.yaml"
    info = export_upstream(exp, ckpt, conf, info={"pretrain_hours": "0.5"})
    assert info["method"] == method and info["pretrain_hours"] == "0.5"
    # the run's metadata beside the config: the checkpoint's block and the arm the report uses
    meta = json.loads(conf.with_suffix(".json").read_text())
    # (this mpc has every text weight 0: the audio-only twin of its text arms)
    assert meta == {**info, "arm": "twin" if method == "mpc" else method}
    return method, ckpt, conf


def test_export_loads_through_s3prl_and_config(exported):
    from s3prl.nn import S3PRLUpstream

    from espnet_ext.upstream import load_upstream
    from espnet_ext.upstream.hub import register

    method, ckpt, conf = exported
    register()
    assert HUB[method] in S3PRLUpstream.available_names()
    wavs, wavs_len = speech_batch(2)
    ours = S3PRLUpstream(HUB[method], path_or_url=str(ckpt)).eval()
    # the export is also a valid checkpoint of s3prl's own entry of the family, same weights
    builtin = S3PRLUpstream(BUILTIN[method], path_or_url=str(ckpt)).eval()
    with torch.no_grad():
        hs, hs_len = ours(wavs, wavs_len)
        hs_builtin, _ = builtin(wavs, wavs_len)
    dim = 32
    n_layers = {"apc": 3, "wav2vec2": W2V2_CONF["model"]["encoder_layers"] + 1,
                "mpc": MPC_CONF["transformer"]["num_hidden_layers"] + 1}[method]
    frames = 49 if method == "wav2vec2" else 100  # 1 s at 20 ms / 10 ms hops
    assert len(hs) == n_layers
    for h, hb in zip(hs, hs_builtin):
        assert h.shape[0] == 2 and h.shape[2] == dim and abs(h.shape[1] - frames) <= 2
        assert torch.allclose(h, hb)
    assert int(hs_len[0][1]) < int(hs_len[0][0])  # the shorter utterance stays shorter

    upstream, featurizer = load_upstream(conf)  # the generated conf/upstream YAML
    with torch.no_grad():
        feats, feats_len = featurizer(*upstream(wavs, wavs_len))
    assert feats.shape[0] == 2 and feats.shape[2] == dim


def test_export_works_as_espnet_s3prl_frontend(exported):
    from espnet2.asr.frontend.s3prl import S3prlFrontend

    from espnet_ext.upstream.hub import register

    method, ckpt, _ = exported
    register()
    frontend = S3prlFrontend(frontend_conf={"upstream": HUB[method], "path_or_url": str(ckpt)},
                             multilayer_feature=True)
    wavs, wavs_len = speech_batch(2)
    feats, feats_len = frontend(wavs, wavs_len)
    assert feats.shape[0] == 2 and feats.shape[2] == frontend.output_size() == 32
    assert int(feats_len.max()) == feats.shape[1]


def test_export_refuses_wrong_family_newer_format_and_foreign_files(exported, tmp_path):
    from s3prl.nn import S3PRLUpstream

    from espnet_ext.upstream.hub import register
    from tests.upstream.fixtures import build_apc

    method, ckpt, _ = exported
    register()
    other = "xling_wav2vec2" if method == "apc" else "xling_apc"
    with pytest.raises(ConfigError, match=f"holds a '{method}' model.*'{HUB[method]}'"):
        S3PRLUpstream(other, path_or_url=str(ckpt))
    state = torch.load(ckpt, weights_only=True)
    state["xling"]["format_version"] = 99
    torch.save(state, tmp_path / "future.pt")
    with pytest.raises(ConfigError, match="export format 99.*upgrade espnet_ext"):
        S3PRLUpstream(HUB[method], path_or_url=str(tmp_path / "future.pt"))
    build_apc(tmp_path / "s3prl_apc.ckpt")
    with pytest.raises(ConfigError, match="not exported by espnet_ext.*_local"):
        S3PRLUpstream("xling_apc", path_or_url=str(tmp_path / "s3prl_apc.ckpt"))
    with pytest.raises(ConfigError, match="does not exist.*stages 3-4"):
        S3PRLUpstream("xling_apc", path_or_url=str(tmp_path / "missing.pt"))


def test_export_of_weights_that_do_not_fit_the_config_names_both(tmp_path):
    """One family's weights under another family's config: a ConfigError naming both files."""
    from espnet_ext.pretrain.export import export_upstream

    exp = fake_exp_dir(tmp_path / "pretrain_apc", "apc")
    torch.save(build("wav2vec2").state_dict(), exp / "valid.loss.ave.pth")
    with pytest.raises(ConfigError, match=r"valid.loss.ave.pth: its weights do not fit the model "
                                          r"that .*config.yaml describes"):
        export_upstream(exp, tmp_path / "x.pt", tmp_path / "x.yaml")
    (exp / "valid.loss.ave.pth").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ConfigError, match=r"valid.loss.ave.pth.*(corrupt|truncated)"):
        export_upstream(exp, tmp_path / "x.pt", tmp_path / "x.yaml")
    assert not (tmp_path / "x.pt").exists() and not (tmp_path / "x.yaml").exists()


def test_malicious_checkpoint_is_refused_without_running_it(tmp_path):
    from s3prl.nn import S3PRLUpstream

    from espnet_ext.upstream.hub import register
    from tests.upstream.fixtures import build_malicious

    register()
    marker = tmp_path / "pwned"
    build_malicious(tmp_path / "evil.pt", marker)
    with pytest.raises(ConfigError, match="arbitrary code"):
        S3PRLUpstream("xling_apc", path_or_url=str(tmp_path / "evil.pt"))
    assert not marker.exists()


def run_pretrain(data: Path, out: Path, max_epoch: int, method: str) -> str:
    """python -m espnet_ext.bin.pretrain_train as the recipe runs it (shape file written here)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    shape = out.parent / "speech_shape"
    if not shape.exists():
        import soundfile as sf

        lines = [f"{u} {sf.info(p).frames}" for u, p in
                 (ln.split(maxsplit=1) for ln in (data / "wav.scp").read_text().splitlines())]
        shape.write_text("\n".join(lines) + "\n")
    config = out.parent / f"{method}.yaml"
    config.write_text(yaml.safe_dump({
        "model": method, "model_conf": CONFS[method], "batch_type": "numel",
        "batch_bins": 40000, "num_iters_per_epoch": 3, "optim": "adam",
        "optim_conf": {"lr": 0.002}, "num_workers": 0, "keep_nbest_models": 1,
        "best_model_criterion": [["valid", "loss", "min"]]}))
    scp = f"{data}/wav.scp,speech,sound"
    cmd = [sys.executable, "-m", "espnet_ext.bin.pretrain_train", "--config", str(config),
           "--train_data_path_and_name_and_type", scp, "--valid_data_path_and_name_and_type", scp,
           "--train_shape_file", str(shape), "--valid_shape_file", str(shape),
           "--max_epoch", str(max_epoch), "--seed", "3", "--resume", "true", "--ngpu", "0",
           "--use_tensorboard", "false", "--output_dir", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stderr


@pytest.mark.parametrize("method", [
    "apc", "mpc",
    # the trainer's resume is family-independent; one more ~50 s family only in make test-full
    pytest.param("wav2vec2", marks=pytest.mark.full)])
def test_killed_training_resumes_with_the_same_next_step_loss(method, tmp_path):
    """An interrupted run (stopped after epoch 1: what survives a kill -9) continued with
    --resume gives epoch 2 exactly as an uninterrupted run: same loss, same weights."""
    data = make_data_dir(tmp_path / "data", {f"u{i}": "x" for i in range(6)}, lang="nl",
                         seconds=0.8)
    full = run_pretrain(data, tmp_path / "a" / "exp", 2, method)
    run_pretrain(data, tmp_path / "b" / "exp", 1, method)
    resumed = run_pretrain(data, tmp_path / "b" / "exp", 2, method)
    assert "The training was resumed" in resumed

    def epoch2_train_loss(log: str) -> str:
        m = re.search(r"2epoch results: \[train\] (.*?)\[valid\]", log)
        assert m, log[-2000:]
        return re.search(r"\bloss=([0-9.e+-]+)", m.group(1)).group(1)

    assert epoch2_train_loss(full) == epoch2_train_loss(resumed)
    a = torch.load(tmp_path / "a" / "exp" / "2epoch.pth", weights_only=True)
    b = torch.load(tmp_path / "b" / "exp" / "2epoch.pth", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
