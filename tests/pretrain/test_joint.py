"""Joint text-audio model: every loss learns, the twin is exactly the audio-only model,
the export is an audio-only s3prl upstream (xling_joint)."""

import argparse
import copy
import json

import numpy as np
import pytest
import torch
import yaml

from tests.pretrain.test_pretrain import W2V2_CONF, speech_batch

PHONES = ["<blank>", "<unk>", "a", "b", "d", "e", "k", "l", "n", "o", "s", "t"]


def joint_conf(text_weight=1.0, paired_weight=1.0):
    return {"phone_list": PHONES, "speech": copy.deepcopy(W2V2_CONF),
            "text_weight": text_weight, "paired_weight": paired_weight,
            "frames_per_phone": 2, "text_mask_prob": 0.5, "text_mask_length": 3}


def build(method, conf, seed=0):
    from espnet_ext.pretrain.task import PretrainTask

    torch.manual_seed(seed)
    return PretrainTask.build_model(argparse.Namespace(model=method, model_conf=conf))


def phone_batch(n, length, seed):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(2, len(PHONES), (n, length), generator=g)
    ids[-1, length - 3:] = -1  # padding as ESPnet's collate writes it
    lengths = torch.tensor([length] * (n - 1) + [length - 3])
    return ids, lengths


def assert_every_loss_falls(model, losses, steps):
    """Train ``model`` on one batch of speech, transcript phones and a learnable unpaired text
    (phone k followed by phone k+1); each of ``losses`` must end lower than it started."""
    speech, speech_len = speech_batch()
    text, text_len = phone_batch(4, 6, seed=1)
    unpaired, unpaired_len = phone_batch(4, 12, seed=2)
    unpaired = torch.where(unpaired >= 0, 2 + (torch.arange(12)[None, :] % (len(PHONES) - 2)),
                           unpaired)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    history = {k: [] for k in losses}
    for step in range(steps):
        np.random.seed(step)  # the wav2vec 2.0 masks come from numpy
        loss, stats, _ = model(speech, speech_len, text=text, text_lengths=text_len,
                               unpaired=unpaired, unpaired_lengths=unpaired_len)
        opt.zero_grad()
        loss.backward()
        opt.step()
        for k in history:
            history[k].append(float(stats[k]))
    for k, values in history.items():
        assert np.mean(values[-5:]) < np.mean(values[:5]), (k, values)


def test_each_loss_goes_down_on_tiny_data():
    assert_every_loss_falls(build("joint", joint_conf()),
                            ["loss_paired_ctc", "loss_text_mlm", "loss_contrastive"], steps=40)


def test_twin_gradients_equal_the_audio_only_model():
    """text weights 0: same parameters, same random numbers, same gradients as wav2vec2."""
    twin = build("joint", joint_conf(0.0, 0.0), seed=3)
    audio = build("wav2vec2", copy.deepcopy(W2V2_CONF), seed=3)
    # the speech branch is created first: identical initialisation
    for (n1, p1), (n2, p2) in zip(twin.speech.named_parameters(), audio.named_parameters()):
        assert n1 == n2 and torch.equal(p1, p2)
    speech, speech_len = speech_batch()
    text, text_len = phone_batch(4, 6, seed=1)
    grads = []
    for model, kwargs in ((twin, {"text": text, "text_lengths": text_len,
                                  "unpaired": text, "unpaired_lengths": text_len}),
                          (audio, {})):
        torch.manual_seed(7)
        np.random.seed(7)
        loss, _, _ = model(speech, speech_len, **kwargs)
        loss.backward()
        grads.append(loss)
    assert torch.equal(grads[0], grads[1])
    for (n1, p1), (_, p2) in zip(twin.speech.named_parameters(), audio.named_parameters()):
        assert (p1.grad is None) == (p2.grad is None)
        if p1.grad is not None:
            assert torch.equal(p1.grad, p2.grad), n1
    # the text-only parameters get no gradient at all
    assert all(p.grad is None for n, p in twin.named_parameters() if not n.startswith("speech."))


