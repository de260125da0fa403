"""The report of a recipe run, rebuilt from ``exp/`` alone: tables with bootstrap intervals,
significance of upstream pairs, and plots.

Inputs (all written by earlier stages):
    exp/asr_*/<decode>/<test set>/score/{summary.json,per_utt.tsv}   stage 8
    exp/asr_*/{config.yaml,valid.acc.ave.pth}                         stage 6 (layer weights)
    exp/probe/<upstream>/<lang>/probe.json                            stage 9 (optional)
    exp/phone_recognition/<upstream>/<lang>/result.json               stage 9 (optional)
Outputs in ``out_dir``:
    RESULTS.md          tables (clean CER/WER with 95% CIs, every condition, significance, probe)
    results.{csv,json}  one row per (upstream, test set) with CIs
    verdict.json        the decision rule's verdict on each text arm vs its twin (macro CER)
                        and the twin's checks against fbank and random init (:mod:`.verdict`)
    head_agreement.csv  with several downstream heads (--asr_configs): per language, Kendall's
                        tau between the heads' rankings of the upstreams and the flipped pairs
    significance.{csv,json}  paired bootstrap of each compared pair per language and condition,
                        and on the macro average over languages (language ``macro``)
    aggregates.{csv,json}    per upstream and condition: macro average over languages, standard
                        deviation across languages, worst language, each with an interval
    layer_weights.json, probe.csv, phone_recognition.csv
    error_vs_snr_<noise>.png, error_vs_pretrain_hours.png (CER and WER), layer_weights.png,
    probe_accuracy.png

What each upstream is (fbank, random-init control, joint model, paired arm, audio-only twin,
an audio-only method, external; its pre-training config and amount) comes from the metadata
stage 4 writes beside each exported upstream (:mod:`.systems`), not from its name. A degraded
test set's condition is stored in the score summary's meta (``condition``, and for additive noise
its ``noise`` and ``snr_db`` from conf/degrade), so condition names are free.

Training seeds (``--seeds``, the summary's meta ``seed``): the runs of one upstream with different
seeds on one test set become one row, with the mean over seeds, the spread over seeds and a
bootstrap interval over seeds and utterances together (:mod:`.significance`); pairs are compared
seed by seed. A run with one seed (or summaries without one) gives the report it always did.
"""

import csv
import io
import json
import logging
import math
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from espnet_ext.errors import XlingError
from espnet_ext.evaluation import verdict
from espnet_ext.evaluation.results import collect_results
from espnet_ext.evaluation.scoring import DEFINITIONS
from espnet_ext.evaluation.significance import (
    bootstrap_rate,
    compare_systems,
    cross_language_summary,
    language_rates,
    load_counts,
    macro_difference,
)
from espnet_ext.evaluation.systems import FBANK, TEXT_ARMS, describe_upstreams
from espnet_ext.faults import fail_point
from espnet_ext.fileio import PathLike, atomic_write_text
from espnet_ext.safe_load import load_checkpoint

logger = logging.getLogger(__name__)

# A second downstream head's systems are labelled <upstream>@<head> in tables and comparisons.
HEAD_SEP = "@"
METRICS = ("cer", "wer")  # table columns and plot rows, in this order


def _seed_order(seed: str) -> tuple:
    return (0, int(seed), "") if seed.isdigit() else (1, 0, seed)  # 2 before 10


def group_seeds(rows: List[Dict]) -> List[List[Dict]]:
    """Group the rows of :func:`~.results.collect_results` over training seeds.

    Rows of the same upstream, language, test set and decode with different seeds (``--seeds``)
    form one group, sorted by seed. A run without seed replicates gives one group per row, in
    row order, and its rows lose the ``seed`` column, so its report is as before seeds existed:
    the rows carry a ``seed`` exactly when some group has several.

    Raises:
        XlingError: a group with several seeds also holds two results of one seed (two
            downstream configs of one upstream), or results without a recorded seed.
    """
    by_key = defaultdict(list)
    for r in rows:
        by_key[(r["upstream"], r["language"], r["test_set"], r["condition"], r["decode"])].append(r)
    if all(len({r["seed"] for r in g}) == 1 for g in by_key.values()):
        return [[{k: v for k, v in r.items() if k != "seed"}] for r in rows]
    groups = []
    for (up, lang, test, _, _), g in by_key.items():
        seeds = [r["seed"] for r in g]
        if len(set(seeds)) == 1:  # one seed here, several elsewhere: keep it, as one group each
            groups += [[r] for r in g]
            continue
        twice = sorted({s for s in seeds if seeds.count(s) > 1})
        if twice or "" in seeds:
            problem = (f"several results of seed(s) {twice}" if twice
                       else "results without a recorded seed (scored before seeds existed)")
            raise XlingError(
                f"upstream '{up}', {lang}, {test}: {problem} among seeds {sorted(set(seeds))}: "
                f"{[r['exp_dir'] for r in g]}; one result per training seed is needed to average "
                "over seeds: rescore these decodes (stage 8 --force true) or move the extra "
                "exp dirs away"
            )
        groups.append(sorted(g, key=lambda r: _seed_order(r["seed"])))
    return groups


