"""ESPnet ASR decoding (same CLI as ``espnet2.bin.asr_inference``) with espnet_ext's frontends.

The model is rebuilt from its ``config.yaml``, which may name ``frontend: cached_layers``, so the
frontend is registered before ESPnet reads that file.

A decode config may also say ``ctc_greedy: true`` (conf/decode/decode_ctc_greedy.yaml): then each
utterance is decoded by CTC best path (argmax per frame, repeats merged, blanks dropped) instead
of ESPnet's beam search. Why: robustness studies decode every test set once per condition, and
ESPnet's search with ``beam_size: 1, ctc_weight: 1.0`` still runs CTC prefix scoring at every
output step (on 24 Spanish test utterances: 17 s of decoding after model loading, against 9 s
for best path). The rest of ESPnet's inference (model building, data loading, output files) is
unchanged; the key is removed from the config ESPnet sees.
"""

import argparse
import logging
from pathlib import Path
from typing import List, Optional

import yaml

from espnet_ext.bin.asr_train import register_frontends


def _split_greedy_config(cmd: List[str]) -> tuple:
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
    clean.write_text(yaml.safe_dump(conf), encoding="utf-8")
    i = cmd.index("--config") if "--config" in cmd else None
    if i is not None:
        cmd = cmd[:i] + ["--config", str(clean)] + cmd[i + 2:]
    else:  # --config=PATH form
        cmd = [f"--config={clean}" if a.startswith("--config=") else a for a in cmd]
    return greedy, cmd


def _ctc_best_path(self, enc):
    """Drop-in for ``Speech2Text._decode_single_sample``: CTC best path of one utterance."""
    import torch
    from espnet.nets.beam_search import Hypothesis

    logp = self.asr_model.ctc.log_softmax(enc.unsqueeze(0))[0]  # (T, V)
    best, ids = logp.max(dim=-1)
    ids = torch.unique_consecutive(ids)
    blank, eos = 0, self.asr_model.eos  # ESPnet's CTC blank is id 0; sos/eos is never a token
    token_int = [int(i) for i in ids if int(i) not in (blank, eos)]
    hyp = Hypothesis(score=float(best.sum()), yseq=torch.tensor([eos] + token_int + [eos]))
    token = self.converter.ids2tokens(token_int)
    text = self.tokenizer.tokens2text(token) if self.tokenizer is not None else None
    return [(text, token, token_int, hyp)]


def main(cmd: Optional[List[str]] = None) -> None:
    import sys

    register_frontends()
    from espnet2.bin import asr_inference as espnet_inference

    greedy, cmd = _split_greedy_config(list(sys.argv[1:] if cmd is None else cmd))
    if greedy:
        logging.getLogger(__name__).info("ctc_greedy: CTC best-path decoding (no beam search)")
        espnet_inference.Speech2Text._decode_single_sample = _ctc_best_path
    espnet_inference.main(cmd)


if __name__ == "__main__":
    main()
