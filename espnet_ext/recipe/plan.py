"""The run plan of an xling1 recipe: the name of every dir its stages write and the runs they loop
over, from xling.sh's options.

Names must stay what they were: finished work is found again by them (``.done`` markers, the
report's rows). The rules:

- a training seed other than ``--seed`` adds ``_seed<S>`` to its dirs; ``--seed``'s add nothing;
- ``--train_max_hours H`` adds ``_max<H>h`` to training sets, token lists and ASR dirs;
- ``--asr_tag T`` adds ``_<T>`` to ASR dirs and their rows;
- a downstream head other than the first of ``--asr_configs`` adds ``_<config name>``;
- a pre-trained upstream is ``xling_<config>[_<arm>]_<hours>h[_seed<S>]``; its rows (the base
  tag) drop the seed suffix, so that the seeds of one upstream group.

Every value is a string as the shell has it (a seed ``01`` is not the seed ``1``).
"""

import os
import re
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Dict, List, NamedTuple, Optional

from espnet_ext.errors import ConfigError

ARMS = ("twin", "paired")
# --lang_data entries: CODE=KIND:PATH
LANG_DATA_ENTRY = re.compile(r"[a-z][a-z0-9_-]*=[a-z_]+:.+")


@dataclass(frozen=True)
class RecipeOptions:
    """The options of xling.sh that names and plans depend on (same names and defaults)."""

    stage: int = 1
    stop_stage: int = 10000
    force: bool = False
    nj: int = 2
    datadir: str = "data"
    expdir: str = "exp"
    dumpdir: str = "dump"
    seed: str = "1"
    seeds: str = ""
    arm_seeds: str = ""
    languages: str = "nl cs es fr it ru"
    lang_data: str = ""
    probe_languages: str = ""
    train_max_hours: str = ""
    degrade_config: str = ""
    # the condition names of degrade_config, when already read (None: read the file)
    conditions: Optional[str] = None
    pretrain_configs: str = ""
    pretrain_hours: str = "0.5 1 2"
    pretrain_set: str = "pretrain_nl"
    pretrain_valid_set: str = "dev_nl"
    pretrain_arms: str = "twin"
    pretrain_lang: str = "nl"
    pretrain_text: str = "pretrain_text_nl/sentences.txt"
    phone_mode: str = "ipa"
    probe_num_utts: str = "60"
    probe_variants: str = "f2 m3"
    pr_updates: str = "600"
    token_type: str = "char"
    nbpe: str = "100"
    upstreams: str = "fbank"
    feats_dtype: str = "float32"
    feats_normalize: str = "global_mvn"
    asr_config: str = "conf/asr/train_asr_conformer.yaml"
    asr_configs: str = ""
    asr_tag: str = ""
    encoder_frame_ms: str = "40"
    encoder_input: str = "conv1d"
    inference_config: str = "conf/decode/decode_ctc0.5.yaml"
    inference_model: str = ""
    inference_tag: str = ""
    inference_nj: int = 2
    gpu_inference: bool = False
    score_normalize: str = "default"

    @property
    def seed_list(self) -> List[str]:
        """The training seeds (``--seeds``, else ``--seed``)."""
        return self.seeds.split() or [self.seed]

    def seeds_of(self, arm: str) -> List[str]:
        """The training seeds of the systems of ``arm`` (``--arm_seeds``, else :attr:`seed_list`)."""
        return parse_arm_seeds(self.arm_seeds).get(arm, self.seed_list)

    @property
    def heads(self) -> List[str]:
        """The downstream ASR configs (``--asr_configs``, else ``--asr_config``)."""
        return (self.asr_configs or self.asr_config).split()

    @property
    def decode_tag(self) -> str:
        """``--inference_tag``, else the decode config's name."""
        return self.inference_tag or stem(self.inference_config)

    @property
    def cap(self) -> str:
        return f"_max{self.train_max_hours}h" if self.train_max_hours else ""

    @property
    def phone_token_list(self) -> str:
        """The phone list of every pre-training run that reads text (stage 2 writes it)."""
        return f"{self.datadir}/token_list/{self.pretrain_lang}_phones_{self.phone_mode}/tokens.txt"

    @property
    def phone_durations(self) -> str:
        """espeak-ng's phone durations, beside the phone list (mpc's text arm reads them)."""
        return f"{os.path.dirname(self.phone_token_list)}/durations.json"


OPTION_NAMES = [f.name for f in fields(RecipeOptions)]