def summarize(exp_dir: Path, groups: List[List[Dict]], n_resamples: int, seed: int) -> List[Dict]:
    """One results row per group of :func:`group_seeds`, with ``<metric>_lo``/``<metric>_hi``:
    the 95% bootstrap interval over utterances, or, for several seeds, over seeds and utterances
    together. Rows of a run with seeds also get ``n_seeds``, ``seeds`` and ``<metric>_sd`` (sample
    sd over seeds); their rate is the mean over seeds, their counts are summed over seeds."""
    out = []
    for g in groups:
        labels = [f"seed {r['seed']}" for r in g] if "seed" in g[0] else None
        res = {}
        for m in METRICS:
            utts, errors, lengths = load_counts([exp_dir / r["exp_dir"] for r in g], m, labels)
            # sorted ids, as reports before seeds: the same resamples, the same intervals
            order = sorted(range(len(utts)), key=utts.__getitem__)
            res[m] = bootstrap_rate(errors[:, order], lengths[order], n_resamples=n_resamples,
                                    seed=seed)
        if labels is None:
            row = dict(g[0])
        else:
            row = {k: g[0][k] for k in ("upstream", "arm", "language", "test_set", "condition",
                                        "noise", "snr_db", "decode",
                                        "encoder_frame_ms", "encoder_input", "head",
                                        "num_utts") if k in g[0]}
            row.update({m: round(res[m]["rate"], 2) for m in METRICS})
            row.update({k: sum(r[k] for r in g)
                        for k in ("char_errors", "chars", "word_errors", "words")})
            row.update(exp_dir=" ".join(r["exp_dir"] for r in g), n_seeds=len(g),
                       seeds=" ".join(r["seed"] for r in g))
            row.update({f"{m}_sd": round(res[m]["sd_over_seeds"], 2) for m in METRICS})
        for m in METRICS:
            row[f"{m}_lo"], row[f"{m}_hi"] = round(res[m]["ci_low"], 2), round(res[m]["ci_high"], 2)
        out.append(row)
    return out


def default_pairs(systems: Mapping[str, Dict]) -> List[Tuple[str, str]]:
    """(baseline, system) pairs compared by default, from each system's metadata
    (:func:`label_heads`): a text config's audio-only twin vs its joint model and its text
    arms of the same amount (the question), a config's random-init control vs every model
    pre-trained from it, and every upstream vs fbank; within each downstream head."""
    by_head: Dict[str, List[str]] = defaultdict(list)
    for label in sorted(systems):
        by_head[systems[label].get("head", "")].append(label)
    return [pair for _, labels in sorted(by_head.items())
            for pair in _default_pairs_of(labels, systems)]


def _default_pairs_of(labels: List[str], systems: Mapping[str, Dict]) -> List[Tuple[str, str]]:
    def same_run(a: Dict, b: Dict) -> bool:
        return (a["pretrain_config"], a["pretrain_hours"]) == (b["pretrain_config"],
                                                               b["pretrain_hours"])

    pairs = []
    for u in labels:
        su = systems[u]
        if su["arm"] == "twin":
            pairs += [(u, v) for arm in TEXT_ARMS for v in labels
                      if systems[v]["arm"] == arm and same_run(su, systems[v])]
        if su["arm"] == "random_init":
            pairs += [(u, v) for v in labels if v != u
                      and systems[v]["pretrain_config"] == su["pretrain_config"]]
    fbank = [u for u in labels if systems[u]["arm"] == FBANK]
    pairs += [(f, u) for f in fbank for u in labels if u != f]
    return pairs


def compare_pairs(exp_dir: Path, groups: List[List[Dict]], pairs: Sequence[Tuple[str, str]],
                  n_resamples: int, seed: int) -> List[Dict]:
    """Paired bootstrap (same utterances) of system B vs baseline A per language and condition
    (:func:`espnet_ext.evaluation.significance.compare_systems`, which also checks that both
    scored the same utterances against the same references and normalisation). Groups of
    several seeds (:func:`group_seeds`) are paired seed by seed, and their rows get ``n_seeds``,
    ``seeds``, ``baseline_runs`` and ``system_runs``. A side trained once (a control such as
    fbank, next to a model pre-trained with several seeds) is paired with every seed of the
    other side (its ``*_runs`` is 1: the interval covers the other side's seeds and the
    utterances); any other pair whose two sides have different seeds is skipped with a warning.
    """
    by_key = {(g[0]["upstream"], g[0]["language"], g[0]["condition"]): g for g in groups}
    out = []
    for a, b in pairs:
        for (up, lang, cond), ga in sorted(by_key.items()):
            if up != a or (b, lang, cond) not in by_key:
                continue
            gb = by_key[(b, lang, cond)]
            seeds = [[r.get("seed") for r in g] for g in (ga, gb)]
            runs = [len(ga), len(gb)]
            if seeds[0] != seeds[1] and "seed" in ga[0] and min(runs) == 1:
                ga, gb = (ga * len(gb), gb) if len(ga) == 1 else (ga, gb * len(ga))
                seeds[0] = seeds[1] = seeds[runs.index(max(runs))]
            elif seeds[0] != seeds[1]:
                # a pair over training seeds needs the same seeds on both sides; the rest of
                # the report is still worth having
                logger.warning(
                    "not compared: '%s' (seeds %s) and '%s' (seeds %s) on %s, %s: a paired "
                    "comparison over training seeds needs both trained with the same seeds "
                    "(run the missing ones with --seeds)", a, " ".join(seeds[0]) or "not recorded",
                    b, " ".join(seeds[1]) or "not recorded", lang, cond)
                continue
            for m in METRICS:
                res = compare_systems([exp_dir / r["exp_dir"] for r in ga],
                                      [exp_dir / r["exp_dir"] for r in gb], metric=m,
                                      n_resamples=n_resamples, seed=seed)
                row = {"baseline": a, "system": b, "language": lang, "condition": cond,
                       "metric": m, "baseline_rate": round(res["rate_a"], 2),
                       "system_rate": round(res["rate_b"], 2), "diff": round(res["diff"], 2),
                       "diff_lo": round(res["ci_low"], 2), "diff_hi": round(res["ci_high"], 2),
                       "p_value": round(res["p_value"], 4),
                       "significant": bool(res["significant"])}
                if "seed" in ga[0]:
                    row.update(n_seeds=len(ga), seeds=" ".join(seeds[0]), baseline_runs=runs[0],
                               system_runs=runs[1])
                out.append(row)
    return out


