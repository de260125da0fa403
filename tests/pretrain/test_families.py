"""One table of pre-training families, read by the task, the hub and the recipe's run plan."""

import pytest
import yaml

from espnet_ext.bin.pretrain_runs import plan
from espnet_ext.errors import ConfigError
from espnet_ext.pretrain.families import FAMILIES, family, reads_text
from tests.conftest import REPO_ROOT

CONF = REPO_ROOT / "conf" / "pretrain"


def test_task_and_hub_read_the_table():
    from espnet_ext.pretrain.task import METHODS
    from espnet_ext.upstream.hub import ENTRIES

    assert set(METHODS) == set(FAMILIES)
    assert {m: e for e, (m, _) in ENTRIES.items()} == {n: f.hub_entry for n, f in FAMILIES.items()}
    assert METHODS["mpc"].__name__ == "MPCPretrainModel"


@pytest.mark.parametrize("config, text", [
    ("apc_tiny.yaml", False), ("mpc_tiny.yaml", True), ("joint_tiny.yaml", True),
    ("wav2vec2_tiny.yaml", False),
])
def test_shipped_configs_read_text_as_their_family_says(config, text):
    assert reads_text(yaml.safe_load((CONF / config).read_text())) is text


def test_mpc_reads_text_only_when_its_config_sets_a_text_weight_above_0():
    assert not reads_text({"model": "mpc", "model_conf": {"num_layers": 2}})
    # every weight 0: the audio-only model, whose pool needs no phones
    assert not reads_text({"model": "mpc", "model_conf": {"paired_weight": 0.0, "text_weight": 0}})
    assert reads_text({"model": "mpc", "model_conf": {"paired_weight": 0.5, "text_weight": 0}})
    with pytest.raises(ConfigError, match="must be numbers"):
        reads_text({"model": "mpc", "model_conf": {"text_weight": "lots"}})
    with pytest.raises(ConfigError, match="unknown pre-training model 'hubert'; known"):
        family("hubert")


def test_run_plan_gives_arms_to_text_configs_only_and_none_to_the_control():
    runs = [r.line() for r in plan(f"{CONF}/apc_tiny.yaml {CONF}/mpc_tiny.yaml:0,2", "0.5 1",
                                   "twin paired", "1 3")]
    assert runs[:6] == [f"{CONF}/apc_tiny.yaml 0.5 main 1 false false",
                        f"{CONF}/apc_tiny.yaml 1 main 1 false false",
                        f"{CONF}/mpc_tiny.yaml 0 main 1 true true",
                        f"{CONF}/mpc_tiny.yaml 2 main 1 true true",
                        f"{CONF}/mpc_tiny.yaml 2 twin 1 true true",
                        f"{CONF}/mpc_tiny.yaml 2 paired 1 true true"]
    # seeds outermost: the same runs again with seed 3
    assert runs[6:] == [" ".join(f[:3] + ["3"] + f[4:]) for f in (r.split() for r in runs[:6])]


def test_run_plan_refuses_bad_arms_and_configs(tmp_path):
    with pytest.raises(ConfigError, match="--pretrain_arms 'joint': the arms are twin and paired"):
        plan(f"{CONF}/apc_tiny.yaml", "1", "joint", "1")
    bad = tmp_path / "list.yaml"
    bad.write_text("- 1\n")
    with pytest.raises(ConfigError, match=f"{bad}: expected a YAML mapping"):
        plan(str(bad), "1", "", "1")
    (tmp_path / "x.yaml").write_text("model: hubert\n")
    with pytest.raises(ConfigError, match="unknown pre-training model 'hubert'"):
        plan(str(tmp_path / "x.yaml"), "1", "", "1")
