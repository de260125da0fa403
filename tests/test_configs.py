"""Config dry runs: every shipped YAML is built the way the recipe builds it.

Discovered: every ``*.yaml``/``*.yml`` under ``conf/`` and ``egs2/*/*/conf/`` (following symlinks;
a file reached twice, e.g. through ``egs2/offline_mini/xling1/conf -> ../../../conf``, is tested
once, named by its real path). The directory under the conf root says what a file is:

- ``asr/``: ESPnet's ASRTask (with our frontends registered, as ``espnet_ext.bin.asr_train``)
  parses it with fbank's input side (``espnet_ext.asr.inputs``), builds the model,
  optimizer and scheduler, and runs one forward on a tiny batch.
- ``pretrain/``: the same through our ``PretrainTask`` with the options ``xling.sh`` passes
  (``pretrain_one``: data options, ``phone_list`` for the joint model); GPU-sized ones (wav2vec2
  and joint ``*_base``) are only built, the others also run one forward.
- ``upstream/``: our loader without checkpoints (``require_checkpoint=False``) and the s3prl hub
  entry check of ``espnet_ext.upstream.load_upstream``.
- ``decode/``: ESPnet's ``asr_inference`` parser after our ``ctc_greedy`` key is split off.
- ``degrade/``: our degrade loader, and every condition applied to a short tone.

A file in any other place fails: a new kind of config needs a builder here. ESPnet does not check
the type of values read from ``--config``, so :func:`check_values` checks the choices and number
or bool types of the top-level keys, so that a mistyped value fails too, not only a mistyped key.
"""

import argparse
import json
import os
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest
import torch
import yaml

from espnet_ext.errors import ConfigError
from tests.conftest import REPO_ROOT, make_wav
from tests.pretrain.test_joint import PHONES, phone_batch
from tests.pretrain.test_pretrain import speech_batch

# ESPnet's char token list shape: <blank> first, <sos/eos> last.
TOKENS = ["<blank>", "<unk>", "<space>", "a", "b", "c", "<sos/eos>"]
# Pre-training models above this size are only built (a forward of the 93 M-parameter *_base
# wav2vec2/joint takes 4-6 s on 2 cores). apc_base (4 M) still runs one: its ``audio`` options
# reach kaldi's fbank only in the forward, so a typo there would pass a build-only check.
MAX_FORWARD_PARAMS = 20_000_000


# --- discovery --------------------------------------------------------------------------------

def discover_configs(base: Path = REPO_ROOT) -> Dict[Path, Tuple[str, str]]:
    """Real path of each config under ``base``'s conf roots -> (kind, readable id), each real
    file once. The kind is the directory right under the conf root (``asr``, ...); a file
    elsewhere gets a ``<...>`` kind that no checker knows."""
    found: Dict[Path, Tuple[str, str]] = {}
    for root in [base / "conf", *sorted(base.glob("egs2/*/*/conf"))]:
        seen_dirs = set()
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
            real_dir = Path(dirpath).resolve()
            if real_dir in seen_dirs:  # a link cycle: do not walk it again
                dirnames[:] = []
                continue
            seen_dirs.add(real_dir)
            dirnames.sort()
            for name in sorted(filenames):
                if not name.endswith((".yaml", ".yml")):
                    continue
                path = Path(dirpath, name)
                real = path.resolve()
                rel = path.relative_to(root).parts
                kind = rel[0] if len(rel) == 2 else f"<{'/'.join(rel[:-1]) or 'conf root'}>"
                try:  # named by its real path (conf/...), whichever link reached it first
                    ident = str(real.relative_to(base.resolve()))
                except ValueError:
                    ident = str(path.relative_to(base))
                found.setdefault(real, (kind, ident))
    return found


CONFIGS = discover_configs()
PARAMS = [pytest.param(path, kind, id=ident) for path, (kind, ident) in CONFIGS.items()]


# --- helpers ----------------------------------------------------------------------------------

def parse(parser: argparse.ArgumentParser, argv: List[str]) -> argparse.Namespace:
    """``parser.parse_args(argv)``, raising ConfigError with argparse's message instead of exiting
    (ESPnet's ``--config`` reports an unknown YAML key through ``parser.error``)."""
    def error(message: str):
        raise ConfigError(message)

    parser.error = error
    return parser.parse_args(argv)


