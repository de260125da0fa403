"""The bookkeeping of xling.sh's stages that is not shell work: the fail-fast check of the options,
the per-language data steps of stages 1-3, argument lists, the splits and merges around the job
arrays (collect-stats, decoding) and the scoring of every decoded test set.

The jobs themselves (``run.pl`` arrays, ESPnet's launcher, the job pool) stay in xling.sh; these
steps run between them, with the ``.done`` markers, fail points and log lines the script had.
"""

import logging
import re
import shutil
from pathlib import Path
from typing import Callable, List, Tuple

from espnet_ext.errors import ConfigError, DataDirError, XlingError
from espnet_ext.faults import fail_point
from espnet_ext.fileio import atomic_open, atomic_write_text
from espnet_ext.recipe import plan
from espnet_ext.recipe.plan import AsrRun, PretrainRun, RecipeOptions

logger = logging.getLogger(__name__)


class StepFailed(XlingError):
    """A step failed after it logged why; xling.sh stops with status 1, as for a failed job."""


def done_already(opts: RecipeOptions, marker: str) -> bool:
    """The step behind ``marker`` is finished and ``--force`` is not set."""
    return not opts.force and Path(marker).is_file()


def _touch(marker: str) -> None:
    Path(marker).touch()


def validate(dirs: List[str], check_audio: bool = True) -> None:
    """Validate data dirs as ``espnet_ext.bin.validate_data_dir`` does (every stage that consumes
    data checks it first)."""
    from espnet_ext.data.validate import validate_data_dir

    for d in dirs:
        validate_data_dir(d, check_audio=check_audio, sample_rate=16000, require_text=True)


# --- before any stage --------------------------------------------------------------------------

def check(opts: RecipeOptions) -> List[Tuple[str, str]]:
    """Check every option that would otherwise fail only after minutes of work, then give the
    settings the stages read: ``(name, value)`` pairs.

    In order: the stages; the seeds; the encoder's frame rate and input; the ``--lang_data``
    entries (their paths when stage 1 runs); every config file and (when stages 5-10 run) every
    ``--upstreams`` entry; the degradation conditions; the pre-training runs (and
    ``--arm_seeds``).

    Raises:
        ConfigError: the first bad option (config files and upstreams: all of them, logged).
    """
    from espnet_ext.asr.inputs import check_encoder_input, parse_encoder_frame_ms
    from espnet_ext.bin.check_options import check_options

    if not 1 <= opts.stage <= 10:
        raise ConfigError(f"--stage {opts.stage}: the stages are 1-10")
    if opts.stage > opts.stop_stage:
        raise ConfigError(f"--stage {opts.stage} is after --stop_stage {opts.stop_stage}: "
                          "nothing to run")
    for seed in [opts.seed] + opts.seed_list:
        if not re.fullmatch(r"[0-9]+", seed):
            raise ConfigError(f"--seed/--seeds value '{seed}' is not a non-negative integer")
    parse_encoder_frame_ms(opts.encoder_frame_ms)
    check_encoder_input(opts.encoder_input)
    plan.lang_data_entries(opts.lang_data, check_paths=opts.stage <= 1)
    check_options({"asr_config": opts.heads, "inference_config": [opts.inference_config],
                   "pretrain_config": [e.split(":", 1)[0] for e in opts.pretrain_configs.split()],
                   "degrade_config": [opts.degrade_config] if opts.degrade_config else []},
                  opts.upstreams.split() if opts.stop_stage >= 5 else ())
    try:
        conditions = plan.conditions(opts)
    except XlingError as e:
        logger.error("%s", e)
        raise ConfigError(f"bad --degrade_config {opts.degrade_config} (above)") from None
    runs = plan.recipe_pretrain_runs(opts)
    return [
        ("languages", " ".join(plan.evaluation_languages(opts))),
        ("local_languages", " ".join(plan.local_languages(opts))),
        ("conditions", " ".join(conditions)),
        ("inference_tag", opts.decode_tag),
        ("probe_upstreams", " ".join(plan.probe_upstreams(opts, runs))),
        ("ngpu_inference", "1" if opts.gpu_inference else "0"),
    ]


