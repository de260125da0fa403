"""s3prl hub names offline-first: a tiny checkpoint laid out as s3prl's download cache loads
through the real code path with no network; an empty cache is one line within seconds; a path
always means that file."""

import hashlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from espnet_ext.errors import ConfigError
from tests.upstream.fixtures import build_malicious, build_wav2vec2


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to reach another machine fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:2]}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    from s3prl.util import download

    cache = tmp_path / "hub_cache"
    monkeypatch.setenv("XLING_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(download, "_download_dir", download._download_dir)  # restored after
    return cache


def cached_wav2vec2(cache: Path) -> Path:
    """A tiny wav2vec 2.0 where s3prl's download of ``wav2vec2`` would have put the real one."""
    from espnet_ext.upstream.download import checkpoint_source

    filepath, url = checkpoint_source("wav2vec2")
    # s3prl's layout: <cache dir>/<sha256 of the URL>.<file name of the URL>
    assert filepath.parent == cache
    assert filepath.name == f"{hashlib.sha256(url.encode()).hexdigest()}.{Path(url).name}"
    build_wav2vec2(filepath)
    return filepath


def test_hub_name_loads_from_the_cache_with_no_network(hub_cache, no_network):
    from espnet_ext.upstream import load_upstream

    cached_wav2vec2(hub_cache)
    upstream, featurizer = load_upstream("wav2vec2")  # bare name: no conf/upstream YAML
    wavs, wavs_len = torch.randn(2, 16000) * 0.1, torch.tensor([16000, 12000])
    with torch.no_grad():
        feats, feats_len = featurizer(*upstream(wavs, wavs_len))
    assert feats.shape[0] == 2 and feats.shape[2] == 8 and int(feats_len[1]) < int(feats_len[0])


def test_empty_cache_offline_is_one_line_within_seconds(hub_cache, no_network):
    from espnet_ext.upstream import load_upstream

    start = time.monotonic()
    with pytest.raises(ConfigError) as err:
        load_upstream("wav2vec2")
    assert time.monotonic() - start < 5
    msg = str(err.value)
    assert "\n" not in msg and "'wav2vec2'" in msg and str(hub_cache) in msg
    assert "downloads are off" in msg and "wav2vec2_local" in msg and "path:" in msg


def test_failed_download_is_one_line_too(hub_cache, monkeypatch):
    from s3prl.util import download

    from espnet_ext.upstream import load_upstream

    monkeypatch.delenv("HF_HUB_OFFLINE")

    def unreachable(*args, **kwargs):
        raise OSError("no route to host")

    # s3prl's two download methods, both failing as on a machine without network
    monkeypatch.setattr(download, "_download_url_to_file", unreachable)
    monkeypatch.setattr(download, "_download_url_to_file_requests", unreachable)
    with pytest.raises(ConfigError, match=r"'wav2vec2'.*could not be downloaded \(OSError: no "
                                          r"route to host\)") as err:
        load_upstream("wav2vec2")
    assert "\n" not in str(err.value)


def test_path_with_a_hub_name_means_that_file(hub_cache, no_network, tmp_path):
    from espnet_ext.upstream import load_upstream
    from espnet_ext.upstream.config import load_upstream_config

    ckpt = tmp_path / "mine.pt"
    build_wav2vec2(ckpt, dim=16)
    conf = tmp_path / "mine.yaml"
    conf.write_text(f"upstream: wav2vec2\npath: {ckpt}\n")
    cfg = load_upstream_config(conf)
    upstream, featurizer = load_upstream(cfg)  # wav2vec2_local reads mine.pt
    assert featurizer.output_size == 16
    assert not any(hub_cache.glob("*.pt"))  # nothing was fetched or cached


def test_cache_key_follows_the_cached_file(hub_cache, no_network, tmp_path):
    from espnet_ext.upstream.config import config_hash, load_upstream_config

    cfg = load_upstream_config("wav2vec2")
    assert cfg.path is None and cfg.upstream == "wav2vec2"
    path = cached_wav2vec2(hub_cache)
    key = config_hash(cfg)
    build_wav2vec2(path, dim=16)
    assert config_hash(cfg) != key


def test_crafted_pickle_in_the_cache_is_refused(hub_cache, no_network, tmp_path):
    from espnet_ext.upstream import load_upstream
    from espnet_ext.upstream.download import checkpoint_source

    marker = tmp_path / "pwned"
    build_malicious(checkpoint_source("wav2vec2")[0], marker)
    with pytest.raises(ConfigError, match="arbitrary code"):
        load_upstream("wav2vec2")
    assert not marker.exists()


def test_local_counterparts_and_unknown_names():
    from espnet_ext.upstream.config import load_upstream_config
    from espnet_ext.upstream.download import hub_names, local_counterpart

    assert local_counterpart("hubert_base") == "hubert_local"
    assert local_counterpart("wavlm_base_plus") == "wavlm_local"
    assert local_counterpart("xls_r_300m") == "wav2vec2_local"
    names = hub_names()
    assert {"apc", "tera", "modified_cpc", "wav2vec", "wav2vec2", "xlsr_53", "hubert_base",
            "wavlm_base_plus", "xls_r_300m", "data2vec"} <= set(names)
    assert not any(n.endswith("_local") or n.startswith("xling_") for n in names)
    with pytest.raises(ConfigError, match="not found; available"):
        load_upstream_config("wavlm_base_pluss")


def test_recipe_check_refuses_an_uncached_hub_name_offline_up_front(hub_cache, no_network):
    from espnet_ext.bin.check_upstreams import check_hub_checkpoint
    from espnet_ext.upstream.config import load_upstream_config

    with pytest.raises(ConfigError, match="'wav2vec2'.*not in the download cache"):
        check_hub_checkpoint(load_upstream_config("wav2vec2"))
    cached_wav2vec2(hub_cache)
    check_hub_checkpoint(load_upstream_config("wav2vec2"))  # cached: fine


def test_list_upstreams_shows_configs_and_exported_upstreams(tmp_path):
    from tests.conftest import REPO_ROOT

    (tmp_path / "upstreams").mkdir()
    (tmp_path / "upstreams" / "xling_mpc_tiny_2h.yaml").write_text(
        f"upstream: xling_mpc\npath: {tmp_path / 'missing.pt'}\n")
    proc = subprocess.run([sys.executable, "-m", "espnet_ext.bin.list_upstreams", "--no_hub",
                           "--exp_dir", str(tmp_path)], capture_output=True, text=True,
                          cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert any(ln.startswith("wavlm_base_plus") and "s3prl download cache" in ln for ln in lines)
    assert any(ln.startswith("fbank") and "no checkpoint" in ln for ln in lines)
    assert any("xling_mpc_tiny_2h.yaml" in ln and "checkpoint missing" in ln for ln in lines)
