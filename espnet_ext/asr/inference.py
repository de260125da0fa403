"""ESPnet ASR decoding (``espnet2.bin.asr_inference``'s command line) with espnet_ext's frontends.

The model is rebuilt from its ``config.yaml``, which may name ``frontend: cached_layers``, so the
frontend is registered before ESPnet reads that file.

``--sets_file FILE`` decodes several test sets in one process: each line of FILE is
``OUTPUT_DIR KEY_FILE DATA_PATH_AND_NAME_AND_TYPE`` and ESPnet's inference runs once per line
with those three options added to the rest of the command line. Why: importing ESPnet and s3prl
takes ~15 s per process, more than decoding a small test set, and the recipe decodes every test
set under every degraded condition.

A decode config may also say ``ctc_greedy: true`` (conf/decode/decode_ctc_greedy.yaml): then each
utterance is decoded by CTC best path (argmax per frame, repeats merged, blanks dropped) instead
of ESPnet's beam search. Why: robustness studies decode every test set once per condition, and
ESPnet's search with ``beam_size: 1, ctc_weight: 1.0`` still runs CTC prefix scoring at every
output step (on 24 Spanish test utterances: 17 s of decoding after model loading, against 9 s
for best path). The rest of ESPnet's inference (model building, data loading, output files) is
unchanged; the key is removed from the config ESPnet sees.

The model file is loaded weights-only (ESPnet passes ``weights_only=False``): a model file that
pickles anything but tensors is refused with its name, never executed.
"""

import argparse
import contextlib
import logging
import pickle
from pathlib import Path
from typing import List
from unittest import mock

import yaml

from espnet_ext.asr.task import register_frontends
from espnet_ext.errors import ConfigError
from espnet_ext.evaluation.decoding import ctc_best_path
from espnet_ext.fileio import atomic_write_text
from espnet_ext.safe_load import torch_error_reason, weights_only_loads


def split_greedy_config(cmd: List[str]) -> tuple:
    """(use_greedy, cmd): reads ``ctc_greedy`` from ``--config`` and, if present, passes ESPnet
    a copy of that config without the key (written next to the outputs, in ``--output_dir``)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--config")
    parser.add_argument("--output_dir")
    known, _ = parser.parse_known_args(cmd)
    if not known.config:
        return False, cmd
    with open(known.config, encoding="utf-8") as f:
        conf = yaml.safe_load(f) or {}
    if "ctc_greedy" not in conf:
        return False, cmd
    greedy = conf.pop("ctc_greedy")
    if not isinstance(greedy, bool):
        raise SystemExit(f"{known.config}: ctc_greedy must be true or false, got {greedy!r}")
    out_dir = Path(known.output_dir or ".")
    out_dir.mkdir(parents=True, exist_ok=True)
    clean = out_dir / "decode_config.yaml"
    atomic_write_text(clean, yaml.safe_dump(conf))  # a killed decode leaves no half config
    i = cmd.index("--config") if "--config" in cmd else None
    if i is not None:
        cmd = cmd[:i] + ["--config", str(clean)] + cmd[i + 2:]
    else:  # --config=PATH form
        cmd = [f"--config={clean}" if a.startswith("--config=") else a for a in cmd]
    return greedy, cmd


def ctc_best_path_decode(self, enc):
    """Drop-in for ``Speech2Text._decode_single_sample``: CTC best path of one utterance."""
    import torch
    from espnet.nets.beam_search import Hypothesis

    logp = self.asr_model.ctc.log_softmax(enc.unsqueeze(0))[0]  # (T, V)
    eos = self.asr_model.eos  # ESPnet's CTC blank is id 0; sos/eos is never a token
    token_int = ctc_best_path(logp, blank=0, drop=[eos])
    hyp = Hypothesis(score=float(logp.max(dim=-1).values.sum()),
                     yseq=torch.tensor([eos] + token_int + [eos]))
    token = self.converter.ids2tokens(token_int)
    text = self.tokenizer.tokens2text(token) if self.tokenizer is not None else None
    return [(text, token, token_int, hyp)]


def split_sets_file(cmd: List[str]) -> tuple:
    """(sets, cmd without --sets_file): sets = [(output_dir, key_file, data spec)] or None."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--sets_file")
    known, rest = parser.parse_known_args(cmd)
    if known.sets_file is None:
        return None, cmd
    sets = []
    with open(known.sets_file, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 3:
                raise SystemExit(f"{known.sets_file}:{n}: expected OUTPUT_DIR KEY_FILE "
                                 f"DATA_PATH_AND_NAME_AND_TYPE, got {line.strip()!r}")
            sets.append(tuple(fields))
    return sets, rest


def decode(cmd: List[str]) -> None:
    """ESPnet's ``asr_inference`` on ``cmd`` (its command line plus ``--sets_file``), once per set."""
    register_frontends()
    from espnet2.bin import asr_inference as espnet_inference

    sets, cmd = split_sets_file(cmd)
    runs = [cmd] if sets is None else [
        cmd + ["--output_dir", out, "--key_file", keys, "--data_path_and_name_and_type", spec]
        for out, keys, spec in sets]
    for run in runs:  # every run has the same --config
        greedy, run = split_greedy_config(run)
        # Best path replaces the search of this run only (restored after it).
        search = (mock.patch.object(espnet_inference.Speech2Text, "_decode_single_sample",
                                    ctc_best_path_decode) if greedy else contextlib.nullcontext())
        if greedy:
            logging.getLogger(__name__).info("ctc_greedy: CTC best-path decoding (no beam search)")
        try:
            with search, weights_only_loads():
                espnet_inference.main(run)
        except pickle.UnpicklingError as e:
            model = run[run.index("--asr_model_file") + 1] if "--asr_model_file" in run else "?"
            raise ConfigError(
                f"{model}: refusing to load it: it pickles objects other than tensors, and "
                f"loading it could run arbitrary code ({torch_error_reason(str(e))}); use a "
                "model file saved as a plain state dict (e.g. retrain, or re-save its weights in "
                "a trusted environment)") from None

