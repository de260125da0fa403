"""The rows of the results: every ``score/summary.json`` under an exp dir, one flat row per
(upstream, test set, training seed); :mod:`espnet_ext.evaluation.report` turns them into the
report.
"""

import json
from pathlib import Path
from typing import Dict, List

from espnet_ext.errors import XlingError
from espnet_ext.evaluation.scoring import ErrorCounts
from espnet_ext.fileio import PathLike
from espnet_ext.versioning import SCORE_SUMMARY, check


def collect_results(exp_dir: PathLike) -> List[Dict]:
    """Read every ``*/score/summary.json`` below ``exp_dir`` into flat rows, sorted.

    Raises:
        XlingError: no summary found (scoring has not run), one is unreadable or malformed, or
            one was written in a format this version does not read (names the writing version).
    """
    exp_dir = Path(exp_dir)
    rows = []
    for f in sorted(exp_dir.glob("**/score/summary.json")):
        try:
            s = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise XlingError(f"{f}: unreadable score summary ({e}); rerun the scoring stage") from None
        # A summary of a format this version cannot read is refused, naming who wrote it; one
        # without a stamp predates stamping and has the format-1 layout.
        check(s, SCORE_SUMMARY, f)
        try:
            meta = s.get("meta", {})
            word, char = ErrorCounts(**s["word"]), ErrorCounts(**s["char"])
            rows.append({
                "upstream": meta.get("upstream", "?"),
                "language": s["language"],
                "test_set": meta.get("test_set", f.parent.parent.name),
                # summaries from before degraded conditions existed are all clean test sets
                "condition": meta.get("condition", "clean"),
                # additive noise of the condition and its SNR (dB), "" for the others
                "noise": meta.get("noise", ""),
                "snr_db": meta.get("snr_db", ""),
                "decode": meta.get("decode", f.parent.parent.parent.name),
                # training seed of the run (--seeds); "" for summaries from before seeds
                "seed": str(meta.get("seed", "")),
                # the frame rate every upstream reached the encoder at ("config": the ASR
                # config's input layer for all; "" for summaries from before it was recorded)
                "encoder_frame_ms": str(meta.get("encoder_frame_ms", "")),
                # how 10/20 ms inputs reached it: "conv" input layers or "stack"ed frames into
                # a linear one ("" for summaries from before it was recorded: conv)
                "encoder_input": meta.get("encoder_input", ""),
                # the downstream head (ASR config name) and whether it is the run's main head
                # (--asr_configs); summaries from before heads existed: one main head
                "head": meta.get("head", ""),
                "main_head": meta.get("main_head", "true") == "true",
                "num_utts": s["num_utts"],
                "cer": s["cer"],
                "wer": s["wer"],
                "char_errors": char.errors,
                "chars": char.ref_length,
                "word_errors": word.errors,
                "words": word.ref_length,
                "exp_dir": str(f.parent.relative_to(exp_dir)),
            })
        except (KeyError, TypeError, AttributeError) as e:
            raise XlingError(f"{f}: malformed score summary ({type(e).__name__}: {e}); rerun the "
                             "scoring stage") from None
    if not rows:
        raise XlingError(f"{exp_dir}: no */score/summary.json found; run the scoring stage first")
    rows.sort(key=lambda r: (r["upstream"], r["language"], r["test_set"], r["decode"]))
    return rows

