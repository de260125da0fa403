"""The offline labelled corpus: real speech from Debian packages, train/dev/test per language.

Sources per language (``SOURCES``): ``nl`` and ``cs`` from Fish Fillets NG voices
(:mod:`.fillets`), ``es``/``fr``/``it`` from the Asterisk prompts (:mod:`.asterisk`), ``ru`` from
festvox-ru (:mod:`.festvox_ru`) plus the Russian Asterisk prompts.

Output (``<out_root>/<data_dir>/``)::

    local/<source>_<lang>/        # one validated data dir per source (normalised text, text.orig,
                                  # utt2dur, skipped.txt/json, PROVENANCE.md)
    local/audio/<source>_<lang>/  # the 16 kHz mono WAVs all data dirs point to
    train_<lang>/ dev_<lang>/ test_<lang>/   # + PROVENANCE.md of every source feeding them
    summary.md  summary.json      # hours, utterances, speakers per set; skipped items by reason
                                  # (every language built in this data root, in SOURCES order)
    .offline_corpus.done          # the shared options and the languages built (JSON); written last

Splitting is by sentence: utterances are grouped by normalised text, groups are ordered by a
hash of ``(seed, text)`` and dealt to test, then dev, then train until each holds about its
share of utterances, so no sentence appears in two sets. ``max_utts_per_lang`` first keeps a
deterministic (seeded hash) subset of each language's utterances, for fast/CI runs.

Each language is built on its own, so the build is incremental per language: a call with the
same shared options (seed, ratios, ``max_utts_per_lang``, paths) builds only the languages not yet
built there and leaves the others untouched (a call asking only for built ones does nothing).
Different shared options need ``force=True``, which rebuilds the requested languages and forgets
the others.
"""

import json
import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet_ext.data.corpora import asterisk, festvox_ru, fillets
from espnet_ext.data.corpora.provenance import PROVENANCE_FILE
from espnet_ext.data.corpora.splits import marker_is_current
from espnet_ext.data.kaldi import (
    Utterance, read_data_dir, read_kaldi_map, write_data_dir, write_kaldi_map,
)
from espnet_ext.data.validate import validate_data_dir
from espnet_ext.errors import ConfigError, CorpusError, DataDirError
from espnet_ext.fileio import PathLike, atomic_write_text
from espnet_ext.steps import check_owned, mark_done, read_marker, seeded_order
from espnet_ext.versioning import OFFLINE_CORPUS

logger = logging.getLogger(__name__)

DEFAULT_LANGUAGES = ("nl", "cs", "es", "fr", "it", "ru")
SOURCES: Dict[str, Tuple[str, ...]] = {
    "nl": ("fillets",),
    "cs": ("fillets",),
    "es": ("asterisk",),
    "fr": ("asterisk",),
    "it": ("asterisk",),
    "ru": ("festvox_ru", "asterisk"),
}
SPLITS = ("train", "dev", "test")
DONE_MARKER = ".offline_corpus.done"
MARKER_VERSION = OFFLINE_CORPUS.current


def debian_packages(languages: Sequence[str] = DEFAULT_LANGUAGES) -> List[str]:
    """The Debian packages the offline corpus needs for ``languages`` (sorted, unique)."""
    pkgs = set()
    for lang in languages:
        for src in SOURCES[lang]:
            if src == "fillets":
                pkgs.update(fillets.packages(lang))
            elif src == "asterisk":
                pkgs.update(asterisk.packages(lang))
            else:
                pkgs.update(festvox_ru.packages())
    return sorted(pkgs)


