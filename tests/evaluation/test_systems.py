"""What a report's systems are comes from the metadata written at export, not from names."""

import json

import pytest
import torch

from espnet_ext.errors import XlingError
from espnet_ext.evaluation.systems import describe_upstreams
from espnet_ext.pretrain.export import arm_of


@pytest.mark.parametrize("info, arm", [
    ({"method": "apc", "pretrain_hours": "1"}, "apc"),
    ({"method": "mpc", "pretrain_hours": "0", "variant": "random_init"}, "random_init"),
    ({"method": "mpc", "pretrain_hours": "0", "text_weight": 1.0}, "random_init"),
    ({"method": "mpc", "variant": "twin", "text_weight": 0.0, "paired_weight": 0.0}, "twin"),
    ({"method": "mpc", "variant": "paired", "text_weight": 0.0, "paired_weight": 1.0}, "paired"),
    ({"method": "mpc", "text_weight": 1.0, "paired_weight": 1.0}, "joint"),
    ({"method": "mpc", "text_weight": 0.0, "paired_weight": 1.0}, "paired"),
    ({"method": "mpc", "text_weight": 1.0, "paired_weight": 0.0}, "unpaired"),
    ({"method": "joint", "text_weight": 0.0, "paired_weight": 0.0, "audio_only_twin": True},
     "twin"),
])
def test_arm_of_export_metadata(info, arm):
    assert arm_of(info) == arm


def test_describe_reads_sidecar_then_checkpoint_then_calls_the_rest_external(tmp_path):
    ups = tmp_path / "upstreams"
    ups.mkdir()
    # named like a twin, but its metadata says otherwise: the metadata wins
    (ups / "xling_a_twin_1h.json").write_text(json.dumps(
        {"method": "apc", "pretrain_config": "conf/pretrain/apc_tiny.yaml", "pretrain_hours": "1",
         "variant": "main", "arm": "apc"}))
    # an export from before sidecars: the checkpoint's block
    torch.save({"xling": {"method": "mpc", "pretrain_config": "conf/pretrain/mpc_tiny.yaml",
                          "pretrain_hours": "2", "variant": "twin"}}, ups / "old_2h.pt")
    # only a later seed was exported
    (ups / "xling_s_1h_seed2.json").write_text(json.dumps(
        {"method": "apc", "pretrain_config": "c.yaml", "pretrain_hours": "1"}))
    got = describe_upstreams(tmp_path, ["fbank", "xling_a_twin_1h", "old_2h", "xling_s_1h",
                                        "wavlm_base_plus"])
    assert got["fbank"]["arm"] == "fbank"
    assert got["xling_a_twin_1h"] == {"arm": "apc", "pretrain_config": "conf/pretrain/apc_tiny.yaml",
                                      "pretrain_hours": 1.0}
    assert got["old_2h"] == {"arm": "twin", "pretrain_config": "conf/pretrain/mpc_tiny.yaml",
                             "pretrain_hours": 2.0}
    assert got["xling_s_1h"]["arm"] == "apc"
    assert got["wavlm_base_plus"] == {"arm": "external", "pretrain_config": "",
                                      "pretrain_hours": None}
    (ups / "broken.json").write_text("{")
    with pytest.raises(XlingError, match=r"broken.json: unreadable upstream metadata.*stage 4"):
        describe_upstreams(tmp_path, ["broken"])