def check_values(parser: argparse.ArgumentParser, config: Path) -> None:
    """Top-level YAML values against the parser's choices and int/float/bool types."""
    from espnet2.utils.types import str2bool

    actions = {a.dest: a for a in parser._actions}
    conf = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    for key, value in conf.items():
        action = actions[key]  # parse() already refused unknown keys
        values = value if isinstance(value, list) and action.nargs in ("+", "*") else [value]
        for v in values:
            if action.choices is not None and v not in action.choices:
                raise ConfigError(f"{config}: {key}: {v!r} is not one of {list(action.choices)}")
            number = isinstance(v, (int, float)) and not isinstance(v, bool)
            bad = ((action.type is int and not (number and isinstance(v, int)))
                   or (action.type is float and not number)
                   or (action.type is str2bool and not isinstance(v, bool)))
            if bad and not (v is None and action.default is None):
                raise ConfigError(f"{config}: {key}: {v!r} is not a {action.type.__name__}")


def build_training(task, argv: List[str], config: Path) -> torch.nn.Module:
    """Parse ``argv --config config`` as ``task.main`` does, build the model and, as ESPnet's
    trainer setup does, its optimizers and schedulers (their ``*_conf`` keys are checked there)."""
    from espnet2.tasks.abs_task import scheduler_classes

    parser = task.get_parser()  # fresh: --config writes its values into the parser's defaults
    args = parse(parser, argv + ["--config", str(config)])
    check_values(parser, config)
    torch.manual_seed(0)
    model = task.build_model(args)
    for i, optim in enumerate(task.build_optimizers(args, model), 1):
        suf = "" if i == 1 else str(i)
        name = getattr(args, f"scheduler{suf}")
        if name is not None:
            scheduler_classes[name](optim, **getattr(args, f"scheduler{suf}_conf"))
    return model


def build_asr(config: Path, tmp_path: Path) -> torch.nn.Module:
    """The downstream ASR of ``config`` with fbank input, as stage 6 builds it."""
    from espnet_ext.asr.task import register_frontends
    from espnet_ext.upstream.config import load_upstream_config
    from espnet_ext.asr.inputs import frontend_args

    register_frontends()  # before get_parser: the frontend choices are fixed when it is built
    from espnet2.tasks.asr import ASRTask

    token_list = tmp_path / "tokens.txt"
    token_list.write_text("\n".join(TOKENS) + "\n", encoding="utf-8")
    # ASR configs name no frontend: the input side comes from the upstream config (fbank here).
    # global_mvn (the recipe's default) needs collect-stats output: utterance_mvn stands in.
    argv = frontend_args(load_upstream_config("fbank")) + [
        "--token_type", "char", "--token_list", str(token_list),
        "--use_preprocessor", "true", "--normalize", "utterance_mvn",
        "--output_dir", str(tmp_path / "asr")]
    return build_training(ASRTask, argv, config)


def build_pretrain(config: Path, tmp_path: Path) -> torch.nn.Module:
    """The pre-training model of ``config``, with the options of xling.sh's ``pretrain_one``."""
    from espnet_ext.pretrain.task import PretrainTask

    argv = ["--train_data_path_and_name_and_type", f"{tmp_path}/train/wav.scp,speech,sound",
            "--valid_data_path_and_name_and_type", f"{tmp_path}/dev/wav.scp,speech,sound",
            "--output_dir", str(tmp_path / "pretrain")]
    raw = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    model_conf = raw.get("model_conf") or {}
    if raw.get("model") == "joint" or {"text_weight", "paired_weight"} & set(model_conf):
        # the recipe's is_text_config branch: phone fields and stage 2's phone token list
        # (and, for mpc, its phone durations)
        phones = tmp_path / "phones.txt"
        phones.write_text("\n".join(PHONES) + "\n", encoding="utf-8")
        for split, d in (("train", "train"), ("valid", "dev")):
            argv += [f"--{split}_data_path_and_name_and_type", f"{tmp_path}/{d}/phones,text,text",
                     f"--{split}_data_path_and_name_and_type",
                     f"{tmp_path}/{d}/unpaired_phones,unpaired,text"]
        argv += ["--model_conf", f"phone_list={phones}"]
        if raw.get("model") == "mpc":
            durations = tmp_path / "durations.json"
            durations.write_text(json.dumps({p: [3, 6, 9] for p in PHONES[2:]}), encoding="utf-8")
            argv += ["--model_conf", f"phone_durations={durations}"]
    return build_training(PretrainTask, argv, config)