# --- stages 1-3: data ------------------------------------------------------------------------

def prepare_data(opts: RecipeOptions) -> None:
    """Stage 1 after local/data.sh: each ``--lang_data`` corpus; every evaluation language's data
    dirs validated and its training set capped (``--train_max_hours``); then, with
    ``--degrade_config``, every language's degraded test sets (babble: other-language speech)."""
    from espnet_ext.bin.prepare_corpus import CORPORA
    from espnet_ext.data.subset import subset_by_hours

    for entry in plan.lang_data_entries(opts.lang_data):
        logger.info("Stage 1: %s data of '%s': %s -> %s/{train,dev,test}_%s", entry.kind,
                    entry.code, entry.path, opts.datadir, entry.code)
        if entry.kind not in CORPORA:
            raise ConfigError(f"--lang_data entry '{entry.code}={entry.kind}:{entry.path}': "
                              f"unknown KIND '{entry.kind}'; choose one of {sorted(CORPORA)}")
        CORPORA[entry.kind](root=entry.path, out_dir=opts.datadir, lang=entry.code,
                            max_utts=None, seed=777, nj=opts.nj, force=opts.force)
    langs = plan.evaluation_languages(opts)
    for lang in langs:
        validate([f"{opts.datadir}/{split}_{lang}" for split in ("train", "dev", "test")])
        if opts.train_max_hours:
            train = plan.train_set(opts, lang)
            logger.info("Stage 1: cap training set: %s/train_%s -> %s", opts.datadir, lang, train)
            subset_by_hours(f"{opts.datadir}/train_{lang}", train, float(opts.train_max_hours),
                            force=False, seed=int(opts.seed), at_most=True)
    conditions = plan.conditions(opts)
    if not conditions:
        return
    from espnet_ext.data.degrade import make_degraded_sets

    for lang in langs:
        test = f"{opts.datadir}/test_{lang}"
        logger.info("Stage 1: degraded test sets (%s): %s -> %s_<condition>",
                    " ".join(conditions), test, test)
        make_degraded_sets(opts.degrade_config, test, test, plan.babble_sources(opts, lang),
                           seed=int(opts.seed), conditions=None, nj=opts.nj, force=opts.force)


def tokens(opts: RecipeOptions) -> None:
    """Stage 2: each language's token list not built yet (its training text validated first);
    then, when a pre-training run that trains reads text, the phones of every pool/valid
    utterance's transcript and of unpaired corpus sentences, one phone list for every text run
    and espeak-ng's phone durations (that step keeps its own markers)."""
    from espnet_ext.text.tokens import build_token_list

    for lang in plan.evaluation_languages(opts):
        tdir, train = plan.token_dir(opts, lang), plan.train_set(opts, lang)
        if done_already(opts, f"{tdir}/.done"):
            logger.info("Stage 2: %s exists, skipping", tdir)
            continue
        logger.info("Stage 2: %s token list: %s/text -> %s", opts.token_type, train, tdir)
        validate([train], check_audio=False)
        build_token_list(f"{train}/text", tdir, opts.token_type, int(opts.nbpe))
        fail_point("token_list")
        _touch(f"{tdir}/.done")
    if not any(r.text and r.hours != "0" for r in plan.recipe_pretrain_runs(opts)):
        return
    from espnet_ext.pretrain.text_data import measure_phone_durations, prepare_phone_data

    dirs = [f"{opts.datadir}/{opts.pretrain_set}", f"{opts.datadir}/{opts.pretrain_valid_set}"]
    corpus = f"{opts.datadir}/{opts.pretrain_text}"
    logger.info("Stage 2: %s phones: %s -> %s, %s", opts.phone_mode, ", ".join(dirs),
                opts.phone_token_list, opts.phone_durations)
    for i, data_dir in enumerate(dirs):
        prepare_phone_data(Path(data_dir), Path(corpus), opts.pretrain_lang, opts.phone_mode,
                           int(opts.seed), token_list=Path(opts.phone_token_list) if i == 0 else None)
    measure_phone_durations(Path(corpus), Path(opts.phone_durations), opts.pretrain_lang,
                            int(opts.seed))


