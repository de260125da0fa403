"""The run plan of an xling1 recipe, and the bookkeeping steps of its stages, for xling.sh:

    python -m espnet_ext.bin.recipe_plan WHAT [xling.sh's options, e.g. --expdir exp] [WHAT's own]

Rows go to stdout, one per line, fields separated by spaces (for ``read -r``); logs go to stderr
in the shape of xling.sh's own, and an error is one ``Error: ...`` line, then exit 2 (exit 1 when
a step failed after logging why). A RUN is a row of ``pretrain_runs`` or ``asr_runs`` (its first
four fields name the run). WHAT:

  check             check the options; ``NAME VALUE`` per setting the stages read
  pretrain_runs     ``CONFIG HOURS ARM SEED TEXT DURATIONS EXP TRAIN_DIR UPSTREAM`` per
                    pre-training run (UPSTREAM without .yaml)
  asr_runs          ``UPSTREAM SEED CONFIG LANG EXP TRAIN_DIR DEV_DIR TOKEN_DIR ROW_TAG HEAD
                    MAIN_HEAD MODEL DECODE_DIR TEST_SET...`` per downstream ASR
  upstreams         ``UPSTREAM CACHE_ROOT`` per upstream, given and pre-trained
  data_dirs KIND... every language's data dirs of these kinds (train, dev, test), one per line
                    (--option OPT: each after OPT)
  probes            ``PROGRAM LANG OUT_ROOT SRC`` per probe process of stage 9
  pretrain_args --run RUN [--stats]  pretrain_train's options, one per line
  asr_train_args --run RUN [--stats] asr_train's options, one per line
  probe_args --what PROGRAM --lang LANG  the probe process's options, one per line
  collect_stats_split TRAIN_DIR VALID_DIR LOGDIR  split the keys into jobs; prints the count
  decode_prepare --run RUN  split the sets to decode into jobs: ``NJ MODEL TEST_SET...``
                    (NJ 0: nothing to decode)
  decode_merge --run RUN --jobs N TEST_SET...    merge the jobs' outputs into text, mark done
  validate KIND...  validate every language's data dirs of these kinds
  prepare_data, tokens, pretrain_data, export --run RUN, score: the steps of stages 1, 2, 3, 4
                    and 8 (espnet_ext.recipe.stages)
"""

import argparse
import contextlib
import dataclasses
import logging
import sys
from typing import List

from espnet_ext.bin import exit_on_full_disk
from espnet_ext.errors import XlingError
from espnet_ext.recipe import plan, stages
from espnet_ext.recipe.plan import RecipeOptions

logger = logging.getLogger("espnet_ext")


