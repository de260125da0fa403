"""The pre-training runs of a recipe (stages 3-4), one line each (the plan of
:func:`espnet_ext.recipe.plan.pretrain_runs`, which xling.sh reads through ``recipe_plan``):

    python -m espnet_ext.bin.pretrain_runs --configs "conf/pretrain/apc_tiny.yaml \\
        conf/pretrain/mpc_tiny.yaml:0,2" --hours "0.5 1 2" --arms twin --seeds "1 2"

prints ``CONFIG HOURS ARM SEED TEXT DURATIONS`` per run, seeds outermost, then configs in order,
then amounts: ``ARM`` is ``main``, ``twin`` or ``paired`` (the arms of a config that reads text;
amount 0, the random-init control, is ``main`` only); ``TEXT`` (the run reads phones) and
``DURATIONS`` (it needs espeak-ng's phone durations) are ``true``/``false``, from the table of
pre-training families. A bad config or arm is one line and exit 2, before any stage runs.
"""

import argparse

from espnet_ext.bin import run_main
from espnet_ext.recipe.plan import ARMS, PretrainRun, pretrain_runs as plan

__all__ = ["ARMS", "PretrainRun", "plan", "main"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default="", help="--pretrain_configs of xling.sh")
    parser.add_argument("--hours", default="", help="--pretrain_hours (configs without their own)")
    parser.add_argument("--arms", default="", help="--pretrain_arms")
    parser.add_argument("--seeds", required=True, help="training seeds")
    args = parser.parse_args()
    for run in plan(args.configs, args.hours, args.arms, args.seeds):
        print(run.line())


if __name__ == "__main__":
    run_main(main)