def test_joint_and_twin_export_as_audio_only_upstreams(tmp_path):
    from s3prl.nn import S3PRLUpstream

    from espnet_ext.pretrain.export import export_upstream
    from espnet_ext.upstream.hub import register

    register()
    wavs, wavs_len = speech_batch(2)
    for name, conf in (("joint", joint_conf()), ("twin", joint_conf(0.0, 0.0))):
        exp = tmp_path / name
        exp.mkdir()
        model = build("joint", conf)
        (exp / "config.yaml").write_text(yaml.safe_dump(
            {"model": "joint", "model_conf": conf, "seed": 1}))
        torch.save(model.state_dict(), exp / "valid.loss.ave.pth")
        info = export_upstream(exp, tmp_path / f"{name}.pt", tmp_path / f"{name}.yaml")
        assert info["method"] == "joint" and info["audio_only_twin"] == (name == "twin")
        upstream = S3PRLUpstream("xling_joint", path_or_url=str(tmp_path / f"{name}.pt")).eval()
        with torch.no_grad():
            hs, _ = upstream(wavs, wavs_len)
            # inference is the speech branch alone: same hidden states as the model's encoder
            model.eval()
            ref = model.speech.wav2vec2.extract_features(wavs[:1], None)["x"][0]
        assert len(hs) == W2V2_CONF["model"]["encoder_layers"] + 1
        # the longer utterance (unpadded); s3prl pads its frame count to the wave length
        assert torch.allclose(hs[-1][0, :ref.size(0)], ref, atol=1e-5)


def test_espnet_asr_trains_a_step_with_the_joint_upstream_as_frontend(tmp_path):
    """The exported joint model as ESPnet's ``frontend: s3prl`` (fine-tuned), built from its
    generated upstream YAML by the same arguments the recipe passes to asr_train."""
    import dataclasses

    from espnet_ext.asr.task import register_frontends
    from espnet_ext.pretrain.export import export_upstream
    from espnet_ext.upstream.config import load_upstream_config
    from espnet_ext.asr.inputs import frontend_args

    register_frontends()
    from espnet2.tasks.asr import ASRTask

    exp = tmp_path / "joint"
    exp.mkdir()
    conf = joint_conf()
    model = build("joint", conf)
    (exp / "config.yaml").write_text(yaml.safe_dump({"model": "joint", "model_conf": conf, "seed": 1}))
    torch.save(model.state_dict(), exp / "valid.loss.ave.pth")
    export_upstream(exp, tmp_path / "xling_joint.pt", tmp_path / "xling_joint.yaml")
    cfg = dataclasses.replace(load_upstream_config(tmp_path / "xling_joint.yaml"), frozen=False)

    tokens = ["<blank>", "<unk>", "a", "b", "c", "<sos/eos>"]
    argv = frontend_args(cfg) + [
        "--token_list", json.dumps(tokens), "--input_size", "null",
        "--encoder", "transformer", "--encoder_conf", "output_size=32",
        "--encoder_conf", "attention_heads=2", "--encoder_conf", "linear_units=64",
        "--encoder_conf", "num_blocks=1", "--encoder_conf", "input_layer=linear",
        "--decoder", "transformer", "--decoder_conf", "attention_heads=2",
        "--decoder_conf", "linear_units=64", "--decoder_conf", "num_blocks=1",
        "--normalize", "utterance_mvn", "--output_dir", str(tmp_path / "asr"),
    ]
    args = ASRTask.get_parser().parse_args(argv)
    args.token_list = tokens  # the parser takes a file; a list is what build_model reads
    torch.manual_seed(0)
    asr = ASRTask.build_model(args)
    assert type(asr.frontend).__name__ == "S3prlFrontend"
    upstream_params = [p for n, p in asr.named_parameters() if n.startswith("frontend.upstream.")]
    assert upstream_params
    before = [p.detach().clone() for p in upstream_params]

    wavs, wavs_len = speech_batch(2)
    text = torch.tensor([[2, 3, 4], [3, 2, -1]])
    text_len = torch.tensor([3, 2])
    optim = torch.optim.Adam(asr.parameters(), lr=1e-3)
    loss, stats, _ = asr(speech=wavs, speech_lengths=wavs_len, text=text, text_lengths=text_len)
    assert torch.isfinite(loss) and stats["loss_ctc"] is not None
    loss.backward()
    optim.step()
    # fine-tuned: the Dutch encoder itself moved, not only the downstream model
    assert any(not torch.equal(a, b.detach()) for a, b in zip(before, upstream_params))


def test_phone_list_must_have_blank_and_unk():
    with pytest.raises(ValueError, match="<blank>"):
        build("joint", {**joint_conf(), "phone_list": ["a", "b"]})