def parse_arm_seeds(value: str) -> Dict[str, List[str]]:
    """``--arm_seeds "twin=1,2,3 joint=1,2,3"``: arm -> its training seeds.

    Raises:
        ConfigError: an entry that is not ``ARM=S1[,S2...]`` with non-negative integer seeds,
            or an arm given twice.
    """
    out: Dict[str, List[str]] = {}
    for entry in value.split():
        arm, _, seeds = entry.partition("=")
        if not re.fullmatch(r"[a-z_0-9]+", arm) or not re.fullmatch(r"[0-9]+(,[0-9]+)*", seeds):
            raise ConfigError(f"--arm_seeds entry '{entry}' is not ARM=S1[,S2...] (e.g. "
                              "twin=1,2,3; arms as in the results' arm column)")
        if arm in out:
            raise ConfigError(f"--arm_seeds: arm '{arm}' is given twice")
        out[arm] = list(dict.fromkeys(seeds.split(",")))
    return out


def upstream_arm(upstream: str) -> str:
    """The arm of a ``--upstreams`` entry, as the report names it: ``fbank`` or ``external``."""
    return "fbank" if stem(upstream) == "fbank" else "external"


def stem(path: str) -> str:
    """A config's or upstream's name: ``basename PATH .yaml``."""
    name = os.path.basename(path.rstrip("/")) or path
    return name[:-len(".yaml")] if name.endswith(".yaml") and name != ".yaml" else name


# --- languages and data dirs -------------------------------------------------------------------

class LangData(NamedTuple):
    """One ``--lang_data`` entry, ``CODE=KIND:PATH``."""
    code: str
    kind: str
    path: str


def lang_data_entries(lang_data: str, check_paths: bool = False) -> List[LangData]:
    """The entries of ``--lang_data``, in order.

    Args:
        check_paths: each PATH must exist (only stage 1 reads them).

    Raises:
        ConfigError: the first entry that is not ``CODE=KIND:PATH``, or (``check_paths``) whose
            PATH does not exist.
    """
    entries = []
    for entry in lang_data.split():
        if not LANG_DATA_ENTRY.fullmatch(entry):
            raise ConfigError(f"--lang_data entry '{entry}' is not CODE=KIND:PATH "
                              "(e.g. sw=fleurs:/data/fleurs/sw_ke)")
        code, rest = entry.split("=", 1)
        kind, path = rest.split(":", 1)
        if check_paths and not os.path.exists(path):
            raise ConfigError(f"--lang_data entry '{entry}': {path} does not exist")
        entries.append(LangData(code, kind, path))
    return entries


def evaluation_languages(opts: RecipeOptions) -> List[str]:
    """``--languages``, then each ``--lang_data`` language it does not name."""
    langs = opts.languages.split()
    for entry in lang_data_entries(opts.lang_data):
        if entry.code not in langs:
            langs.append(entry.code)
    return langs


def local_languages(opts: RecipeOptions) -> List[str]:
    """The languages local/data.sh builds: the pre-training, evaluation and probe languages that
    ``--lang_data`` does not give, each once."""
    given = {entry.split("=", 1)[0] for entry in opts.lang_data.split()}
    out: List[str] = []
    for lang in (opts.pretrain_lang.split() + opts.languages.split()
                 + opts.probe_languages.split()):
        if lang not in given and lang not in out:
            out.append(lang)
    return out


def babble_sources(opts: RecipeOptions, lang: str) -> List[str]:
    """The babble noise of ``lang``'s degraded test sets: other-language speech, i.e. the other
    evaluation languages' (uncapped) training sets and the pre-training validation set unless
    it is ``lang`` (never the test set's own language)."""
    out = [f"{opts.datadir}/train_{other}" for other in evaluation_languages(opts)
           if other != lang]
    if opts.pretrain_lang != lang:
        out.append(f"{opts.datadir}/{opts.pretrain_valid_set}")
    return out


def conditions(opts: RecipeOptions) -> List[str]:
    """The degraded conditions of ``--degrade_config``, in file order (none without it).

    Raises:
        ConfigError: a bad degradation config.
    """
    if opts.conditions is not None:
        return opts.conditions.split()
    if not opts.degrade_config:
        return []
    from espnet_ext.data.degrade import load_degrade_config, select_conditions

    return [c.name for c in select_conditions(load_degrade_config(opts.degrade_config), None,
                                              opts.degrade_config)]


def train_set(opts: RecipeOptions, lang: str) -> str:
    """The training set of ``lang``: the full one, or its capped subset."""
    return f"{opts.datadir}/train_{lang}{opts.cap}"


def token_dir(opts: RecipeOptions, lang: str) -> str:
    return f"{opts.datadir}/token_list/{lang}{opts.cap}_{opts.token_type}"