# --- one checker per kind ---------------------------------------------------------------------

def check_asr(config: Path, tmp_path: Path) -> None:
    model = build_asr(config, tmp_path)
    # 2 utterances of 0.5 s (one padded) and a few tokens (ids of TOKENS, -1 = padding).
    g = torch.Generator().manual_seed(0)
    speech = 0.1 * torch.randn(2, 8000, generator=g)
    speech_lengths = torch.tensor([8000, 6000])
    text = torch.tensor([[3, 4, 5], [4, 3, -1]])
    loss, stats, _ = model(speech=speech, speech_lengths=speech_lengths, text=text,
                           text_lengths=torch.tensor([3, 2]))
    assert torch.isfinite(loss), stats


def check_pretrain(config: Path, tmp_path: Path) -> None:
    from espnet_ext.pretrain.joint import JointPretrainModel

    model = build_pretrain(config, tmp_path)
    num_params = sum(p.numel() for p in model.parameters())
    assert num_params > 0
    if num_params > MAX_FORWARD_PARAMS:
        return  # GPU-sized (*_base): built, every option checked, not run
    speech, lengths = speech_batch(n=2, seconds=1.0)
    batch = {}
    if isinstance(model, JointPretrainModel) or getattr(model, "phone_list", None):
        # + phones of the utterances and of unpaired text
        text, text_lengths = phone_batch(2, 8, seed=0)
        unpaired, unpaired_lengths = phone_batch(2, 12, seed=1)
        batch = dict(text=text, text_lengths=text_lengths, unpaired=unpaired,
                     unpaired_lengths=unpaired_lengths)
    loss, stats, _ = model(speech, lengths, **batch)
    assert torch.isfinite(loss), stats


def check_upstream(config: Path, tmp_path: Path) -> None:
    from espnet_ext.upstream import _hub_entry
    from espnet_ext.upstream.config import load_upstream_config

    # Checkpoints are ${XLING_CKPT_DIR}/...: point it somewhere; the files need not exist
    # (no weights are loaded, nothing is downloaded).
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XLING_CKPT_DIR", str(tmp_path))
        cfg = load_upstream_config(config, require_checkpoint=False)
    # load_upstream's own check that s3prl (with our xling_* entries registered) has the entry.
    _hub_entry(cfg, str(config))


def check_decode(config: Path, tmp_path: Path) -> None:
    from espnet2.bin.asr_inference import get_parser

    from espnet_ext.asr.inference import split_greedy_config

    # espnet_ext.bin.asr_inference removes its own key (ctc_greedy) before ESPnet parses.
    _, cmd = split_greedy_config(["--config", str(config), "--output_dir", str(tmp_path)])
    parser = get_parser()
    parse(parser, cmd + ["--data_path_and_name_and_type", f"{tmp_path}/wav.scp,speech,sound"])
    clean = Path(cmd[cmd.index("--config") + 1])
    check_values(parser, clean)


def check_degrade(config: Path, tmp_path: Path) -> None:
    from espnet_ext.data.degrade import degrade_utterance, load_degrade_config, select_conditions

    conditions = select_conditions(load_degrade_config(config), None, str(config))  # as --list
    assert conditions, f"{config} lists no conditions"
    babble = [str(make_wav(tmp_path / f"b{i}.wav", freq=150.0 + 40 * i)) for i in range(2)]
    x = np.asarray(0.3 * np.sin(2 * np.pi * 200 * np.arange(8000) / 16000), dtype=np.float32)
    for cond in conditions:
        y, _ = degrade_utterance(x, cond, seed=1, utt_id="u1", babble_entries=babble)
        assert y.size > 0 and np.isfinite(y).all(), cond.name


CHECKERS = {"asr": check_asr, "pretrain": check_pretrain, "upstream": check_upstream,
            "decode": check_decode, "degrade": check_degrade}


# --- tests ------------------------------------------------------------------------------------

def run_checker(config: Path, kind: str, tmp_path: Path) -> None:
    if kind not in CHECKERS:
        pytest.fail(f"{config}: no dry run for configs under '{kind}'; add a checker for this "
                    f"kind to CHECKERS in {Path(__file__).name} (known: {', '.join(CHECKERS)})")
    CHECKERS[kind](config, tmp_path)