def split_by_text(
    utts: Sequence[Utterance], seed: int, dev_ratio: float, test_ratio: float, lang: str = "",
) -> Dict[str, List[Utterance]]:
    """Split utterances into train/dev/test so that no text is in two sets.

    Args:
        utts: utterances with normalised text.
        seed: decides the (hash) order of the sentence groups.
        dev_ratio, test_ratio: target shares of utterances.
        lang: for messages.

    Returns:
        ``{"train": [...], "dev": [...], "test": [...]}``, each sorted by id and non-empty.

    Raises:
        CorpusError: fewer than 3 distinct sentences.
    """
    groups: Dict[str, List[Utterance]] = {}
    for u in utts:
        groups.setdefault(u.text, []).append(u)
    if len(groups) < 3:
        raise CorpusError(
            f"language '{lang}': only {len(groups)} distinct sentence(s); need at least 3 to "
            "make train/dev/test sets (raise max_utts_per_lang or add data)"
        )
    n = len(utts)
    targets = {"test": max(1, round(test_ratio * n)), "dev": max(1, round(dev_ratio * n))}
    out: Dict[str, List[Utterance]] = {s: [] for s in SPLITS}
    for text in seeded_order(groups, seed):
        group = groups[text]
        dest = "train"
        for split in ("test", "dev"):
            have = len(out[split])
            # An empty set takes any group; otherwise do not overshoot the target.
            if have == 0 or have + len(group) <= targets[split]:
                if have < targets[split]:
                    dest = split
                    break
        out[dest].extend(group)
    if not out["train"]:  # tiny inputs: give train the largest held-out group
        donor = max(("dev", "test"), key=lambda s: len(out[s]))
        texts = seeded_order({u.text for u in out[donor]}, seed)
        if len(texts) > 1:
            moved = [u for u in out[donor] if u.text == texts[0]]
            out[donor] = [u for u in out[donor] if u.text != texts[0]]
            out["train"] = moved
    for split in SPLITS:
        out[split].sort(key=lambda u: u.utt_id)
    return out


def subsample(utts: Sequence[Utterance], max_utts: Optional[int], seed: int) -> List[Utterance]:
    """A deterministic subset of at most ``max_utts`` utterances (seeded hash of the id)."""
    if max_utts is None or len(utts) <= max_utts:
        return list(utts)
    keep = seeded_order(utts, seed, key=lambda u: u.utt_id)[:max_utts]
    return sorted(keep, key=lambda u: u.utt_id)


def source_dir_name(source: str, lang: str) -> str:
    """``<source>_<lang>``, without repeating the language (``festvox_ru``, not ``festvox_ru_ru``)."""
    return source if source.endswith(f"_{lang}") else f"{source}_{lang}"


def _prepare_source(source: str, lang: str, local: Path, paths: Dict[str, str], nj: int) -> Path:
    name = source_dir_name(source, lang)
    out_dir = local / name
    audio_dir = local / "audio" / name
    logger.info("Preparing source %s for '%s' -> %s", source, lang, out_dir)
    if source == "fillets":
        return fillets.prepare_fillets(paths["game_dir"], out_dir, lang, audio_dir, nj=nj)["all"]
    if source == "asterisk":
        return asterisk.prepare_asterisk(
            paths["asterisk_sounds_dir"], out_dir, lang, audio_dir, doc_dir=paths["doc_dir"],
            nj=nj,
        )["all"]
    if source == "festvox_ru":
        return festvox_ru.prepare_festvox_ru(
            paths["festvox_dir"], out_dir, audio_dir, nj=nj,
            copyright_file=Path(paths["doc_dir"]) / "festvox-ru" / "copyright",
        )["all"]
    raise ConfigError(f"unknown source '{source}'")  # unreachable: SOURCES is fixed


def _summary_markdown(rows: List[dict], skipped: Dict[str, Dict[str, int]], options: dict) -> str:
    lines = ["# Offline labelled corpus: summary", ""]
    lines.append(f"Split by sentence text, seed {options['seed']}, dev/test ratio "
                 f"{options['dev_ratio']}/{options['test_ratio']}, max_utts_per_lang "
                 f"{options['max_utts_per_lang']}.")
    lines += ["", "| set | sources | hours | utterances | speakers |", "|---|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['set']} | {'+'.join(r['sources'])} | {r['hours']:.3f} | "
                     f"{r['utterances']} | {r['speakers']} |")
    lines += ["", "## Skipped items by source and reason", ""]
    lines += ["| source | reason | items |", "|---|---|---:|"]
    for src, counts in sorted(skipped.items()):
        for reason, c in counts.items():
            lines.append(f"| {src} | {reason} | {c} |")
    return "\n".join(lines) + "\n"


