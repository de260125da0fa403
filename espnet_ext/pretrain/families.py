"""The pre-training families, one row each: what the training task builds, how the s3prl hub
exports and runs it, and what the recipe must give it. The task (:mod:`.task`), the hub
(:mod:`espnet_ext.upstream.hub`) and the recipe's run plan (:mod:`espnet_ext.recipe.plan`)
all read this table, so a new family is one row here plus its model class.

Kept free of torch and ESPnet imports: the recipe reads it before any stage runs.
"""

import importlib
from dataclasses import dataclass
from typing import Dict, Mapping

from espnet_ext.errors import ConfigError

ALWAYS, WEIGHTED, NEVER = "always", "weighted", "never"
TEXT_WEIGHTS = ("text_weight", "paired_weight")  # the model_conf keys of the text losses


@dataclass(frozen=True)
class Family:
    """Args:
        model: ``module:Class`` of the training model (a :class:`~.base.PretrainModel`).
        hub_entry: the s3prl hub name our exports load by.
        expert_module: the s3prl module whose ``UpstreamExpert`` runs the exported weights.
        text: reads phones of transcripts and of a text corpus: ``always``, ``never``, or
            ``weighted`` (when its config sets a text loss weight above 0).
        phone_durations: its unpaired-text loss upsamples phones by espeak-ng's durations.
    """

    model: str
    hub_entry: str
    expert_module: str
    text: str = NEVER
    phone_durations: bool = False


FAMILIES: Dict[str, Family] = {
    "apc": Family("espnet_ext.pretrain.apc:APCPretrainModel", "xling_apc",
                  "s3prl.upstream.apc.expert"),
    "wav2vec2": Family("espnet_ext.pretrain.wav2vec2:Wav2Vec2PretrainModel", "xling_wav2vec2",
                       "s3prl.upstream.wav2vec2.expert"),
    # the joint text-audio model and its twins: the speech branch is a wav2vec 2.0
    "joint": Family("espnet_ext.pretrain.joint:JointPretrainModel", "xling_joint",
                    "s3prl.upstream.wav2vec2.expert", text=ALWAYS),
    # masked prediction on log-mel (all its arms): s3prl's Mockingjay/TERA Transformer on
    # stacked frames, run by our expert (s3prl's cannot stack)
    "mpc": Family("espnet_ext.pretrain.mpc:MPCPretrainModel", "xling_mpc",
                  "espnet_ext.upstream.mpc_expert", text=WEIGHTED, phone_durations=True),
}
DEFAULT_FAMILY = "apc"  # a config without ``model:`` (ESPnet's choice default)


def family(name: str) -> Family:
    """The family ``name``.

    Raises:
        ConfigError: unknown family, naming the known ones.
    """
    try:
        return FAMILIES[name]
    except KeyError:
        raise ConfigError(f"unknown pre-training model '{name}'; known: {sorted(FAMILIES)}") \
            from None


def model_class(name: str) -> type:
    """The training model class of family ``name`` (imported on demand)."""
    module, _, cls = family(name).model.partition(":")
    return getattr(importlib.import_module(module), cls)


def reads_text(config: Mapping) -> bool:
    """Whether a pre-training config (a parsed YAML) trains on text, hence has text arms."""
    fam = family(str(config.get("model", DEFAULT_FAMILY)))
    if fam.text == WEIGHTED:
        # a weight of 0 trains no text: a config with every weight 0 is audio-only (no arms, no
        # phones), not a text config whose pool needs phones
        conf = config.get("model_conf") or {}
        try:
            return any(float(conf.get(k) or 0) > 0 for k in TEXT_WEIGHTS)
        except (TypeError, ValueError):
            raise ConfigError(f"model_conf {', '.join(TEXT_WEIGHTS)} must be numbers, got "
                              f"{[conf.get(k) for k in TEXT_WEIGHTS]}") from None
    return fam.text == ALWAYS