def test_discovery_finds_every_kind_once():
    # Guards the discovery itself: an empty or partial parametrization would pass silently.
    assert set(CHECKERS) <= {kind for kind, _ in CONFIGS.values()}
    ids = [ident for _, ident in CONFIGS.values()]
    assert len(ids) == len(set(ids))
    assert {str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / "conf").rglob("*.yaml")} <= set(ids)


def test_discovery_follows_links_once_and_flags_unknown_kinds(tmp_path):
    (tmp_path / "conf" / "asr").mkdir(parents=True)
    (tmp_path / "conf" / "asr" / "a.yaml").write_text("{}")
    linked = tmp_path / "egs2" / "r" / "x1"
    linked.mkdir(parents=True)
    (linked / "conf").symlink_to("../../../conf")  # as egs2/offline_mini/xling1/conf
    own = tmp_path / "egs2" / "s" / "x1" / "conf"
    (own / "lm").mkdir(parents=True)
    (own / "lm" / "b.yml").write_text("{}")
    (own / "top.yaml").write_text("{}")
    (own / "asr").symlink_to(own)  # a link cycle ends the walk, not the test
    found = {ident: kind for kind, ident in discover_configs(tmp_path).values()}
    assert found == {"conf/asr/a.yaml": "asr", "egs2/s/x1/conf/lm/b.yml": "lm",
                     "egs2/s/x1/conf/top.yaml": "<conf root>"}
    with pytest.raises(pytest.fail.Exception, match="no dry run for configs under 'lm'"):
        run_checker(own / "lm" / "b.yml", "lm", tmp_path)


@pytest.mark.parametrize("config,kind", PARAMS)
def test_config_builds(config: Path, kind: str, tmp_path: Path) -> None:
    run_checker(config, kind, tmp_path)


@pytest.mark.parametrize("source,key,value,misspelled", [
    # nested key: reaches the encoder's constructor
    pytest.param("asr/train_asr_fast.yaml", "encoder_conf.output_sise", 64, "output_sise",
                 id="asr-encoder_conf"),
    # top-level key: ESPnet's --config refuses it
    pytest.param("asr/train_asr_fast.yaml", "decoderr", "transformer", "decoderr", id="asr-key"),
    # top-level value: a choice that ESPnet itself does not check for --config values
    pytest.param("asr/train_asr_fast.yaml", "batch_type", "numl", "numl", id="asr-value"),
    # scheduler options: reach the scheduler's constructor
    pytest.param("asr/train_asr_fast.yaml", "scheduler_conf.warmup_step", 20, "warmup_step",
                 id="asr-scheduler_conf"),
    pytest.param("pretrain/wav2vec2_fast.yaml", "model_conf.model.encoder_layerz", 2,
                 "encoder_layerz", id="pretrain-wav2vec2-model"),
    pytest.param("pretrain/joint_fast.yaml", "model_conf.text_wieght", 1.0, "text_wieght",
                 id="pretrain-joint-model_conf"),
    # optimizer options: reach torch.optim.Adam
    pytest.param("pretrain/apc_fast.yaml", "optim_conf.betaz", [0.9, 0.98], "betaz",
                 id="pretrain-optim_conf"),
    # APC's audio options reach kaldi's fbank in the forward only (why apc_base runs one)
    pytest.param("pretrain/apc_base.yaml", "model_conf.audio.frame_lenght", 25, "frame_lenght",
                 id="pretrain-apc-audio"),
    pytest.param("decode/decode_ctc_greedy.yaml", "beam_sise", 1, "beam_sise", id="decode-key"),
    pytest.param("degrade/quick.yaml", "conditions.tel8k.codex", "tel8k", "codex",
                 id="degrade-condition"),
    pytest.param("upstream/wav2vec2_base.yaml", "layer", [1], "layer", id="upstream-key"),
])
def test_misspelled_key_fails(source, key, value, misspelled, tmp_path):
    """A copy of a shipped config with one misspelled key (or value) fails its dry run."""
    conf = yaml.safe_load((REPO_ROOT / "conf" / source).read_text(encoding="utf-8"))
    *parents, last = key.split(".")
    node = conf
    for k in parents:
        node = node[k]
    node[last] = value
    bad = tmp_path / Path(source).name
    bad.write_text(yaml.safe_dump(conf), encoding="utf-8")
    with pytest.raises(Exception, match=misspelled):
        run_checker(bad, source.split("/")[0], tmp_path)