def read_layer_weights(exp_dir: Path, rows: List[Dict]) -> List[Dict]:
    """Softmax layer weights learned by each downstream model's featurizer (cached_layers or
    s3prl frontend), read from its averaged checkpoint without executing code; one entry per
    ASR dir, so per training seed where the rows carry one (:func:`group_seeds`)."""
    import torch

    out = []
    seen = set()
    for r in rows:
        asr_dir = exp_dir / Path(r["exp_dir"]).parts[0]
        if asr_dir in seen:
            continue
        seen.add(asr_dir)
        ckpts = sorted(asr_dir.glob("valid.acc.ave*.pth")) or sorted(asr_dir.glob("*.pth"))
        if not ckpts:
            continue
        state = load_checkpoint(ckpts[0])
        weights = [v for k, v in state.items()
                   if k.startswith("frontend") and k.endswith("weights") and v.dim() == 1]
        if len(weights) != 1:
            continue  # fbank and single-layer upstreams learn no layer weights
        w = torch.softmax(weights[0].float(), dim=0).tolist()
        entry = {"upstream": r["upstream"], "language": r["language"]}
        if "seed" in r:
            entry["seed"] = r["seed"]
        out.append({**entry, "asr_dir": asr_dir.name, "checkpoint": ckpts[0].name,
                    "weights": [round(x, 4) for x in w]})
    return out


