"""The decision rule of the research question, fixed before any run and applied by the report.

**Does text in pre-training help on languages the model never heard?** For each text arm
(``joint``: transcripts and unpaired text; ``paired``: transcripts only) against its audio-only
twin (same config, amount and seeds), on the macro-average CER of the clean test sets over the
evaluation languages: text *helps* if the 95% interval of the arm-minus-twin difference (over
seeds and utterances, every language resampled on its own) lies entirely below 0, *hurts* if
entirely above, and otherwise has *no measurable effect at this scale*.

A text verdict is only worth reading if the twin learned something: the report also counts, per
language, whether the twin beats fbank and its random-init control (interval of the difference
entirely below 0), and says "not shown" when it beats neither anywhere.
"""

from typing import Dict, List, Sequence

RULE = ("text helps if the arm-minus-twin difference of the macro-average CER (clean test sets) "
        "has a 95% interval (over seeds and utterances) entirely below 0, hurts if entirely "
        "above, otherwise no measurable effect at this scale")
TEXT_QUESTIONS = {"joint": "transcripts and unpaired text", "paired": "transcripts only"}
CONTROLS = ("fbank", "random_init")  # what the twin must beat for the verdict to mean something


def decide(diff_lo: float, diff_hi: float) -> str:
    """The rule on one interval of (arm - twin) CER."""
    if diff_hi < 0:
        return "helps"
    if diff_lo > 0:
        return "hurts"
    return "no measurable effect"


def _clean_cer(sig: Sequence[Dict]) -> List[Dict]:
    return [s for s in sig if s["condition"] == "clean" and s["metric"] == "cer"]


def text_verdicts(sig: Sequence[Dict]) -> List[Dict]:
    """One row per (twin, text arm) compared on the macro average: the rule's verdict."""
    out = []
    for s in _clean_cer(sig):
        if (s["language"] != "macro" or s["baseline_arm"] != "twin"
                or s["system_arm"] not in TEXT_QUESTIONS):
            continue
        out.append({"question": f"{s['system_arm']} vs twin ({TEXT_QUESTIONS[s['system_arm']]})",
                    "baseline": s["baseline"], "system": s["system"],
                    "n_seeds": s.get("n_seeds", 1), "diff": s["diff"], "diff_lo": s["diff_lo"],
                    "diff_hi": s["diff_hi"], "verdict": decide(s["diff_lo"], s["diff_hi"])})
    return out


def twin_checks(sig: Sequence[Dict]) -> List[Dict]:
    """Per twin and control (fbank, random init): in how many languages the twin's clean CER is
    lower with the interval of the difference entirely below 0."""
    out = []
    for control in CONTROLS:
        rows = [s for s in _clean_cer(sig) if s["language"] != "macro"
                and s["baseline_arm"] == control and s["system_arm"] == "twin"]
        for twin in sorted({s["system"] for s in rows}):
            mine = sorted((s for s in rows if s["system"] == twin), key=lambda s: s["language"])
            better = [s["language"] for s in mine if s["diff_hi"] < 0]
            out.append({"twin": twin, "control": mine[0]["baseline"], "control_arm": control,
                        "languages": len(mine), "languages_better": len(better),
                        "better_in": " ".join(better)})
    return out


def render(verdicts: Sequence[Dict], checks: Sequence[Dict]) -> str:
    """The report's verdict section (empty without a twin compared with a text arm)."""
    if not verdicts:
        return ""
    lines = ["## Verdict of the decision rule (fixed before the run)\n",
             f"Rule: {RULE}.\n",
             "| question | system - twin (macro CER) | 95% interval | seeds | verdict |",
             "|---|---|---|---|---|"]
    for v in verdicts:
        lines.append(f"| {v['question']}: `{v['system']}` - `{v['baseline']}` | {v['diff']:+.1f} | "
                     f"[{v['diff_lo']:+.1f}, {v['diff_hi']:+.1f}] | {v['n_seeds']} | "
                     f"**{v['verdict']}** |")
    if checks:
        lines.append("\nDid the audio-only twin learn? Languages where it beats the control "
                     "(clean CER, interval of the difference below 0):\n")
        lines += [f"- `{c['twin']}` vs `{c['control']}`: {c['languages_better']} of "
                  f"{c['languages']}{' (' + c['better_in'] + ')' if c['better_in'] else ''}"
                  for c in checks]
        if all(c["languages_better"] == 0 for c in checks):
            lines.append("\nThe twin beats no control in any language: its features are not "
                         "shown to be useful, so the verdict above compares models that did not "
                         "learn and says little about text.")
    return "\n".join(lines) + "\n"