def _built_languages(marker: Path, options: dict, force: bool, what: str) -> Dict[str, dict]:
    """The per-language records of ``marker`` if it was written with the same shared ``options``.

    Returns ``{}`` when there is nothing to reuse: no marker, ``force`` (the marker is removed),
    or a marker of an older format written with the same shared options (its dirs are rebuilt:
    it holds no per-language records, and the same options give the same bytes anyway).

    Raises:
        ConfigError: the marker records other shared options (or is unreadable) and ``force`` is
            off.
    """
    done = read_marker(marker)  # None: no marker, or an unreadable one (refused below)
    prev = done.get("options") if isinstance(done, dict) else None
    current = json.loads(json.dumps(options))  # as read back from a marker
    if isinstance(prev, dict) and not force:
        if prev == current:
            return done.get("languages") or {}
        # Version 1 also recorded the language list; compare the rest.
        old_shared = {k: v for k, v in prev.items() if k not in ("version", "languages")}
        if (prev.get("version") != MARKER_VERSION
                and old_shared == {k: v for k, v in current.items() if k != "version"}):
            logger.info("%s: marker of an older format (version %s); rebuilding the requested "
                        "languages", marker, prev.get("version"))
            return {}
    # Here the options differ or force is on: the same error / removal as for the other corpora.
    marker_is_current(marker, options, force, what)
    return {}