def test_sets(opts: RecipeOptions, lang: str, names: Optional[List[str]] = None) -> List[str]:
    """The test sets of ``lang``: the clean one, then one per degraded condition (``names``:
    :func:`conditions`, when already read)."""
    names = conditions(opts) if names is None else names
    return [f"test_{lang}"] + [f"test_{lang}_{c}" for c in names]


def data_dirs(opts: RecipeOptions, kinds: List[str]) -> List[str]:
    """Per evaluation language, its data dirs of each kind in ``kinds``: ``train`` (capped),
    ``dev``, ``test`` (every test set)."""
    names = conditions(opts) if "test" in kinds else []
    out = []
    for lang in evaluation_languages(opts):
        for kind in kinds:
            if kind == "train":
                out.append(train_set(opts, lang))
            elif kind == "dev":
                out.append(f"{opts.datadir}/dev_{lang}")
            elif kind == "test":
                out += [f"{opts.datadir}/{t}" for t in test_sets(opts, lang, names)]
            else:
                raise ValueError(f"unknown kind of data dir {kind!r}")
    return out


# --- pre-training ------------------------------------------------------------------------------

class PretrainRun(NamedTuple):
    """One pre-training run: ``arm`` is ``main``, ``twin`` or ``paired``; ``text``: it reads
    phones; ``durations``: it needs espeak-ng's phone durations; ``system``: its arm as the
    report names it (``joint``, ``twin``, ``paired``, ``random_init`` or the family, e.g.
    ``apc``), the key of ``--arm_seeds``."""
    config: str
    hours: str
    arm: str
    seed: str
    text: bool
    durations: bool
    system: str = ""

    def line(self) -> str:
        return " ".join([self.config, self.hours, self.arm, self.seed,
                         str(self.text).lower(), str(self.durations).lower()])


def pretrain_runs(configs: str, hours: str, arms: str, seeds: str,
                  arm_seeds: str = "") -> List[PretrainRun]:
    """The runs of ``--pretrain_configs`` (``CONFIG[:H1,H2]`` each), ``--pretrain_hours``,
    ``--pretrain_arms`` and ``--seeds``: seeds outermost, then configs in order, then amounts;
    the arms of a config that reads text follow its main run (amount 0, the random-init
    control, has none: it is not trained). A run whose system arm ``--arm_seeds`` names runs
    with those seeds instead of ``seeds``.

    Raises:
        ConfigError: an unknown arm, a config that is missing, not a YAML mapping, or of an
            unknown family; a bad ``--arm_seeds``.
    """
    from espnet_ext.bin.check_options import check_yaml_mapping
    from espnet_ext.pretrain.export import arm_of
    from espnet_ext.pretrain.families import DEFAULT_FAMILY, TEXT_WEIGHTS, family, reads_text

    bad = [a for a in arms.split() if a not in ARMS]
    if bad:
        raise ConfigError(f"--pretrain_arms '{bad[0]}': the arms are {' and '.join(ARMS)}")
    kinds = {}
    for entry in configs.split():
        path = entry.split(":", 1)[0]
        conf = check_yaml_mapping(path, "pre-training config", "pretrain_config")
        name = str(conf.get("model", DEFAULT_FAMILY))
        text = reads_text(conf)
        # what export will record of the main run: the arm follows as the report derives it
        model_conf = conf.get("model_conf") or {}
        info = {"method": name, **{k: model_conf.get(k) for k in TEXT_WEIGHTS if text}}
        kinds[path] = (text, text and family(name).phone_durations, info)
    per_arm = parse_arm_seeds(arm_seeds)
    all_seeds = list(dict.fromkeys(seeds.split() + [s for v in per_arm.values() for s in v]))
    runs = []
    for seed in all_seeds:
        for entry in configs.split():
            path, _, own = entry.partition(":")
            text, durations, info = kinds[path]
            for h in (own.replace(",", " ") if own else hours).split():
                run_arms = ["main"] + (arms.split() if h != "0" and text else [])
                for arm in run_arms:
                    system = arm_of({**info, "variant": arm, "pretrain_hours": h})
                    if seed in per_arm.get(system, seeds.split()):
                        runs.append(PretrainRun(path, h, arm, seed, text, durations, system))
    return runs


def recipe_pretrain_runs(opts: RecipeOptions) -> List[PretrainRun]:
    """:func:`pretrain_runs` of the recipe's options."""
    return pretrain_runs(opts.pretrain_configs, opts.pretrain_hours, opts.pretrain_arms,
                         " ".join(opts.seed_list), opts.arm_seeds)