def _read_results(exp_dir: Path, pattern: str, what: str) -> List[Dict]:
    out = []
    for f in sorted(exp_dir.glob(pattern)):
        try:
            out.append(json.loads(f.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as e:
            raise XlingError(f"{f}: unreadable {what} ({e}); rerun stage 9 with --force true")
    return out


def read_phone_recognition(exp_dir: Path) -> List[Dict]:
    """Every ``phone_recognition/<upstream>/<lang>/result.json`` (stage 9)."""
    return _read_results(exp_dir, "phone_recognition/*/*/result.json", "phone recognition result")


def read_probes(exp_dir: Path) -> List[Dict]:
    """Every ``probe/<upstream>/<lang>/probe.json`` (stage 9)."""
    return _read_results(exp_dir, "probe/*/*/probe.json", "probe result")


# ---------------------------------------------------------------- plots

def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on recipe machines
    import matplotlib.pyplot as plt

    return plt


def _grid(n: int):
    plt = _pyplot()
    cols = min(n, 3)
    fig, axes = plt.subplots(math.ceil(n / cols), cols, figsize=(5 * cols, 3.8 * math.ceil(n / cols)),
                             squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return plt, fig, list(axes.flat)


def _save(plt, fig, path: Path) -> Path:
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path


def _label(ax, xlabel: str, ylabel: str, title: str, integer_x: bool = False) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if integer_x:
        ax.xaxis.set_major_locator(_pyplot().MaxNLocator(integer=True))


def _metric_axes(langs: Sequence[str]):
    """One row per metric (CER, WER), one column per language."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(METRICS), len(langs), figsize=(4.8 * len(langs), 3.6 * len(METRICS)),
                             squeeze=False)
    return plt, fig, {m: dict(zip(langs, row)) for m, row in zip(METRICS, axes)}


def _errorbar(ax, x: Sequence[float], rs: Sequence[Dict], metric: str, label: str) -> None:
    """Rates of rows ``rs`` at ``x`` with their bootstrap intervals as error bars."""
    ax.errorbar(x, [r[metric] for r in rs],
                yerr=[[r[metric] - r[f"{metric}_lo"] for r in rs],
                      [r[f"{metric}_hi"] - r[metric] for r in rs]],
                marker="o", capsize=2, label=label)


def plot_snr(rows: List[Dict], out_dir: Path) -> List[Path]:
    """CER and WER vs SNR per upstream, one figure per noise type, one column per language; the
    clean test set is drawn at the right as "clean"."""
    paths = []
    langs = sorted({r["language"] for r in rows})
    noises = sorted({r["noise"] for r in rows if r.get("noise")})
    for noise in noises:
        plt, fig, axes = _metric_axes(langs)
        for lang in langs:
            by_up = defaultdict(dict)
            for r in rows:
                if r["language"] == lang and r.get("noise") == noise:
                    by_up[r["upstream"]][float(r["snr_db"])] = r
                elif r["language"] == lang and r["condition"] == "clean":
                    by_up[r["upstream"]][math.inf] = r
            snrs = sorted({s for d in by_up.values() for s in d if s != math.inf})
            if not snrs:
                continue
            clean_x = max(snrs) + 10
            for metric, ax in ((m, axes[m][lang]) for m in METRICS):
                for up, d in sorted(by_up.items()):
                    xs = sorted(d)
                    _errorbar(ax, [clean_x if s == math.inf else s for s in xs], [d[s] for s in xs],
                              metric, up)
                ax.set_xticks(snrs + [clean_x], [f"{s:g}" for s in snrs] + ["clean"])
                _label(ax, f"SNR (dB), {noise} noise", f"{metric.upper()} (%)", lang)
        axes["cer"][langs[0]].legend(fontsize=7)
        paths.append(_save(plt, fig, out_dir / f"error_vs_snr_{noise}.png"))
    return paths


def plot_amounts(rows: List[Dict], labels: Mapping[str, Dict], out_dir: Path) -> Optional[Path]:
    """Clean CER and WER vs hours of pre-training audio, one line per pre-training config and arm
    (``labels``: :func:`label_heads`); fbank dashed, each config's random-init control dotted (no
    pre-training audio: no place on a log axis). None when there is no amount curve and no
    control to compare with."""
    clean = [r for r in rows if r["condition"] == "clean"]
    lines = defaultdict(lambda: defaultdict(dict))
    controls = defaultdict(dict)
    for r in clean:
        s = labels[r["upstream"]]
        name = Path(s["pretrain_config"]).stem + (f" {s['arm']}" if s["arm"] != "random_init"
                                                  else " random init")
        name += f" {HEAD_SEP}{s['head']}" if s["head"] else ""
        if s["arm"] == "random_init":
            controls[name][r["language"]] = r
        elif s["pretrain_hours"]:
            lines[name][r["language"]][s["pretrain_hours"]] = r
    # worth a plot: some line with several amounts, or amounts against an untrained control
    if not lines or not (controls or any(len(h) > 1 for d in lines.values() for h in d.values())):
        return None
    langs = sorted({r["language"] for r in clean})
    plt, fig, axes = _metric_axes(langs)
    for lang in langs:
        base = next((r for r in clean if r["upstream"] == FBANK and r["language"] == lang), None)
        for metric, ax in ((m, axes[m][lang]) for m in METRICS):
            for name, d in sorted(lines.items()):
                hs = sorted(d.get(lang, {}))
                if hs:
                    _errorbar(ax, hs, [d[lang][h] for h in hs], metric, name)
            if base:
                ax.axhline(base[metric], ls="--", color="grey", label=FBANK)
            for name, d in sorted(controls.items()):
                if lang in d:
                    ax.axhline(d[lang][metric], ls=":", color="black", label=name)
            ax.set_xscale("log")
            hours = sorted({h for d in lines.values() for h in d.get(lang, {})})
            ax.set_xticks(hours, [f"{h:g}" for h in hours])  # the amounts, not powers of 10
            ax.minorticks_off()
            _label(ax, "pre-training audio (h)", f"{metric.upper()} (%), clean", lang)
    axes["cer"][langs[0]].legend(fontsize=7)
    return _save(plt, fig, out_dir / "error_vs_pretrain_hours.png")


def plot_layer_weights(weights: List[Dict], out_dir: Path) -> Optional[Path]:
    if not weights:
        return None
    langs = sorted({w["language"] for w in weights})
    plt, fig, axes = _grid(len(langs))
    for ax, lang in zip(axes, langs):
        top = 0.0
        for w in sorted((w for w in weights if w["language"] == lang), key=lambda w: w["upstream"]):
            label = w["upstream"] + (f" seed {w['seed']}" if "seed" in w else "")
            ax.plot(range(len(w["weights"])), w["weights"], marker="o", label=label)
            ax.plot(range(len(w["weights"])), [1 / len(w["weights"])] * len(w["weights"]), ls=":",
                    color="grey")  # uniform: the featurizer's initialisation
            top = max(top, *w["weights"])
        ax.set_ylim(0, min(1.0, 1.2 * top))  # from 0, so near-uniform weights look near-uniform
        _label(ax, "layer (0 = first hidden state)", "softmax weight",
               f"learned layer weights, ASR on {lang}", integer_x=True)
    axes[0].legend(fontsize=7)
    return _save(plt, fig, out_dir / "layer_weights.png")


def plot_probes(probes: List[Dict], out_dir: Path) -> Optional[Path]:
    if not probes:
        return None
    langs = sorted({p["lang"] for p in probes})
    plt, fig, axes = _grid(len(langs))
    for ax, lang in zip(axes, langs):
        chance = None
        for p in sorted((p for p in probes if p["lang"] == lang), key=lambda p: p["upstream"]):
            layers = p["layers"]
            if len(layers) == 1:  # fbank: one input, drawn across the layers as a reference
                ax.axhline(100 * layers[0]["accuracy"], ls="--", color="black", label=p["upstream"])
            else:
                ax.plot([x["layer"] for x in layers], [100 * x["accuracy"] for x in layers],
                        marker="o", label=p["upstream"])
            chance = p["chance"]
        if chance is not None:
            ax.axhline(100 * chance, ls=":", color="grey", label="majority class")
        _label(ax, "layer", "frame phone accuracy (%)", f"linear phone probe, {lang}",
               integer_x=True)
    axes[0].legend(fontsize=7)
    return _save(plt, fig, out_dir / "probe_accuracy.png")


# ---------------------------------------------------------------- tables

def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=Path(__file__).parent, check=False)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def _condition_order(rows: Sequence[Dict]) -> Callable[[str], tuple]:
    """Sort key of condition names: clean first, then each noise from high to low SNR (the noise
    and SNR its rows' score summaries record), then the other conditions by name."""
    noisy = {r["condition"]: (r["noise"], float(r["snr_db"])) for r in rows if r.get("noise")}

    def key(cond: str) -> tuple:
        if cond == "clean":
            return (0, "", 0.0)
        if cond in noisy:
            return (1, noisy[cond][0], -noisy[cond][1])
        return (2, cond, 0.0)
    return key


def _ci(r: Dict, m: str) -> str:
    """``rate [lo, hi]``; with seeds ``mean ± sd (n seeds) [lo, hi]``."""
    n = r.get("n_seeds")
    if n is None:
        rate = f"{r[m]:.1f}"
    else:
        rate = f"{r[m]:.1f} ± {r[m + '_sd']:.1f} ({n} seeds)" if n > 1 else f"{r[m]:.1f} (1 seed)"
    return f"{rate} [{r[m + '_lo']:.1f}, {r[m + '_hi']:.1f}]"


def _table(header: Sequence[str], lines: Iterable[Sequence[str]]) -> str:
    out = "| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n"
    return out + "".join("| " + " | ".join(map(str, line)) + " |\n" for line in lines)


def cross_language(exp_dir: Path, groups: List[List[Dict]], pairs: Sequence[Tuple[str, str]],
                   n_resamples: int, seed: int) -> Tuple[List[Dict], List[Dict]]:
    """Cross-language aggregates (ML-SUPERB 2.0 style) per upstream, condition and metric, and
    the paired comparison of each pair on the macro average.

    An upstream counts in a condition when it was scored on every language of that condition
    (two or more). Each language is bootstrapped on its own, the same draw for every upstream
    (:func:`~.significance.language_rates`); upstreams trained with other seeds than the rest
    form their own set, and pairs across sets are skipped, except that an upstream trained once
    also joins every set of several seeds as a guest for its pairs (its run paired with every
    seed, as in :func:`compare_pairs`; its aggregates come from its own set).

    Returns:
        (aggregate rows, significance rows with ``language`` = ``macro``).
    """
    by_cond: Dict[str, Dict[Tuple[str, str], List[Dict]]] = defaultdict(dict)
    for g in groups:
        by_cond[g[0]["condition"]][(g[0]["upstream"], g[0]["language"])] = g
    agg, sig = [], []
    for cond in sorted(by_cond, key=_condition_order([r for g in groups for r in g])):
        by_key = by_cond[cond]
        langs = sorted({lang for _, lang in by_key})
        if len(langs) < 2:
            continue
        seeds_of = {u: [tuple(r.get("seed") for r in by_key.get((u, lang), [])) for lang in langs]
                    for u in sorted({u for u, _ in by_key})}
        sets = defaultdict(list)  # seeds -> upstreams scored on every language with them
        for u, seeds in seeds_of.items():
            if all(seeds) and len(set(seeds)) == 1:
                sets[seeds[0]].append(u)
        once = [u for s_, ups in sorted(sets.items()) if len(s_) == 1 for u in ups]
        for seeds, own in sorted(sets.items()):
            seeded = "seed" in by_key[(own[0], langs[0])][0]
            k = len(seeds)
            ups = own + ([u for u in once if u not in own] if seeded and k > 1 else [])
            for m in METRICS:
                per_language = []
                for lang in langs:
                    # a guest's one run, repeated: paired with every seed of the others
                    dirs = [exp_dir / r["exp_dir"] for u in ups
                            for r in (by_key[(u, lang)] * (k if u not in own else 1))]
                    _, errors, lengths = load_counts(dirs, m)
                    per_language.append(([errors[i * k:(i + 1) * k] for i in range(len(ups))],
                                         lengths))
                points, resampled = language_rates(per_language, n_resamples, seed)
                for u, res in zip(own, cross_language_summary(points, resampled)):
                    row = {"upstream": u, "condition": cond, "metric": m,
                           "languages": " ".join(langs)}
                    for key in ("macro", "sd_languages", "worst"):
                        row[key] = round(res[key], 2)
                        row[f"{key}_lo"], row[f"{key}_hi"] = (round(res[f"{key}_lo"], 2),
                                                              round(res[f"{key}_hi"], 2))
                    row["worst_language"] = langs[res["worst_language_index"]]
                    if seeded:
                        row["n_seeds"] = len(seeds)
                    agg.append(row)
                for a, b in pairs:
                    if a not in ups or b not in ups or (a not in own and b not in own):
                        continue
                    res = macro_difference(points, resampled, ups.index(a), ups.index(b))
                    row = {"baseline": a, "system": b, "language": "macro", "condition": cond,
                           "metric": m, "baseline_rate": round(res["rate_a"], 2),
                           "system_rate": round(res["rate_b"], 2), "diff": round(res["diff"], 2),
                           "diff_lo": round(res["ci_low"], 2), "diff_hi": round(res["ci_high"], 2),
                           "p_value": round(res["p_value"], 4),
                           "significant": bool(res["significant"])}
                    if seeded:
                        row.update(n_seeds=k, seeds=" ".join(seeds),
                                   baseline_runs=k if a in own else 1,
                                   system_runs=k if b in own else 1)
                    sig.append(row)
    return agg, sig


def label_heads(rows: List[Dict], systems: Mapping[str, Dict]
                ) -> Tuple[List[Dict], Dict[str, Dict]]:
    """Rows of a second (third ...) downstream head get the system label ``<upstream>@<head>``,
    so every table and comparison keeps heads apart; the main head keeps the plain name.

    Returns the labelled rows and each label's metadata: the upstream's (``systems``, from
    :func:`~.systems.describe_upstreams`) plus its ``upstream`` and ``head`` ("" for the main
    head).
    """
    out, labels = [], {}
    for r in rows:
        r = dict(r)
        upstream, head = r["upstream"], ""
        if not r.pop("main_head", True):
            head = r["head"]
            r["upstream"] = f"{upstream}{HEAD_SEP}{head}"
        labels[r["upstream"]] = {**systems[upstream], "upstream": upstream, "head": head}
        out.append(r)
    return out, labels


def _with_arms(row: Dict, labels: Mapping[str, Dict]) -> Dict:
    """A comparison row with ``baseline_arm`` and ``system_arm`` after the systems' labels."""
    out = {}
    for k, v in row.items():
        out[k] = v
        if k in ("baseline", "system"):
            out[f"{k}_arm"] = labels[v]["arm"]
    return out


def head_agreement(results: List[Dict], labels: Mapping[str, Dict]) -> List[Dict]:
    """Per language and second head: do the heads rank the upstreams the same way on clean CER?

    Kendall's tau-b between the main head's and the other head's CERs of the upstreams scored
    under both, and the pairs whose order flips (MP3S found that heads can reorder SSL rankings).
    ``labels``: each system label's upstream and head (:func:`label_heads`).
    """
    from scipy.stats import kendalltau

    clean = [r for r in results if r["condition"] == "clean"]
    main = {(r["upstream"], r["language"]): r for r in clean if not labels[r["upstream"]]["head"]}
    main_head = next((r.get("head", "") for r in main.values()), "")
    out = []
    for head in sorted({labels[r["upstream"]]["head"] for r in clean} - {""}):
        for lang in sorted({r["language"] for r in clean}):
            other = {labels[r["upstream"]]["upstream"]: r["cer"] for r in clean
                     if r["language"] == lang and labels[r["upstream"]]["head"] == head}
            ups = sorted(u for u in other if (u, lang) in main)
            if len(ups) < 2:
                continue
            a = [main[(u, lang)]["cer"] for u in ups]
            b = [other[u] for u in ups]
            tau = (kendalltau(a, b).statistic if len(set(a)) > 1 and len(set(b)) > 1
                   else float("nan"))  # undefined when one head ties every upstream
            flips = [f"{ups[i]} vs {ups[j]}" for i in range(len(ups))
                     for j in range(i + 1, len(ups)) if (a[i] - a[j]) * (b[i] - b[j]) < 0]
            out.append({"language": lang, "head_a": main_head, "head_b": head,
                        "n_upstreams": len(ups), "kendall_tau": round(float(tau), 3),
                        "flipped_pairs": "; ".join(flips)})
    return out


def render_report(rows: List[Dict], sig: List[Dict], probes: List[Dict], plots: List[Path],
                  title: str, n_resamples: int, aggregates: Sequence[Dict] = (),
                  agreement: Sequence[Dict] = (), recognition: Sequence[Dict] = (),
                  verdict_md: str = "") -> str:
    langs = sorted({r["language"] for r in rows})
    ups = sorted({r["upstream"] for r in rows})
    conds = sorted({r["condition"] for r in rows}, key=_condition_order(rows))
    by_key = {(r["upstream"], r["language"], r["condition"]): r for r in rows}
    out = io.StringIO()
    out.write(f"# {title}\n\n")
    # no generation time: a rerun must give this file byte for byte (its mtime says when)
    out.write(f"- code commit {_git_commit()}, decode `{rows[0]['decode']}`; rebuild with "
              "`python -m espnet_ext.bin.make_report --exp_dir exp --out_dir exp/results`\n")
    for metric, definition in DEFINITIONS.items():
        out.write(f"- {metric.upper()} = {definition}.\n")
    out.write(f"- [lo, hi]: 95% percentile bootstrap interval over test utterances "
              f"({n_resamples} resamples).\n")
    if "n_seeds" in rows[0]:
        out.write("- Several training seeds (pre-training and downstream): a rate is the mean over "
                  "seeds, ± the sample standard deviation over seeds, and [lo, hi] is over seeds "
                  "and test utterances together (each resample draws the seeds and the "
                  "utterances with replacement), so it includes the variation between training "
                  "runs. Paired comparisons pair the runs of the same seed.\n")
    out.write("\n")
    if verdict_md:
        out.write(verdict_md + "\n")

    out.write("## Clean test sets: CER / WER (%)\n\n")
    out.write(_table(["upstream"] + [f"{lang} CER" for lang in langs] + [f"{lang} WER" for lang in langs],
                     [[u] + [_ci(by_key[(u, lang, "clean")], m) if (u, lang, "clean") in by_key else "-"
                             for m in ("cer", "wer") for lang in langs] for u in ups]))
    if len(conds) > 1:
        out.write("\n## CER (%) per condition\n\n")
        for lang in langs:
            out.write(f"### {lang}\n\n")
            out.write(_table(["upstream"] + conds,
                             [[u] + [f"{by_key[(u, lang, c)]['cer']:.1f}" if (u, lang, c) in by_key
                                     else "-" for c in conds] for u in ups]))
            out.write("\n")
    clean_agg = [a for a in aggregates if a["condition"] == "clean"]
    if clean_agg:
        out.write(f"\n## Across languages, clean test sets ({clean_agg[0]['languages']})\n\n")
        out.write("Macro average of the per-language rates, their standard deviation across "
                  "languages and the worst language, each with a 95% interval (every language "
                  "resampled on its own). Other conditions: aggregates.csv.\n\n")
        aby = {(a["upstream"], a["metric"]): a for a in clean_agg}

        def agg_cell(a, key):
            return f"{a[key]:.1f} [{a[key + '_lo']:.1f}, {a[key + '_hi']:.1f}]"

        out.write(_table(["upstream", "macro CER", "SD across languages (CER)", "worst (CER)",
                          "macro WER"],
                         [[u, agg_cell(aby[(u, "cer")], "macro"),
                           agg_cell(aby[(u, "cer")], "sd_languages"),
                           f"{agg_cell(aby[(u, 'cer')], 'worst')} {aby[(u, 'cer')]['worst_language']}",
                           agg_cell(aby[(u, "wer")], "macro")]
                          for u in sorted({a["upstream"] for a in clean_agg})]))
    if agreement:
        out.write("\n## Do the downstream heads rank the upstreams the same way? (clean CER)\n\n")
        out.write(f"Rows `<upstream>{HEAD_SEP}<head>` above are the second head's. Kendall's "
                  "tau-b between the two heads' CERs (1: the same order), and the pairs whose "
                  "order flips.\n\n")
        out.write(_table(["language", "heads", "upstreams", "Kendall tau", "flipped pairs"],
                         [[a["language"], f"{a['head_a']} vs {a['head_b']}", str(a["n_upstreams"]),
                           f"{a['kendall_tau']:.2f}", a["flipped_pairs"] or "none"]
                          for a in agreement]))
    if sig:
        out.write("\n## Paired comparisons (system - baseline, CER points)\n\n")
        out.write("Negative = the system makes fewer errors. Significant = the 95% interval of the "
                  "difference excludes 0 (paired bootstrap over the same utterances).\n\n")
        out.write(_table(["baseline", "system", "language", "condition", "baseline CER",
                          "system CER", "diff [95% CI]", "significant"],
                         [[s["baseline"], s["system"], s["language"], s["condition"],
                           f"{s['baseline_rate']:.1f}", f"{s['system_rate']:.1f}",
                           f"{s['diff']:+.1f} [{s['diff_lo']:+.1f}, {s['diff_hi']:+.1f}]",
                           "yes" if s["significant"] else "no"]
                          for s in sig if s["metric"] == "cer"]))
        out.write("\nWER comparisons: significance.csv.\n")
    if recognition:
        out.write("\n## Phone recognition on real speech (PER %, lower is better)\n\n")
        out.write("A linear CTC head on each upstream's frozen layers (learned layer weights), "
                  "trained on espeak-ng phones of the language's training transcripts, scored on "
                  "its test set; an all-blank output has PER 100. CTC loss first -> last tenth of "
                  "the updates in brackets.\n\n")
        rlangs = sorted({r["lang"] for r in recognition})
        rby = {(r["upstream"], r["lang"]): r for r in recognition}
        out.write(_table(["upstream"] + rlangs, [
            [u] + [f"{rby[(u, lang)]['per']:.1f} ({rby[(u, lang)]['loss_first']:.2f} -> "
                   f"{rby[(u, lang)]['loss_last']:.2f})" if (u, lang) in rby else "-"
                   for lang in rlangs]
            for u in sorted({r["upstream"] for r in recognition})]))
    if probes:
        out.write("\n## Linear phone probe: best layer (held-out frame accuracy, %)\n\n")
        out.write("On espeak-ng's speech, with its phone timings: in-domain for upstreams "
                  "pre-trained on espeak-ng audio or phones (the synthetic pool, the text arms); "
                  "phone recognition above reads real speech.\n\n")
        plangs = sorted({p["lang"] for p in probes})
        pby = {(p["upstream"], p["lang"]): p for p in probes}
        pups = sorted({p["upstream"] for p in probes})

        def best(p):
            top = max(p["layers"], key=lambda x: x["accuracy"])
            return f"{100 * top['accuracy']:.1f} (layer {top['layer']})"

        out.write(_table(["upstream"] + plangs,
                         [[u] + [best(pby[(u, lang)]) if (u, lang) in pby else "-" for lang in plangs]
                          for u in pups]))
        out.write("\nMajority-class accuracy: " + ", ".join(
            f"{lang} {100 * next(p['chance'] for p in probes if p['lang'] == lang):.1f}"
            for lang in plangs) + ".\n")
    if plots:
        out.write("\n## Plots\n\n")
        for p in plots:
            out.write(f"![{p.stem}]({p.name})\n\n")
    return out.getvalue()


def _csv(rows: List[Dict]) -> str:
    if not rows:
        return ""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def write_report(exp_dir: PathLike, out_dir: PathLike, decode: Optional[str] = None,
                 compare: Sequence[Tuple[str, str]] = (), n_resamples: int = 1000, seed: int = 1,
                 title: str = "Results") -> Path:
    """Build the whole report from ``exp_dir``; returns the path of RESULTS.md.

    Args:
        decode: keep only results of this decode tag (a rerun with another decode config
            leaves the old decodes in exp/); None: all, which must then be a single tag.
        compare: (baseline, system) upstream pairs tested besides :func:`default_pairs`.
    """
    exp_dir, out_dir = Path(exp_dir), Path(out_dir)
    rows = collect_results(exp_dir)
    if decode is not None:
        rows = [r for r in rows if r["decode"] == decode]
        if not rows:
            raise XlingError(f"{exp_dir}: no scored set was decoded with '{decode}'; run stages 7-8")
    tags = sorted({r["decode"] for r in rows})
    if len(tags) > 1:
        raise XlingError(f"{exp_dir}: results of several decode configs {tags}; pass --decode")
    ups = {r["upstream"] for r in rows}
    unknown = sorted({u for pair in compare for u in pair} - ups)
    if unknown:
        raise XlingError(f"--compare names upstreams without results: {unknown}; known: {sorted(ups)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    systems = describe_upstreams(exp_dir, ups)
    rows = [{"upstream": r["upstream"], "arm": systems[r["upstream"]]["arm"], **r} for r in rows]
    rows, labels = label_heads(rows, systems)
    groups = group_seeds(rows)
    results = summarize(exp_dir, groups, n_resamples, seed)
    pairs = list(dict.fromkeys(default_pairs(labels) + list(compare)))
    sig = compare_pairs(exp_dir, groups, pairs, n_resamples, seed)
    aggregates, macro_sig = cross_language(exp_dir, groups, pairs, n_resamples, seed)
    sig = [_with_arms(s, labels) for s in sig + macro_sig]
    aggregates = [{"upstream": a["upstream"], "arm": labels[a["upstream"]]["arm"], **a}
                  for a in aggregates]
    agreement = head_agreement(results, labels)
    verdicts, checks = verdict.text_verdicts(sig), verdict.twin_checks(sig)
    weights = read_layer_weights(exp_dir, [r for g in groups for r in g])
    probes = read_probes(exp_dir)
    recognition = read_phone_recognition(exp_dir)

    atomic_write_text(out_dir / "results.csv", _csv(results))
    atomic_write_text(out_dir / "results.json", json.dumps(results, indent=2) + "\n")
    atomic_write_text(out_dir / "significance.csv", _csv(sig))
    atomic_write_text(out_dir / "significance.json", json.dumps(sig, indent=2) + "\n")
    atomic_write_text(out_dir / "aggregates.csv", _csv(aggregates))
    atomic_write_text(out_dir / "aggregates.json", json.dumps(aggregates, indent=2) + "\n")
    if agreement:
        atomic_write_text(out_dir / "head_agreement.csv", _csv(agreement))
    if verdicts:
        atomic_write_text(out_dir / "verdict.json", json.dumps(
            {"rule": verdict.RULE, "verdicts": verdicts, "twin_checks": checks}, indent=2) + "\n")
    atomic_write_text(out_dir / "layer_weights.json", json.dumps(weights, indent=2) + "\n")
    atomic_write_text(out_dir / "probe.csv", _csv([
        {"upstream": p["upstream"], "language": p["lang"], "layer": x["layer"],
         "accuracy": x["accuracy"], "chance": p["chance"], "num_classes": p["num_classes"]}
        for p in probes for x in p["layers"]]))
    if recognition:
        atomic_write_text(out_dir / "phone_recognition.csv", _csv([
            {k: r[k] for k in ("upstream", "lang", "per", "num_phones", "train_utts", "test_utts",
                               "test_phones", "oov_test_phones", "loss_first", "loss_last")}
            for r in recognition]))
    fail_point("report_tables")
    plots = plot_snr(results, out_dir)
    plots += [p for p in (plot_amounts(results, labels, out_dir), plot_layer_weights(weights, out_dir),
                          plot_probes(probes, out_dir)) if p is not None]
    md = out_dir / "RESULTS.md"
    atomic_write_text(md, render_report(results, sig, probes, plots, title, n_resamples,
                                        aggregates, agreement, recognition,
                                        verdict.render(verdicts, checks)))
    logger.info("wrote %s (%d scored sets, %d comparisons, %d plots)", md, len(rows), len(sig),
                len(plots))
    return md
