"""Masked prediction on log-mel (mpc): the trained encoder is what s3prl runs after export, the
twin is exactly the audio-only model, every text arm learns, durations follow the table."""

import argparse
import copy
import json

import pytest
import torch

from tests.pretrain.test_joint import PHONES, assert_every_loss_falls, phone_batch
from tests.pretrain.test_pretrain import MPC_CONF, speech_batch

DURATIONS = {"a": [3, 5, 7], "b": [10], "s": [4, 6]}


def build(conf, seed=0):
    from espnet_ext.pretrain.task import PretrainTask

    torch.manual_seed(seed)
    return PretrainTask.build_model(argparse.Namespace(model="mpc", model_conf=conf))


def text_conf(text_weight=1.0, paired_weight=1.0):
    return {**copy.deepcopy(MPC_CONF), "phone_list": PHONES, "phone_durations": DURATIONS,
            "text_weight": text_weight, "paired_weight": paired_weight, "text_mask_span": 3}


@pytest.mark.parametrize("stack,entries", [(1, ("xling_mpc", "tera_local")),
                                            (4, ("xling_mpc",))])
def test_trained_encoder_is_what_s3prl_runs_after_export(tmp_path, stack, entries):
    """Features, positions and layers of the training model equal what S3PRLUpstream runs on
    the exported checkpoint (so what pre-training optimised is what the downstream sees), at
    10 ms (also s3prl's own tera_local) and with frames stacked to 40 ms."""
    from s3prl.nn import S3PRLUpstream

    from espnet_ext.upstream.hub import register
    from espnet_ext.versioning import EXPORTED_UPSTREAM, stamp

    model = build({**MPC_CONF, "input_stack": stack, "mask_span": 2}).eval()
    ckpt = tmp_path / "mpc.pt"
    torch.save({**model.export_state(), "xling": {**stamp(EXPORTED_UPSTREAM), "method": "mpc"}},
               ckpt)
    register()
    wavs, wavs_len = speech_batch(2)
    with torch.no_grad():
        feats, lengths = model.features(wavs, wavs_len)
        ours = model.encode(feats, lengths, all_layers=True)
    assert len(ours) == MPC_CONF["transformer"]["num_hidden_layers"] + 1
    for entry in entries:
        upstream = S3PRLUpstream(entry, path_or_url=str(ckpt)).eval()
        assert upstream.downsample_rates[0] == 160 * stack
        with torch.no_grad():
            hs, hs_len = upstream(wavs, wavs_len)
        assert len(hs) == len(ours)
        # S3PRLUpstream pads every output to ceil(wav_len / rate) frames (kaldi framing at
        # 10 ms gives 2 fewer before stacking)
        for h, o in zip(hs, ours):
            for i, n in enumerate(lengths.tolist()):
                assert torch.allclose(h[i, :n], o[i, :n], atol=1e-5), entry
        assert all(0 <= int(a) - int(b) <= 2 for a, b in zip(hs_len[0], lengths))


def test_stacked_input_is_k_consecutive_frames_and_durations_follow_the_rate():
    from espnet_ext.upstream.mpc_expert import stack_frames

    feats = torch.arange(10 * 3, dtype=torch.float).view(10, 3)
    stacked = stack_frames(feats, 4)
    assert stacked.shape == (3, 12)
    assert torch.equal(stacked[1], feats[4:8].reshape(-1))
    assert torch.equal(stacked[2, 6:], torch.zeros(6))  # the last group zero-padded
    model = build({**text_conf(), "input_stack": 4})
    ids = {p: i for i, p in enumerate(PHONES)}
    torch.manual_seed(0)
    d = model.draw_durations(torch.tensor([ids["a"]] * 300 + [ids["b"]] * 50))
    # 10 ms frames 3, 5, 7 and 10 -> 40 ms frames 1, 1, 2 and 2 (at least one each)
    assert set(d[:300].tolist()) == {1, 2} and set(d[300:].tolist()) == {2}


def test_twin_gradients_equal_the_audio_only_model():
    """Text weights 0 with a phone list: same initialisation, losses and gradients as mpc alone."""
    twin = build(text_conf(0.0, 0.0), seed=3)
    audio = build(copy.deepcopy(MPC_CONF), seed=3)
    speech_params = dict(audio.named_parameters())
    for name, p in twin.named_parameters():
        if name in speech_params:
            assert torch.equal(p, speech_params[name]), name
        else:
            assert name.startswith(("text_", "ctc_head")), name
    assert all(torch.equal(twin.get_buffer(b), audio.get_buffer(b))
               for b in ("projections", "codebooks"))
    speech, speech_len = speech_batch()
    text, text_len = phone_batch(4, 6, seed=1)
    losses = []
    for model, kwargs in ((twin, {"text": text, "text_lengths": text_len,
                                  "unpaired": text, "unpaired_lengths": text_len}),
                          (audio, {})):
        torch.manual_seed(7)
        loss, _, _ = model(speech, speech_len, **kwargs)
        loss.backward()
        losses.append(loss)
    assert torch.equal(losses[0], losses[1])
    for name, p in audio.named_parameters():
        other = twin.get_parameter(name).grad
        # (the per-layer output norms of the pre-LN stack only act at inference: no gradient)
        assert (p.grad is None and other is None) or torch.equal(p.grad, other), name


def test_each_text_arm_learns_on_tiny_data():
    assert_every_loss_falls(build(text_conf()), ["loss_paired_ctc", "loss_text_mlm", "loss_mpc"],
                            steps=30)