def seed_suffix(opts: RecipeOptions, seed: str) -> str:
    """The dir-name suffix of a training seed: none for ``--seed``."""
    return "" if seed == opts.seed else f"_seed{seed}"


def pretrain_tag(opts: RecipeOptions, run: PretrainRun) -> str:
    """``<config>[_<arm>]_<hours>h[_seed<S>]``."""
    arm = "" if run.arm in ("", "main") else f"_{run.arm}"
    return f"{stem(run.config)}{arm}_{run.hours}h{seed_suffix(opts, run.seed)}"


def pretrain_exp(opts: RecipeOptions, run: PretrainRun) -> str:
    return f"{opts.expdir}/pretrain_{pretrain_tag(opts, run)}"


def pretrain_data(opts: RecipeOptions, hours: str) -> str:
    """The pool amount a run trains on: the nested subset, or the whole pool (``all``)."""
    if hours == "all":
        return f"{opts.datadir}/{opts.pretrain_set}"
    return f"{opts.datadir}/{opts.pretrain_set}_{hours}h"


def pretrained_upstream(opts: RecipeOptions, run: PretrainRun) -> str:
    """The exported upstream of a run, without extension (stage 4 writes ``.pt`` and ``.yaml``;
    the ``.yaml`` is the upstream of stages 5-10)."""
    return f"{opts.expdir}/upstreams/xling_{pretrain_tag(opts, run)}"


def pretrain_pools(opts: RecipeOptions, runs: List[PretrainRun]) -> List[tuple]:
    """``(hours, data dir)`` of each amount the runs train on (not the untrained 0), in order of
    first use."""
    out: List[tuple] = []
    for run in runs:
        if run.hours != "0" and run.hours not in [h for h, _ in out]:
            out.append((run.hours, pretrain_data(opts, run.hours)))
    return out


# --- upstreams ---------------------------------------------------------------------------------

def cache_root(opts: RecipeOptions, upstream: str) -> str:
    """The feature caches of an upstream (a conf/upstream name or a YAML path)."""
    return f"{opts.dumpdir}/feats/{stem(upstream)}"


def all_upstreams(opts: RecipeOptions, runs: List[PretrainRun]) -> List[str]:
    """``--upstreams``, then the upstream of every pre-training run."""
    return opts.upstreams.split() + [pretrained_upstream(opts, r) + ".yaml" for r in runs]


def probe_upstreams(opts: RecipeOptions, runs: List[PretrainRun]) -> List[str]:
    """The upstreams stage 9 probes: ``--upstreams`` and the pre-trained ones, each system with
    the first of its seeds."""
    return opts.upstreams.split() + [pretrained_upstream(opts, r) + ".yaml" for r in runs
                                     if r.seed == opts.seeds_of(r.system)[0]]


def base_tag(opts: RecipeOptions, upstream: str, seed: str) -> str:
    """The upstream's tag without the seed suffix of ``seed``: names rows and probe dirs."""
    tag, suffix = stem(upstream), seed_suffix(opts, seed)
    return tag[:-len(suffix)] if suffix and tag.endswith(suffix) else tag


def probe_pairs(opts: RecipeOptions, runs: List[PretrainRun], out_root: str,
                lang: str) -> List[str]:
    """``--upstream U --out_dir <out_root>/<base tag>/<lang>`` per probed upstream (the base tag
    of the seed it is probed with)."""
    seed_of = {pretrained_upstream(opts, r) + ".yaml": r.seed for r in runs}
    out = []
    for upstream in probe_upstreams(opts, runs):
        seed = seed_of.get(upstream, opts.seeds_of(upstream_arm(upstream))[0])
        out += ["--upstream", upstream,
                "--out_dir", f"{out_root}/{base_tag(opts, upstream, seed)}/{lang}"]
    return out


class Probe(NamedTuple):
    """One probe process of stage 9: ``program`` (``phone_probe``: the frame probe on synthetic
    speech; ``phone_recognition``: on real speech) for every upstream on ``lang``, into
    ``<out_root>/<upstream>/<lang>``, reading ``src`` (for the log)."""
    program: str
    lang: str
    out_root: str
    src: str


def probes(opts: RecipeOptions) -> List[Probe]:
    """The frame probe per ``--probe_languages`` language, then (``--pr_updates`` > 0) phone
    recognition per evaluation language."""
    out = [Probe("phone_probe", lang, f"{opts.expdir}/probe", f"{opts.datadir}/test_{lang}/text")
           for lang in opts.probe_languages.split()]
    if int(opts.pr_updates) > 0:
        out += [Probe("phone_recognition", lang, f"{opts.expdir}/phone_recognition",
                      f"{train_set(opts, lang)}, {opts.datadir}/test_{lang}")
                for lang in evaluation_languages(opts)]
    return out


