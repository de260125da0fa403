"""The pre-training runs of a recipe (stages 3-4), one line each, for xling.sh to loop over:

    python -m espnet_ext.bin.pretrain_runs --configs "conf/pretrain/apc_tiny.yaml \\
        conf/pretrain/mpc_tiny.yaml:0,2" --hours "0.5 1 2" --arms twin --seeds "1 2"

prints ``CONFIG HOURS ARM SEED TEXT DURATIONS`` per run, seeds outermost, then configs in order,
then amounts: ``ARM`` is ``main``, ``twin`` or ``paired`` (the arms of a config that reads text;
amount 0, the random-init control, is ``main`` only); ``TEXT`` (the run reads phones) and
``DURATIONS`` (it needs espeak-ng's phone durations) are ``true``/``false``, from the table of
pre-training families. A bad config or arm is one line and exit 2, before any stage runs.
"""

import argparse
import logging
from typing import List, NamedTuple

from espnet_ext.bin import run_main
from espnet_ext.errors import ConfigError

logger = logging.getLogger("espnet_ext")

ARMS = ("twin", "paired")


class PretrainRun(NamedTuple):
    config: str
    hours: str
    arm: str
    seed: str
    text: bool
    durations: bool

    def line(self) -> str:
        return " ".join([self.config, self.hours, self.arm, self.seed,
                         str(self.text).lower(), str(self.durations).lower()])


def plan(configs: str, hours: str, arms: str, seeds: str) -> List[PretrainRun]:
    """The runs of ``--pretrain_configs`` (``CONFIG[:H1,H2]`` each), ``--pretrain_hours``,
    ``--pretrain_arms`` and ``--seeds``.

    Raises:
        ConfigError: an unknown arm, a config that is missing, not a YAML mapping, or of an
            unknown family.
    """
    from espnet_ext.bin.check_options import check_yaml_mapping
    from espnet_ext.pretrain.families import DEFAULT_FAMILY, family, reads_text

    bad = [a for a in arms.split() if a not in ARMS]
    if bad:
        raise ConfigError(f"--pretrain_arms '{bad[0]}': the arms are {' and '.join(ARMS)}")
    kinds = {}
    for entry in configs.split():
        path = entry.split(":", 1)[0]
        conf = check_yaml_mapping(path, "pre-training config", "pretrain_config")
        fam = family(str(conf.get("model", DEFAULT_FAMILY)))
        text = reads_text(conf)
        kinds[path] = (text, text and fam.phone_durations)
    runs = []
    for seed in seeds.split():
        for entry in configs.split():
            path, _, own = entry.partition(":")
            text, durations = kinds[path]
            for h in (own.replace(",", " ") if own else hours).split():
                runs.append(PretrainRun(path, h, "main", seed, text, durations))
                if h == "0" or not text:
                    continue  # the random-init control is not trained, so it has no arms
                runs += [PretrainRun(path, h, arm, seed, text, durations)
                         for arm in arms.split()]
    return runs


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