def test_reconstruction_target_learns_and_weight_zero_changes_nothing():
    """recon_weight adds an L1 reconstruction of the masked frames that falls on tiny data; with
    weight 0 no head is built and the model is the codes-only one, parameter for parameter."""
    assert_every_loss_falls(build({**copy.deepcopy(MPC_CONF), "recon_weight": 1.0}),
                            ["loss_recon", "loss_mpc"], steps=30)
    plain = build(copy.deepcopy(MPC_CONF), seed=2)
    zero = build({**copy.deepcopy(MPC_CONF), "recon_weight": 0.0}, seed=2)
    assert [n for n, _ in zero.named_parameters()] == [n for n, _ in plain.named_parameters()]
    assert all(torch.equal(a, b) for a, b in zip(zero.parameters(), plain.parameters()))


def test_phone_durations_are_drawn_from_the_table():
    model = build(text_conf())
    ids = {p: i for i, p in enumerate(PHONES)}
    phones = torch.tensor([ids["a"]] * 300 + [ids["b"]] * 50 + [ids["k"]] * 300)
    torch.manual_seed(0)
    d = model.draw_durations(phones)
    assert set(d[:300].tolist()) == {3, 5, 7}
    assert set(d[300:350].tolist()) == {10}
    # a phone espeak-ng never timed draws from every phone's durations pooled
    assert set(d[350:].tolist()) <= {3, 5, 7, 10, 4, 6} and len(set(d[350:].tolist())) > 3


def test_span_mask_covers_about_the_asked_share_in_spans():
    from espnet_ext.pretrain.mpc import span_mask

    torch.manual_seed(0)
    lengths = torch.tensor([2000, 1500, 7])
    mask = span_mask(lengths, 2000, prob=0.4, span=10)
    assert not mask[1, 1500:].any() and not mask[2, 7:].any()
    assert mask[2].any()  # even a short utterance gets a span
    share = mask[0].float().mean().item()
    assert 0.25 < share < 0.45, share  # overlapping spans: a little below prob
    runs = torch.diff(mask[0].int()).abs().sum().item() / 2
    assert mask[0].sum().item() / runs >= 10  # contiguous spans, not single frames


@pytest.mark.parametrize("bad,match", [
    ({"text_weight": 1.0, "phone_list": None}, "phone_list"),
    ({"text_weight": 1.0, "phone_durations": None}, "phone_durations"),
    ({"audio": {"kaldi": {"fbank": {"frame_shift": 20.0}}}}, "frame_shift must be 10"),
    ({"phone_durations": {"a": []}}, "non-empty"),
    ({"recon_weight": -1.0}, "recon_weight"),
])
def test_bad_options_are_refused_with_the_option_named(bad, match):
    with pytest.raises(ValueError, match=match):
        build({**text_conf(), **bad})


def test_random_init_control_is_the_first_weights_of_every_run_of_its_config(tmp_path):
    """--pretrain_hours 0: the config's speech model as ESPnet builds it before update 1 (its
    seed), whatever text arms the config has; exported through the same path as trained runs."""
    import yaml
    from espnet2.torch_utils.set_all_random_seed import set_all_random_seed

    from espnet_ext.pretrain.export import export_upstream, write_random_init

    config = tmp_path / "mpc.yaml"
    config.write_text(yaml.safe_dump({"model": "mpc", "model_conf": text_conf()}))
    init = write_random_init(config, seed=5, exp_dir=tmp_path / "pretrain_mpc_0h")
    state = torch.load(init, weights_only=True)
    set_all_random_seed(5)  # what AbsTask.main_worker does before build_model
    from espnet_ext.pretrain.task import PretrainTask

    joint = PretrainTask.build_model(argparse.Namespace(model="mpc", model_conf=text_conf()))
    speech = {k: v for k, v in joint.state_dict().items() if not k.startswith(("text_", "ctc_"))}
    assert state.keys() == speech.keys()
    assert all(torch.equal(state[k], speech[k]) for k in state)
    info = export_upstream(tmp_path / "pretrain_mpc_0h", tmp_path / "x.pt", tmp_path / "x.yaml",
                           model_file=init, info={"variant": "random_init"})
    assert info["method"] == "mpc" and info["variant"] == "random_init" and info["seed"] == 5
    assert json.loads((tmp_path / "x.json").read_text())["arm"] == "random_init"


def test_text_pass_gets_at_most_its_share_of_the_speech_frames():
    """The unpaired sentences are taken in turn up to text_frame_share x the batch's speech
    frames (the last one cropped), so the joint model's cost per update is bounded."""
    model = build({**text_conf(paired_weight=0.0), "text_frame_share": 0.25})
    seen = []
    encode = model.encode

    def spy(x, lengths, embedded=False, all_layers=False):
        if embedded:
            seen.append(lengths.clone())
        return encode(x, lengths, embedded=embedded, all_layers=all_layers)

    model.encode = spy
    speech, speech_len = speech_batch()
    text, text_len = phone_batch(4, 40, seed=1)  # 40 phones x 3-10 frames: far over budget
    torch.manual_seed(0)
    model(speech, speech_len, unpaired=text, unpaired_lengths=text_len)
    speech_frames = int(model.features(speech, speech_len)[1].sum())
    budget = -(-speech_frames // 4)
    assert len(seen) == 1 and int(seen[0].sum()) == budget
    # a generous share takes whole sentences, all of them
    model.text_frame_share = 100.0
    seen.clear()
    model(speech, speech_len, unpaired=text, unpaired_lengths=text_len)
    assert len(seen[0]) == len(text)