class RecipeLogFormatter(logging.Formatter):
    """The lines of xling.sh's ``log``: ``<time> (<module>:<line>:<function>) <message>``; a
    warning or error starts ``Warning:``/``Error:`` as the script's own do."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s (%(module)s:%(lineno)d:%(funcName)s) %(message)s",
                         "%Y-%m-%dT%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        if record.levelno >= logging.WARNING:
            record = logging.makeLogRecord({**record.__dict__, "args": (), "msg": (
                f"{record.levelname.capitalize()}: {record.getMessage()}")})
        return super().format(record)


def _pretrain_run(opts: RecipeOptions, row: str) -> plan.PretrainRun:
    key = row.split()[:4]
    for run in plan.recipe_pretrain_runs(opts):
        if [run.config, run.hours, run.arm, run.seed] == key:
            return run
    raise SystemExit(f"recipe_plan: no pre-training run {' '.join(key)} in this plan")


def _asr_run(opts: RecipeOptions, row: str) -> plan.AsrRun:
    fields = row.split()
    if len(fields) < 4:
        raise SystemExit(f"recipe_plan: --run needs UPSTREAM SEED CONFIG LANG, got {row!r}")
    return plan.asr_run(opts, *fields[:4])


def run(what: str, opts: RecipeOptions, args: argparse.Namespace) -> List[str]:
    """Do ``what``; the lines it prints."""
    if what == "check":
        return [f"{name} {value}" for name, value in stages.check(opts)]
    if what == "pretrain_runs":
        return [" ".join([r.line(), plan.pretrain_exp(opts, r), plan.pretrain_data(opts, r.hours),
                          plan.pretrained_upstream(opts, r)])
                for r in plan.recipe_pretrain_runs(opts)]
    if what == "asr_runs":
        return [r.row() for r in plan.asr_runs(opts)]
    if what == "upstreams":
        return [f"{u} {plan.cache_root(opts, u)}"
                for u in plan.all_upstreams(opts, plan.recipe_pretrain_runs(opts))]
    if what == "data_dirs":
        return stages.data_dirs(opts, args.kinds, args.option)
    if what == "probes":
        return [" ".join(p) for p in plan.probes(opts)]
    if what == "pretrain_args":
        return stages.pretrain_args(opts, _pretrain_run(opts, args.run), args.stats)
    if what == "asr_train_args":
        return stages.asr_train_args(opts, _asr_run(opts, args.run), args.stats)
    if what == "probe_args":
        return stages.probe_args(opts, args.what_probe, args.lang)
    if what == "collect_stats_split":
        return [str(stages.collect_stats_split(opts, args.train, args.valid, args.logdir))]
    if what == "decode_prepare":
        asr = _asr_run(opts, args.run)
        nj, todo = stages.decode_prepare(opts, asr)
        return [" ".join([str(nj), asr.model, *todo])]
    if what == "decode_merge":
        stages.decode_merge(opts, _asr_run(opts, args.run), args.jobs, args.test_sets)
    elif what == "validate":
        stages.validate(plan.data_dirs(opts, args.kinds))
    elif what == "export":
        stages.export(opts, _pretrain_run(opts, args.run))
    else:
        {"prepare_data": stages.prepare_data, "tokens": stages.tokens,
         "pretrain_data": stages.pretrain_data, "score": stages.score_all}[what](opts)
    return []


def get_parser() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    for field in dataclasses.fields(RecipeOptions):
        kind = {int: int, bool: lambda v: v == "true"}.get(type(field.default), str)
        options.add_argument(f"--{field.name}", type=kind, default=field.default,
                             help=f"xling.sh's --{field.name}")
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True, metavar="WHAT")

    def add(what: str) -> argparse.ArgumentParser:
        # no abbreviations: --lang of probe_args is not --languages or --lang_data
        return sub.add_parser(what, parents=[options], allow_abbrev=False)

    for what in ("check", "pretrain_runs", "asr_runs", "upstreams", "probes", "prepare_data",
                 "tokens", "pretrain_data", "score"):
        add(what)
    for what in ("data_dirs", "validate"):
        p = add(what)
        p.add_argument("kinds", nargs="+", choices=("train", "dev", "test"))
        if what == "data_dirs":
            p.add_argument("--option", default="", help="print each dir after this option")
    for what in ("pretrain_args", "asr_train_args", "export", "decode_prepare", "decode_merge"):
        p = add(what)
        p.add_argument("--run", required=True, help="a row of pretrain_runs or asr_runs")
        if what.endswith("_args"):
            p.add_argument("--stats", action="store_true", help="the options of collect-stats")
    merge = sub.choices["decode_merge"]
    merge.add_argument("--jobs", type=int, required=True, help="jobs of the decoding")
    merge.add_argument("test_sets", nargs="+", help="the test sets decoded")
    probe = add("probe_args")
    probe.add_argument("--what", dest="what_probe", required=True,
                       choices=("phone_probe", "phone_recognition"))
    probe.add_argument("--lang", required=True)
    split = add("collect_stats_split")
    for name in ("train", "valid", "logdir"):
        split.add_argument(name)
    return parser


def main() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(RecipeLogFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    args = get_parser().parse_args()
    opts = RecipeOptions(**{name: getattr(args, name) for name in plan.OPTION_NAMES})
    try:
        # stdout carries only the rows: notices printed by imports (s3prl, ESPnet) go to stderr
        with exit_on_full_disk(), contextlib.redirect_stdout(sys.stderr):
            lines = run(args.what, opts, args)
    except XlingError as e:
        logger.error("%s", e)
        sys.exit(1 if isinstance(e, stages.StepFailed) else 2)
    if lines:
        print("\n".join(lines))


if __name__ == "__main__":
    main()
