"""The results table: every ``score/summary.json`` under an exp dir, as Markdown, CSV and JSON.

One row per (upstream, test set); the Markdown table has one line per upstream and a CER/WER
column pair per language, so later stages only add rows (more upstreams) or conditions.
"""

import csv
import io
import json
import logging
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List

from espnet_ext.errors import XlingError
from espnet_ext.evaluation.scoring import ErrorCounts
from espnet_ext.fileio import PathLike, atomic_write_text

logger = logging.getLogger(__name__)

COLUMNS = ("upstream", "language", "test_set", "condition", "decode", "num_utts", "cer", "wer",
           "char_errors", "chars", "word_errors", "words", "exp_dir")


def collect_results(exp_dir: PathLike) -> List[Dict]:
    """Read every ``*/score/summary.json`` below ``exp_dir`` into flat rows, sorted.

    Raises:
        XlingError: no summary found (scoring has not run) or one is unreadable.
    """
    exp_dir = Path(exp_dir)
    rows = []
    for f in sorted(exp_dir.glob("**/score/summary.json")):
        try:
            s = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise XlingError(f"{f}: unreadable score summary ({e}); rerun the scoring stage") from None
        meta = s.get("meta", {})
        word, char = ErrorCounts(**s["word"]), ErrorCounts(**s["char"])
        rows.append({
            "upstream": meta.get("upstream", "?"),
            "language": s["language"],
            "test_set": meta.get("test_set", f.parent.parent.name),
            # summaries from before degraded conditions existed are all clean test sets
            "condition": meta.get("condition", "clean"),
            "decode": meta.get("decode", f.parent.parent.parent.name),
            "num_utts": s["num_utts"],
            "cer": s["cer"],
            "wer": s["wer"],
            "char_errors": char.errors,
            "chars": char.ref_length,
            "word_errors": word.errors,
            "words": word.ref_length,
            "exp_dir": str(f.parent.relative_to(exp_dir)),
        })
    if not rows:
        raise XlingError(f"{exp_dir}: no */score/summary.json found; run the scoring stage first")
    rows.sort(key=lambda r: (r["upstream"], r["language"], r["test_set"], r["decode"]))
    return rows


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=Path(__file__).parent, check=False)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def render_markdown(rows: List[Dict], title: str = "Results") -> str:
    """Markdown: a summary table (upstream x language, CER / WER) and the full per-set table."""
    langs = sorted({r["language"] for r in rows})
    ups = sorted({r["upstream"] for r in rows})
    by_key = {(r["upstream"], r["language"]): r for r in rows if r["test_set"].startswith("test")}
    out = io.StringIO()
    out.write(f"# {title}\n\n")
    out.write(f"- generated: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}, "
              f"code commit {_git_commit()}\n")
    out.write("- CER/WER in %, lower is better. WER = (S+D+I)/N over words, CER = (S+D+I)/N over "
              "characters including spaces, both after per-language text normalisation "
              "(`espnet_ext.text.normalize`).\n\n")
    out.write("## CER / WER on the test sets\n\n")
    out.write("| upstream | " + " | ".join(langs) + " |\n")
    out.write("|---|" + "---|" * len(langs) + "\n")
    for u in ups:
        cells = []
        for lang in langs:
            r = by_key.get((u, lang))
            cells.append(f"{r['cer']:.1f} / {r['wer']:.1f}" if r else "-")
        out.write(f"| {u} | " + " | ".join(cells) + " |\n")
    out.write("\n## Every scored set\n\n")
    out.write("| upstream | language | test set | decode | utts | CER | WER | chars | words |\n")
    out.write("|---|---|---|---|---|---|---|---|---|\n")
    for r in rows:
        out.write(f"| {r['upstream']} | {r['language']} | {r['test_set']} | {r['decode']} | "
                  f"{r['num_utts']} | {r['cer']:.2f} | {r['wer']:.2f} | {r['chars']} | "
                  f"{r['words']} |\n")
    return out.getvalue()


def write_results(exp_dir: PathLike, out_dir: PathLike, title: str = "Results") -> Path:
    """Collect the results below ``exp_dir`` and write RESULTS.md, results.csv and results.json.

    Returns:
        path of RESULTS.md.
    """
    rows = collect_results(exp_dir)
    out_dir = Path(out_dir)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out_dir / "results.csv", buf.getvalue())
    atomic_write_text(out_dir / "results.json", json.dumps(rows, indent=2) + "\n")
    md = out_dir / "RESULTS.md"
    atomic_write_text(md, render_markdown(rows, title))
    logger.info("wrote %s (%d rows)", md, len(rows))
    return md