def prepare_offline_corpus(
    out_root: PathLike,
    languages: Sequence[str] = DEFAULT_LANGUAGES,
    data_dir: str = "data",
    seed: int = 777,
    dev_ratio: float = 0.1,
    test_ratio: float = 0.1,
    max_utts_per_lang: Optional[int] = None,
    nj: int = 2,
    force: bool = False,
    game_dir: PathLike = fillets.DEFAULT_GAME_DIR,
    asterisk_sounds_dir: PathLike = asterisk.DEFAULT_SOUNDS_DIR,
    doc_dir: PathLike = asterisk.DEFAULT_DOC_DIR,
    festvox_dir: PathLike = festvox_ru.DEFAULT_VOICE_DIR,
) -> Dict[str, Path]:
    """Build ``train_<lang>``, ``dev_<lang>``, ``test_<lang>`` for every language.

    Args:
        out_root: recipe dir; everything goes under ``out_root/data_dir``.
        languages: codes from ``SOURCES``.
        data_dir: name of the data dir root.
        seed: seeds the sentence split and the subsampling.
        dev_ratio, test_ratio: target shares of utterances (by sentence groups).
        max_utts_per_lang: keep at most this many utterances per language (None: all).
        nj: audio conversion processes.
        force: rebuild the requested languages even if they are built, or a previous run
            used other shared options (the marker then records only these languages).
        game_dir, asterisk_sounds_dir, doc_dir, festvox_dir: where the Debian packages put
            their files.

    Returns:
        ``{"<split>_<lang>": data dir path}`` for every split and requested language.

    Raises:
        ConfigError: bad options, or a finished run with other shared options and no ``force``.
        CorpusError: a Debian package is missing (the message says which to install).
        DataDirError: an output dir belongs to someone else, or fails validation.
    """
    languages = list(dict.fromkeys(languages))
    unknown = [l for l in languages if l not in SOURCES]
    if unknown or not languages:
        raise ConfigError(f"languages {unknown or languages}: not supported by the offline "
                          f"corpus; choose from {sorted(SOURCES)}")
    if not (0 < dev_ratio < 1 and 0 < test_ratio < 1 and dev_ratio + test_ratio < 1):
        raise ConfigError(f"dev_ratio={dev_ratio}, test_ratio={test_ratio}: each must be in "
                          "(0, 1) and their sum below 1")
    if max_utts_per_lang is not None and max_utts_per_lang < 3:
        raise ConfigError(f"max_utts_per_lang={max_utts_per_lang}: need at least 3 (or None)")

    data_root = Path(out_root) / data_dir
    marker = data_root / DONE_MARKER
    # The options shared by all languages of this data root (the language list is not one of them).
    options = {
        "version": MARKER_VERSION, "seed": seed, "dev_ratio": dev_ratio, "test_ratio": test_ratio,
        "max_utts_per_lang": max_utts_per_lang,
        "paths": {"game_dir": str(game_dir), "asterisk_sounds_dir": str(asterisk_sounds_dir),
                  "doc_dir": str(doc_dir), "festvox_dir": str(festvox_dir)},
    }
    outputs = {f"{s}_{l}": data_root / f"{s}_{l}" for l in languages for s in SPLITS}
    # lang -> {"sets": summary rows, "skipped": counts per source dir}, for the summary.
    built = _built_languages(marker, options, force, f"Offline corpus in {data_root}")
    todo = [l for l in languages if l not in built]
    if not todo:
        logger.info("Offline corpus in %s: %s already built; nothing to do", data_root,
                    " ".join(languages))
        return outputs
    if built:
        logger.info("Offline corpus in %s: building %s (already built: %s)", data_root,
                    " ".join(todo), " ".join(l for l in SOURCES if l in built))

    paths = options["paths"]
    local = data_root / "local"
    for lang in todo:
        rows: List[dict] = []
        skipped: Dict[str, Dict[str, int]] = {}
        utts: List[Utterance] = []
        durs: Dict[str, str] = {}
        provenance: List[str] = []
        for source in SOURCES[lang]:
            src_dir = _prepare_source(source, lang, local, paths, nj)
            utts += read_data_dir(src_dir)
            durs.update(read_kaldi_map(src_dir / "utt2dur"))
            provenance.append((src_dir / PROVENANCE_FILE).read_text(encoding="utf-8"))
            skipped[source_dir_name(source, lang)] = json.loads(
                (src_dir / "skipped.json").read_text(encoding="utf-8"))
        kept = subsample(utts, max_utts_per_lang, seed)
        if len(kept) < len(utts):
            logger.info("'%s': kept %d of %d utterances (max_utts_per_lang)", lang, len(kept),
                        len(utts))
        sets = split_by_text(kept, seed, dev_ratio, test_ratio, lang)
        texts = {s: {u.text for u in sets[s]} for s in SPLITS}
        if texts["train"] & (texts["dev"] | texts["test"]) or texts["dev"] & texts["test"]:
            raise DataDirError(f"'{lang}': a sentence is in two sets (bug in split_by_text)")
        for split in SPLITS:
            out_dir = outputs[f"{split}_{lang}"]
            # We overwrite our own dirs (they carry our PROVENANCE.md), never a user's dir.
            check_owned(out_dir, None, force=force, who="this preparation (offline corpus)",
                        elsewhere="out_root", sign=PROVENANCE_FILE)
            logger.info("Writing %s: %d utts", out_dir, len(sets[split]))
            write_data_dir(out_dir, sets[split], overwrite=True)
            write_kaldi_map(out_dir / "utt2dur", {u.utt_id: durs[u.utt_id] for u in sets[split]})
            header = (
                f"# {out_dir.name}: provenance\n\nBuilt by `espnet_ext.data.corpora.offline` "
                f"from the source(s) below (data/local/<source>_{lang}), split by normalised "
                f"sentence text (seed {seed}, dev {dev_ratio}, test {test_ratio}, "
                f"max_utts_per_lang {max_utts_per_lang}).\n\n"
            )
            atomic_write_text(out_dir / PROVENANCE_FILE, header + "\n".join(provenance))
            stats = validate_data_dir(out_dir)
            rows.append({"set": out_dir.name, "language": lang, "split": split,
                         "sources": list(SOURCES[lang]), "hours": round(stats.hours, 4),
                         "utterances": stats.num_utts, "speakers": stats.num_speakers})
        built[lang] = {"sets": rows, "skipped": skipped}

    # The summary covers every language built here, in SOURCES order, so that building "nl es"
    # at once or one after the other gives the same bytes.
    done_langs = [l for l in SOURCES if l in built]
    rows = [r for l in done_langs for r in built[l]["sets"]]
    skipped = {src: c for l in done_langs for src, c in built[l]["skipped"].items()}
    # Same keys, in the same order, as before the build was incremental.
    summary_options = {"version": MARKER_VERSION, "languages": done_langs, **options}
    summary_md = _summary_markdown(rows, skipped, summary_options)
    atomic_write_text(data_root / "summary.md", summary_md)
    atomic_write_text(data_root / "summary.json", json.dumps(
        {"options": summary_options, "sets": rows, "skipped": skipped}, indent=2,
        ensure_ascii=False) + "\n")
    print(summary_md)
    # Written last: a killed build leaves the previous record, and its languages are redone.
    mark_done(marker, options, languages={l: built[l] for l in done_langs},
              outputs=sorted(f"{s}_{l}" for l in done_langs for s in SPLITS))
    logger.info("Offline corpus ready in %s", data_root)
    return outputs