def pretrain_data(opts: RecipeOptions) -> None:
    """Stage 3 before training: the nested amounts of the pool the runs train on (one writer per
    subset dir, even when runs share an amount), then every amount and the validation set,
    validated once for all runs."""
    from espnet_ext.data.subset import subset_by_hours

    runs = plan.recipe_pretrain_runs(opts)
    pool = f"{opts.datadir}/{opts.pretrain_set}"
    dirs = [f"{opts.datadir}/{opts.pretrain_valid_set}"]
    for hours, data_dir in plan.pretrain_pools(opts, runs):
        if data_dir not in dirs:
            dirs.append(data_dir)
        if hours == "all":
            continue
        logger.info("Stage 3: nested %s h of %s -> %s", hours, pool, data_dir)
        subset_by_hours(pool, data_dir, float(hours), force=False, seed=int(opts.seed),
                        at_most=True)
    if runs:
        validate(dirs)


def data_dirs(opts: RecipeOptions, kinds: List[str], option: str = "") -> List[str]:
    """:func:`espnet_ext.recipe.plan.data_dirs`, each after ``option`` when given."""
    dirs = plan.data_dirs(opts, kinds)
    return [item for d in dirs for item in ([option, d] if option else [d])]


def collect_stats_split(opts: RecipeOptions, train: str, valid: str, logdir: str) -> int:
    """Split the keys of ``train`` and ``valid`` into the jobs of ESPnet's collect-stats
    (``<logdir>/{train,valid}.<job>.scp``): at most ``--nj`` jobs, one per 200 training
    utterances (each job pays ESPnet's import, ~10 s, more than a small set's statistics).

    Returns:
        the job count.
    """
    from espnet_ext.bin.split_keys import split_scp

    Path(logdir).mkdir(parents=True, exist_ok=True)
    nj = min(opts.nj, (_line_count(f"{train}/wav.scp") + 199) // 200)
    split_scp(f"{train}/wav.scp", f"{logdir}/train", nj)
    split_scp(f"{valid}/wav.scp", f"{logdir}/valid", nj)
    return nj


# --- stages 3-4: pre-training ------------------------------------------------------------------

def pretrain_args(opts: RecipeOptions, run: PretrainRun, stats: bool = False) -> List[str]:
    """The options of ``pretrain_train`` for ``run`` (``stats``: of its collect-stats; else of its
    training, with the speech shapes): speech, and for a config that reads text its phones, the
    phone list (and durations) and the text loss weights of its arm; then the config. Every arm
    reads the same data (the twin ignores the text), so their speech batches are identical.

    Raises:
        DataDirError: a text run's phones are missing (stage 2 writes them).
    """
    train = plan.pretrain_data(opts, run.hours)
    dev = f"{opts.datadir}/{opts.pretrain_valid_set}"
    args = ["--train_data_path_and_name_and_type", f"{train}/wav.scp,speech,sound",
            "--valid_data_path_and_name_and_type", f"{dev}/wav.scp,speech,sound"]
    if run.text:
        if not Path(f"{train}/phones").is_file():
            raise DataDirError(f"{train}/phones missing: run stage 2")
        for split, d in (("train", train), ("valid", dev)):
            args += [f"--{split}_data_path_and_name_and_type", f"{d}/phones,text,text",
                     f"--{split}_data_path_and_name_and_type",
                     f"{d}/unpaired_phones,unpaired,text"]
        args += ["--model_conf", f"phone_list={opts.phone_token_list}"]
        if run.durations:
            args += ["--model_conf", f"phone_durations={opts.phone_durations}"]
        if run.arm == "twin":
            args += ["--model_conf", "text_weight=0.0", "--model_conf", "paired_weight=0.0"]
        elif run.arm == "paired":
            args += ["--model_conf", "text_weight=0.0"]
    if not stats:
        shapes = f"{plan.pretrain_exp(opts, run)}/stats"
        args += ["--train_shape_file", f"{shapes}/train/speech_shape",
                 "--valid_shape_file", f"{shapes}/valid/speech_shape", "--use_tensorboard", "true"]
    return args + ["--config", run.config]


def _newer(path: Path, than: Path) -> bool:
    """``[ path -nt than ]``."""
    if not path.exists():
        return False
    return not than.exists() or path.stat().st_mtime_ns > than.stat().st_mtime_ns


def export(opts: RecipeOptions, run: PretrainRun) -> None:
    """Stage 4: export ``run`` as an s3prl upstream (``<upstream>.{pt,yaml}``), unless its YAML is
    newer than the training (amount 0, the random-init control: than the config; the untrained
    model is built here).

    Raises:
        DataDirError: the run is not trained (stage 3).
        StepFailed: the export failed (logged).
    """
    exp, out = plan.pretrain_exp(opts, run), plan.pretrained_upstream(opts, run)
    trained = Path(run.config if run.hours == "0" else f"{exp}/.done")
    if done_already(opts, f"{out}.yaml") and _newer(Path(f"{out}.yaml"), trained):
        logger.info("Stage 4: %s.yaml exists, skipping", out)
        return
    if not trained.is_file():
        raise DataDirError(f"{exp} is not trained: run stage 3")
    logger.info("Stage 4: export %s -> %s.{pt,yaml}", exp, out)
    if run.hours == "0":
        info = {"pretrain_hours": "0", "variant": "random_init"}
    else:
        info = {"pretrain_hours": run.hours, "pretrain_data": plan.pretrain_data(opts, run.hours),
                "variant": run.arm}
    info.update({"pretrain_config": run.config, "seed": run.seed})
    try:
        from espnet_ext.pretrain.export import export_upstream, write_random_init

        model_file = (write_random_init(Path(run.config), int(run.seed), Path(exp))
                      if run.hours == "0" else None)
        export_upstream(Path(exp), Path(f"{out}.pt"), Path(f"{out}.yaml"), model_file, info)
    except Exception as e:  # any failure is the export's: named with its run
        if isinstance(e, XlingError):
            logger.error("%s", e)
        else:
            logger.exception("%s", e)
        raise StepFailed(f"export of {exp} failed (above)") from None


# --- stages 6-8: downstream ASR ---------------------------------------------------------------

def _upstream_args(upstream: str, build: Callable) -> List[str]:
    """``build(config)`` of the upstream's config; an upstream that cannot be used is logged and
    named."""
    from espnet_ext.upstream.config import load_upstream_config

    try:
        return build(load_upstream_config(upstream))
    except XlingError as e:
        logger.error("%s", e)
        raise ConfigError(f"upstream '{upstream}' cannot be used (above)") from None


def asr_train_args(opts: RecipeOptions, run: AsrRun, stats: bool = False) -> List[str]:
    """The options of ``asr_train`` for ``run`` (``stats``: of its collect-stats; else of its
    training): tokens, the input side of its upstream (frontend, speech data, its fold length,
    the encoder input layer), the text; for training the shapes and the feature normalisation;
    then the config.

    Raises:
        DataDirError: the token list is missing (stage 2 writes it).
        ConfigError: the upstream cannot be used.
    """
    from espnet_ext.asr.inputs import parse_encoder_frame_ms, train_args

    token_list = f"{run.token_dir}/tokens.txt"
    if not Path(token_list).is_file():
        raise DataDirError(f"{token_list} missing: run stage 2")
    args = ["--use_preprocessor", "true", "--token_type", opts.token_type,
            "--token_list", token_list]
    if opts.token_type == "bpe":
        args += ["--bpemodel", f"{run.token_dir}/bpe.model"]
    frame_ms = parse_encoder_frame_ms(opts.encoder_frame_ms)
    args += _upstream_args(run.upstream, lambda cfg: train_args(
        cfg, run.train_dir, run.dev_dir, plan.cache_root(opts, run.upstream), opts.feats_dtype,
        frame_ms, opts.encoder_input))
    args += ["--train_data_path_and_name_and_type", f"{run.train_dir}/text,text,text",
             "--valid_data_path_and_name_and_type", f"{run.dev_dir}/text,text,text",
             "--fold_length", "150"]
    if not stats:
        shapes = f"{run.exp}/stats"
        args += ["--train_shape_file", f"{shapes}/train/speech_shape",
                 "--train_shape_file", f"{shapes}/train/text_shape.{opts.token_type}",
                 "--valid_shape_file", f"{shapes}/valid/speech_shape",
                 "--valid_shape_file", f"{shapes}/valid/text_shape.{opts.token_type}",
                 "--normalize", opts.feats_normalize]
        if opts.feats_normalize == "global_mvn":
            args += ["--normalize_conf", f"stats_file={shapes}/train/feats_stats.npz"]
        args += ["--use_tensorboard", "false"]
    return args + ["--config", run.config]


def _line_count(path: str) -> int:
    """``wc -l``: the newlines of a file."""
    try:
        return Path(path).read_bytes().count(b"\n")
    except OSError as e:
        raise DataDirError(f"{path}: cannot be read ({e.strerror})") from None


def decode_prepare(opts: RecipeOptions, run: AsrRun) -> Tuple[int, List[str]]:
    """Prepare the decoding of every test set of ``run`` that is not decoded yet: one
    ``asr_inference`` job array (at most ``--inference_nj`` jobs, and no more than a set has
    utterances) in which job J decodes part J of each set in turn, as listed in
    ``<decode_dir>/logdir/sets.J`` (``--sets_file``: ``OUTPUT_DIR KEY_FILE INPUT`` per set).

    Returns:
        ``(job count, test sets to decode)``; ``(0, [])`` when every set is decoded.

    Raises:
        DataDirError: the model is not trained (stage 6), or a test set cannot be split.
        ConfigError: the upstream cannot be used.
    """
    from espnet_ext.bin.split_keys import split_scp
    from espnet_ext.asr.inputs import decode_args

    todo = []
    for name in run.test_sets:
        if done_already(opts, f"{run.decode_dir}/{name}/.done"):
            logger.info("Stage 7: %s/%s exists, skipping", run.decode_dir, name)
        else:
            todo.append(name)
    if not todo:
        return 0, []
    if not Path(f"{run.exp}/{run.model}").is_file():
        raise DataDirError(f"{run.exp}/{run.model} missing: run stage 6")
    nj = opts.inference_nj
    for name in todo:
        nj = min(nj, _line_count(f"{opts.datadir}/{name}/wav.scp"))
    if nj < 1:
        raise DataDirError(f"{opts.datadir}/{todo[0]}/wav.scp: nothing to decode")
    logdir = Path(f"{run.decode_dir}/logdir")
    logdir.mkdir(parents=True, exist_ok=True)
    for old in logdir.glob("sets.*"):
        old.unlink()
    # two items per test set, in the order of todo: the option name and the speech input
    inputs = _upstream_args(run.upstream, lambda cfg: [
        item for name in todo for item in decode_args(
            cfg, f"{opts.datadir}/{name}", plan.cache_root(opts, run.upstream),
            opts.feats_dtype)])
    sets = {j: [] for j in range(1, nj + 1)}
    for i, name in enumerate(todo):
        set_logdir = f"{run.decode_dir}/{name}/logdir"
        shutil.rmtree(set_logdir, ignore_errors=True)
        Path(set_logdir).mkdir(parents=True)
        split_scp(f"{opts.datadir}/{name}/wav.scp", f"{set_logdir}/keys", nj)
        for j in sets:
            sets[j].append(f"{set_logdir}/output.{j} {set_logdir}/keys.{j}.scp "
                           f"{inputs[2 * i + 1]}\n")
    for j, lines in sets.items():
        atomic_write_text(logdir / f"sets.{j}", "".join(lines))
    return nj, todo


def _sort_key(line: bytes) -> tuple:
    """``LC_ALL=C sort -k1,1``: by the first field (leading blanks included), then by the whole
    line, byte by byte."""
    return re.match(rb"[ \t]*[^ \t]*", line).group(0), line


def decode_merge(opts: RecipeOptions, run: AsrRun, nj: int, names: List[str]) -> None:
    """Merge the job outputs of each decoded test set into its ``text`` (sorted by utterance)
    and mark it done."""
    for name in names:
        out = f"{run.decode_dir}/{name}"
        parts = []
        for j in range(1, nj + 1):
            part = Path(f"{out}/logdir/output.{j}/1best_recog/text")
            if not part.is_file():
                raise DataDirError(f"{part} missing: decoding job {j} wrote no output (see "
                                   f"{run.decode_dir}/logdir/asr_inference.{j}.log)")
            parts.append(part.read_bytes())
        lines = b"".join(parts).split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        with atomic_open(f"{out}/text", "wb") as f:
            f.write(b"".join(line + b"\n" for line in sorted(lines, key=_sort_key)))
        _touch(f"{out}/.done")


def score_all(opts: RecipeOptions) -> None:
    """Stage 8: score every decoded test set of every downstream ASR not scored yet: WER/CER,
    per-utterance errors and alignments into ``<decode dir>/<test set>/score``, with the fields
    of its results row in the summary; then its ``.done``."""
    from espnet_ext.data.degrade import load_degrade_config
    from espnet_ext.evaluation.scoring import score_files

    settings = load_degrade_config(opts.degrade_config) if opts.degrade_config else {}
    for run in plan.asr_runs(opts):
        for name in run.test_sets:
            out = f"{run.decode_dir}/{name}"
            clean = f"test_{run.lang}"
            condition = name[len(clean):] if name.startswith(clean) else name
            condition = condition[1:] if condition.startswith("_") else condition
            if done_already(opts, f"{out}/score/.done"):
                logger.info("Stage 8: %s/score exists, skipping", out)
                continue
            ref = f"{opts.datadir}/{name}/text"
            logger.info("Stage 8: scoring: %s/text vs %s -> %s/score", out, ref, out)
            meta = {
                "upstream": run.tag,
                "seed": run.seed,
                "test_set": name,
                "condition": condition or "clean",
                "train_set": Path(run.train_dir).name,
                "decode": opts.decode_tag,
                "encoder_frame_ms": opts.encoder_frame_ms or "config",
                "encoder_input": opts.encoder_input if opts.encoder_frame_ms else "config",
                "head": run.head,
                "main_head": str(run.main_head).lower(),
            }
            degraded = settings.get(condition)
            if degraded is not None and degraded.noise is not None:  # the report's SNR curves
                meta.update(noise=degraded.noise, snr_db=degraded.snr_db)
            score_files(ref, f"{out}/text", run.lang, f"{out}/score", meta, opts.score_normalize)
            fail_point("scored")
            _touch(f"{out}/score/.done")


# --- stage 9: probes ---------------------------------------------------------------------------

def probe_args(opts: RecipeOptions, program: str, lang: str) -> List[str]:
    """The options of one probe process of stage 9 (``program``: ``phone_probe`` or
    ``phone_recognition``) on ``lang``: every probed upstream with its out dir, the data, the
    seed (and for the frame probe its espeak-ng voices).

    Raises:
        DataDirError: the frame probe's sentences are missing.
    """
    probe = {p.program: p for p in plan.probes(opts) if p.lang == lang}[program]
    args = plan.probe_pairs(opts, plan.recipe_pretrain_runs(opts), probe.out_root, lang)
    args += ["--lang", lang]
    test = f"{opts.datadir}/test_{lang}"
    if program == "phone_probe":
        if not Path(f"{test}/text").is_file():
            raise DataDirError(f"{test}/text missing: the probe reads its sentences")
        # the plain voice, then each variant: "nl,nl+f2,nl+m3"
        variants = opts.probe_variants.replace(" ", f",{lang}+")
        voices = lang + (f",{lang}+{variants}" if opts.probe_variants else "")
        args += ["--text", f"{test}/text", "--num_utts", opts.probe_num_utts,
                 "--synth_dir", f"{opts.expdir}/probe/synth_{lang}", "--voice", voices]
    else:
        args += ["--train_dir", plan.train_set(opts, lang), "--test_dir", test,
                 "--updates", opts.pr_updates]
    return args + ["--seed", opts.seed]
