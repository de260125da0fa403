"""Upstream configs and loading: every family's real checkpoint format, safety, cache key."""

import re
import sys
from pathlib import Path

import pytest
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fixtures  # noqa: E402

from espnet_ext.errors import ConfigError  # noqa: E402
from espnet_ext.upstream import (  # noqa: E402
    UpstreamConfig,
    config_hash,
    load_upstream,
    load_upstream_config,
)
from espnet_ext.upstream.config import DEFAULT_CONF_DIR  # noqa: E402

LENS = (16000, 9000)  # two waves of different lengths (1 s, 0.56 s)


def _wavs():
    g = torch.Generator().manual_seed(0)
    wavs = torch.randn(2, max(LENS), generator=g) * 0.1
    wavs[1, LENS[1]:] = 0
    return wavs, torch.tensor(LENS)


def _write_conf(d: Path, name: str, **kv) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}.yaml").write_text(yaml.safe_dump(kv))
    return d / f"{name}.yaml"


@pytest.fixture(scope="module")
def ckpt_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt")
    built = {fam: (b(d / f"{fam}.pt"), entry) for fam, (b, entry) in fixtures.BUILDERS.items()}
    return d, built


@pytest.mark.parametrize("family", sorted(fixtures.BUILDERS))
def test_family_contract_determinism_backward(family, ckpt_dir, tmp_path, monkeypatch):
    d, built = ckpt_dir
    (n_layers, dim), entry = built[family]
    conf = _write_conf(tmp_path, family, upstream=entry, path=f"{family}.pt")
    monkeypatch.setenv("XLING_CKPT_DIR", str(d))  # relative path resolved against it
    up, feat = load_upstream(conf)
    assert up.num_layers == n_layers and up.hidden_sizes == [dim] * n_layers
    assert not up.training and not any(p.requires_grad for p in up.parameters())

    wavs, lens = _wavs()
    rate = up.downsample_rates[0]
    exp_lens = [(n - 1) // rate + 1 for n in LENS]
    with torch.no_grad():
        hs, hs_len = up(wavs, lens)
        hs2, _ = up(wavs, lens)
    assert len(hs) == n_layers
    for h, hl in zip(hs, hs_len):
        assert h.shape == (2, exp_lens[0], dim) and hl.tolist() == exp_lens
    for a, b in zip(hs, hs2):
        assert torch.equal(a, b), "eval mode must be deterministic"
    y, y_len = feat(hs, hs_len)
    assert y.shape == (2, exp_lens[0], dim) and y_len.tolist() == exp_lens

    # Fine-tuning: gradients reach the upstream's weights.
    conf = _write_conf(tmp_path, family, upstream=entry, path=f"{family}.pt", frozen=False,
                       layers=[n_layers - 1])
    up, feat = load_upstream(conf)
    assert up.training
    y, _ = feat(*up(wavs, lens))
    assert y.shape[-1] == dim
    y.pow(2).mean().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in up.parameters())


def test_layer_selection_and_single_layer(ckpt_dir, tmp_path):
    d, built = ckpt_dir
    conf = _write_conf(tmp_path, "w", upstream="wav2vec2_local", path=str(d / "wav2vec2.pt"),
                       layers=[0, 2])
    up, feat = load_upstream(conf)
    assert feat.layer_selections == [0, 2] and feat.weights.shape == (2,)
    wavs, lens = _wavs()
    with torch.no_grad():
        hs, hl = up(wavs, lens)
        one = _write_conf(tmp_path, "one", upstream="wav2vec2_local",
                          path=str(d / "wav2vec2.pt"), layers=[1])
        _, feat1 = load_upstream(one)
        assert torch.equal(feat1(hs, hl)[0], hs[1])
    bad = _write_conf(tmp_path, "bad", upstream="wav2vec2_local", path=str(d / "wav2vec2.pt"),
                      layers=[5])
    with pytest.raises(ConfigError, match=r"layers \[5\].*\[0, 2\]"):
        load_upstream(bad)


def test_fbank_needs_no_checkpoint():
    up, feat = load_upstream("fbank")
    wavs, lens = _wavs()
    with torch.no_grad():
        y, y_len = feat(*up(wavs, lens))
    assert y.shape[0] == 2 and y_len.tolist() == [(n - 1) // 160 + 1 for n in LENS]


def test_missing_checkpoint_says_what_where_and_published(tmp_path, monkeypatch):
    monkeypatch.setenv("XLING_CKPT_DIR", str(tmp_path))
    with pytest.raises(ConfigError) as e:
        load_upstream_config("wav2vec2_base")
    msg = str(e.value)
    assert "wav2vec_small.pt" in msg and "XLING_CKPT_DIR" in msg and "published" in msg
    monkeypatch.delenv("XLING_CKPT_DIR")
    with pytest.raises(ConfigError, match=r"\$\{XLING_CKPT_DIR\}, which is not set"):
        load_upstream_config("wav2vec2_base")


def test_unknown_key_and_wrong_type_raise(tmp_path):
    conf = _write_conf(tmp_path, "x", upstream="fbank", layer=[1])
    with pytest.raises(ConfigError, match=r"unknown key\(s\) 'layer'; valid keys: name, "
                                          r"upstream, path, layers"):
        load_upstream_config(conf)
    conf = _write_conf(tmp_path, "x", upstream="fbank", frozen="yes")
    with pytest.raises(ConfigError, match="key 'frozen' must be true or false"):
        load_upstream_config(conf)


@pytest.mark.parametrize("upstream, options, message", [
    ("wav2vec2_local", {"nonsense": 1},
     r"options key 'nonsense' is not used by s3prl's 'wav2vec2_local' \(it would be ignored\); "
     r"accepted keys: fairseq, feature_selection, legacy$"),
    ("apc_local", {"legacy": True}, r"options key 'legacy' .* accepted keys: \(none\)$"),
    ("hubert_local", {"ckpt": "/y.pt"},
     r"options key 'ckpt' .* accepted keys: fairseq, legacy$"),
    ("xling_mpc", {"fairseq": True},
     r"options key 'fairseq' .* 'xling_mpc' .* accepted keys: \(none\)$"),
    ("fbank", {"frame_shift": 10}, r"upstream 'fbank' takes no options"),
    ("wav2vec2_local", {1: True}, r"options key 1 is not a name"),
])
def test_unknown_options_name_the_file_key_and_accepted_keys(tmp_path, upstream, options,
                                                             message):
    path = None if upstream == "fbank" else "/x.pt"
    conf = _write_conf(tmp_path, "o", upstream=upstream, path=path, options=options)
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(conf))}: {message}"):
        load_upstream_config(conf, require_checkpoint=False)