# --- downstream ASR ----------------------------------------------------------------------------

def head_suffix(opts: RecipeOptions, config: str) -> str:
    """None for the main head (the first of ``--asr_configs``), ``_<config name>`` otherwise."""
    name = stem(config)
    return "" if name == stem(opts.heads[0]) else f"_{name}"


@lru_cache(maxsize=None)
def _averaged_model(config: str) -> str:
    import yaml

    with open(config, encoding="utf-8") as f:
        conf = yaml.safe_load(f) or {}
    criterion = conf.get("best_model_criterion") or [["valid", "acc", "max"]]
    return f"{criterion[0][0]}.{criterion[0][1]}.ave.pth"


def inference_model(opts: RecipeOptions, config: str) -> str:
    """``--inference_model``, else what the head's config averages (its first
    ``best_model_criterion``: ``valid.acc.ave.pth`` for the CTC/attention Conformer)."""
    return opts.inference_model or _averaged_model(config)


def asr_exp(opts: RecipeOptions, upstream: str, lang: str, seed: str, config: str) -> str:
    """``<expdir>/asr_<base tag>_<lang>[_max<H>h][_<asr_tag>][_<head>][_seed<S>]``."""
    tag = f"_{opts.asr_tag}" if opts.asr_tag else ""
    return (f"{opts.expdir}/asr_{base_tag(opts, upstream, seed)}_{lang}{opts.cap}{tag}"
            f"{head_suffix(opts, config)}{seed_suffix(opts, seed)}")


@dataclass(frozen=True)
class AsrRun:
    """One downstream ASR (stages 6-8) of an upstream, training seed, head and language.

    Attributes:
        exp: its exp dir; ``decode_dir`` holds one dir per test set.
        tag: its rows' upstream (base tag, plus ``_<asr_tag>``).
        head: the config's name; ``main_head``: it is the first of ``--asr_configs``.
        model: the model file in ``exp`` that decoding reads.
        test_sets: names of the data dirs it decodes (clean, then each condition).
    """

    upstream: str
    seed: str
    config: str
    lang: str
    exp: str
    train_dir: str
    dev_dir: str
    token_dir: str
    tag: str
    head: str
    main_head: bool
    model: str
    decode_dir: str
    test_sets: tuple

    def row(self) -> str:
        return " ".join([self.upstream, self.seed, self.config, self.lang, self.exp,
                         self.train_dir, self.dev_dir, self.token_dir, self.tag, self.head,
                         str(self.main_head).lower(), self.model, self.decode_dir,
                         *self.test_sets])


def asr_run(opts: RecipeOptions, upstream: str, seed: str, config: str, lang: str,
            names: Optional[List[str]] = None) -> AsrRun:
    """The downstream ASR of (``upstream``, ``seed``, head ``config``, ``lang``); ``names``:
    the degraded conditions, when already read."""
    exp = asr_exp(opts, upstream, lang, seed, config)
    return AsrRun(
        upstream=upstream, seed=seed, config=config, lang=lang, exp=exp,
        train_dir=train_set(opts, lang), dev_dir=f"{opts.datadir}/dev_{lang}",
        token_dir=token_dir(opts, lang),
        tag=base_tag(opts, upstream, seed) + (f"_{opts.asr_tag}" if opts.asr_tag else ""),
        head=stem(config), main_head=head_suffix(opts, config) == "",
        model=inference_model(opts, config), decode_dir=f"{exp}/{opts.decode_tag}",
        test_sets=tuple(test_sets(opts, lang, names)))


def asr_runs(opts: RecipeOptions, runs: Optional[List[PretrainRun]] = None) -> List[AsrRun]:
    """Every downstream ASR, one per language of each (upstream, seed, head): every
    ``--upstreams`` entry with every seed (seeds outermost) and head, then each pre-training
    run's upstream, with the model of its own seed, with every head."""
    runs = recipe_pretrain_runs(opts) if runs is None else runs
    seeds_of = {u: opts.seeds_of(upstream_arm(u)) for u in opts.upstreams.split()}
    seeds = list(dict.fromkeys(s for u_seeds in seeds_of.values() for s in u_seeds))
    trios = [(u, s, h) for s in seeds for u in seeds_of if s in seeds_of[u] for h in opts.heads]
    trios += [(pretrained_upstream(opts, r) + ".yaml", r.seed, h) for r in runs
              for h in opts.heads]
    names, langs = conditions(opts), evaluation_languages(opts)
    return [asr_run(opts, u, s, h, lang, names) for u, s, h in trios for lang in langs]