def test_options_the_entry_takes_are_accepted(tmp_path, caplog):
    for upstream, options in [("wav2vec2_local", {"fairseq": True}),
                              ("mockingjay_local", {"options_config": "x.yaml"}),
                              ("hubert_base", {"legacy": True})]:
        conf = _write_conf(tmp_path, "o", upstream=upstream, options=options,
                           **({} if upstream == "hubert_base" else {"path": "/x.pt"}))
        assert load_upstream_config(conf, require_checkpoint=False).options == options
    # a family whose expert reads **kwargs itself: accepted, and said to be unchecked
    conf = _write_conf(tmp_path, "o", upstream="vggish", options={"anything": 1})
    assert load_upstream_config(conf, require_checkpoint=False).options == {"anything": 1}
    assert "options of s3prl's 'vggish' are unchecked" in caplog.text


@pytest.mark.parametrize("url", ["https://example.invalid/wav2vec_small.pt",
                                 "http:wav2vec_small.pt", "s3://bucket/x.pt"])
def test_url_path_refused(url, tmp_path):
    conf = _write_conf(tmp_path, "u", upstream="wav2vec2_local", path=url)
    with pytest.raises(ConfigError, match="is a URL; nothing is downloaded"):
        load_upstream_config(conf)
    with pytest.raises(ConfigError, match="is a URL"):
        load_upstream(UpstreamConfig(name="u", upstream="wav2vec2_local", path=url))


def test_malicious_pickle_refused_and_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    ckpt = tmp_path / "evil.pt"
    fixtures.build_malicious(ckpt, marker)
    conf = _write_conf(tmp_path, "evil", upstream="apc_local", path=str(ckpt))
    with pytest.raises(ConfigError, match=r"\(posix\.system\).*could run arbitrary code"):
        load_upstream(conf)
    assert not marker.exists()


def test_config_hash_tracks_checkpoint_bytes_and_values(tmp_path):
    ckpt = tmp_path / "apc.pt"
    fixtures.build_apc(ckpt)
    conf = _write_conf(tmp_path, "a", upstream="apc_local", path=str(ckpt))
    h0 = config_hash(load_upstream_config(conf))
    assert config_hash(load_upstream_config(conf)) == h0
    _write_conf(tmp_path, "a", upstream="apc_local", path=str(ckpt), layers=[0, 1])
    assert config_hash(load_upstream_config(conf)) != h0
    _write_conf(tmp_path, "a", upstream="apc_local", path=str(ckpt))
    state = torch.load(ckpt, weights_only=True)
    state["model"]["rnn_layers.0.bias_hh_l0"] += 1
    torch.save(state, ckpt)
    assert config_hash(load_upstream_config(conf)) != h0


# conf/upstream/<stem>.yaml -> fixture family whose format that release uses
CONF_FAMILY = {"apc": "apc", "mockingjay": "mockingjay", "tera": "tera", "cpc": "cpc",
               "wav2vec": "wav2vec", "wav2vec2_base": "wav2vec2", "wav2vec2_large": "wav2vec2",
               "hubert_base": "hubert", "xlsr53": "wav2vec2", "fbank": None,
               # s3prl hub names: the checkpoint comes from s3prl's download cache
               "wavlm_base_plus": "hub", "xls_r_300m": "hub", "data2vec_base": "hub"}


def test_every_shipped_conf_parses_and_matches_its_format(ckpt_dir, tmp_path, monkeypatch):
    d, built = ckpt_dir
    stems = sorted(p.stem for p in DEFAULT_CONF_DIR.glob("*.yaml"))
    assert stems == sorted(CONF_FAMILY)
    monkeypatch.setenv("XLING_CKPT_DIR", str(tmp_path))
    for stem in stems:
        cfg = load_upstream_config(stem, require_checkpoint=False)
        fam = CONF_FAMILY[stem]
        if fam is None:
            assert cfg.path is None
            continue
        assert cfg.published and "://" not in cfg.published
        if fam == "hub":  # no path: a hub name whose local copy has an entry that reads it
            from espnet_ext.upstream.download import is_hub_name, local_counterpart

            assert cfg.path is None and is_hub_name(cfg.upstream), stem
            assert local_counterpart(cfg.upstream), stem
            continue
        assert cfg.upstream == built[fam][1], stem
        Path(cfg.path).parent.mkdir(parents=True, exist_ok=True)
        Path(cfg.path).write_bytes((d / f"{fam}.pt").read_bytes())  # real file name
        assert load_upstream_config(stem).path == cfg.path
        up, _ = load_upstream(stem)  # the entry reads this family's format
        assert up.num_layers == built[fam][0][0]
