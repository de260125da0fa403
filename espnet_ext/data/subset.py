"""Subsets of data dirs by duration: nested pre-training amounts and capped training sets.

Used for the pre-training data-amount sweep (``--pretrain_hours "0.5 1 2"``: nested prefixes)
and for ML-SUPERB-style capped downstream training sets (``--train_max_hours``: a seeded random
subset). Audio files are shared with the source, never copied.
"""

import hashlib
import logging
from pathlib import Path
from typing import List, Optional

import soundfile as sf

from espnet_ext.data.kaldi import read_data_dir, read_kaldi_map, write_data_dir, write_kaldi_map
from espnet_ext.data.validate import validate_data_dir
from espnet_ext.errors import ConfigError, DataDirError
from espnet_ext.fileio import PathLike, atomic_write_text
from espnet_ext.steps import DONE_FILE, is_done, mark_done, sha1_key
from espnet_ext.versioning import POOLED_DATA_DIR

logger = logging.getLogger(__name__)

# Per-utterance files a subset keeps (beyond the data-dir core): durations, order, and the
# joint model's phone files (espnet_ext.pretrain.text_data).
CARRIED_FILES = ("utt2dur", "utt2idx", "phones", "unpaired_phones")


def subset_by_hours(data_dir: PathLike, out_dir: PathLike, hours: float,
                    force: bool = False, seed: Optional[int] = None,
                    at_most: bool = False) -> Path:
    """Write the shortest prefix of ``data_dir`` lasting at least ``hours`` as a new data dir.

    The order is ``utt2idx`` (line index of the text, written by
    :func:`~espnet_ext.data.corpora.synthetic.prepare_synthetic_speech`) if present, else a
    shuffle by ``seed`` if given (a random but reproducible subset of a labelled set), else
    utterance id. Durations come from
    ``utt2dur`` if present, else from the audio headers. Audio files are shared, not copied.
    The result equals what :func:`prepare_synthetic_speech` writes for ``hours`` with the same
    text, voices and seed.

    Args:
        data_dir: source data dir.
        out_dir: data dir to write.
        hours: amount to keep.
        force: redo even if ``out_dir/.done`` records the same source and hours.
        seed: shuffle seed for sets without ``utt2idx``.
        at_most: a cap, not a demand: a set shorter than ``hours`` is kept whole.

    Returns:
        ``out_dir``.

    Raises:
        DataDirError: ``data_dir`` is invalid or holds less than ``hours`` (says how much).
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    if hours <= 0:
        raise ConfigError(f"hours must be > 0, got {hours}")
    utts = read_data_dir(data_dir)
    order = {u.utt_id: u.utt_id for u in utts}
    if seed is not None:
        order = {u.utt_id: sha1_key(seed, u.utt_id) for u in utts}
    if (data_dir / "utt2idx").is_file():
        order = {k: int(v) for k, v in read_kaldi_map(data_dir / "utt2idx").items()}
    if (data_dir / "utt2dur").is_file():
        dur = {k: float(v) for k, v in read_kaldi_map(data_dir / "utt2dur").items()}
    else:
        dur = {u.utt_id: sf.info(u.wav_path).duration for u in utts}
    for u in utts:
        if u.utt_id not in order or u.utt_id not in dur:
            raise DataDirError(
                f"{data_dir}: utterance '{u.utt_id}' is missing from utt2idx or utt2dur; "
                "regenerate the data dir"
            )
    src_done = data_dir / DONE_FILE
    carried = [n for n in CARRIED_FILES if (data_dir / n).is_file()]
    options = {"source": str(data_dir.resolve()), "hours": hours, "seed": seed,
               "at_most": at_most,
               "carried": {n: (data_dir / n).stat().st_mtime_ns for n in carried},
               "source_done": src_done.read_text(encoding="utf-8") if src_done.is_file()
               else hashlib.sha1((data_dir / "wav.scp").read_bytes()).hexdigest()}
    done = out_dir / DONE_FILE
    if is_done(done, options, force=force):
        logger.info("%s is up to date; use --force to redo", out_dir)
        return out_dir
    target, total, chosen = hours * 3600.0, 0.0, []
    for u in sorted(utts, key=lambda u: order[u.utt_id]):
        if total >= target:
            break
        chosen.append(u)
        total += dur[u.utt_id]
    if total < target and not at_most:
        raise DataDirError(
            f"{data_dir}: holds {total / 3600:.3f} h, less than the {hours} h asked for; "
            "synthesise more (a larger --synth_hours) first"
        )
    write_data_dir(out_dir, chosen, overwrite=True)
    ids = {u.utt_id for u in chosen}
    for name in carried:
        src = read_kaldi_map(data_dir / name, allow_empty_value=True)
        write_kaldi_map(out_dir / name, {k: v for k, v in src.items() if k in ids})
    prov = data_dir / "provenance.txt"
    header = f"# {out_dir}: first {len(chosen)} utterances ({total / 3600:.3f} h) of {data_dir}\n"
    atomic_write_text(out_dir / "provenance.txt",
                      header + (prov.read_text(encoding="utf-8") if prov.is_file() else ""))
    validate_data_dir(out_dir)
    mark_done(done, options)
    logger.info("wrote %s: %d utterances, %.3f h", out_dir, len(chosen), total / 3600)
    return out_dir


def combine_data_dirs(data_dirs: List[PathLike], out_dir: PathLike, force: bool = False) -> Path:
    """Pool several data dirs into one whose prefixes mix the sources in proportion.

    The pre-training pool is real Dutch speech plus synthetic speech; nested amounts
    (:func:`subset_by_hours` prefixes) should hold both at every size, not the first source
    only. So each source keeps its own order (``utt2idx`` if present, else id) and utterance k
    of a source with n utterances gets rank (k + 0.5) / n; the pool is sorted by rank and the
    result written as ``utt2idx``. Audio is shared, never copied; ``utt2dur`` and provenance are
    carried over.

    Raises:
        DataDirError: a source is invalid or two sources share an utterance id.
    """
    sources, out_dir = [Path(d) for d in data_dirs], Path(out_dir)
    options = {"sources": [], "version": POOLED_DATA_DIR.current}
    for src in sources:
        validate_data_dir(src)
        options["sources"].append([str(src.resolve()),
                                   hashlib.sha1((src / "wav.scp").read_bytes()).hexdigest()])
    done = out_dir / DONE_FILE
    if is_done(done, options, force=force):
        logger.info("%s is up to date; use --force to redo", out_dir)
        return out_dir
    ranked, owner, dur = [], {}, {}
    for src in sources:
        utts = read_data_dir(src)
        idx = ({k: int(v) for k, v in read_kaldi_map(src / "utt2idx").items()}
               if (src / "utt2idx").is_file() else {u.utt_id: i for i, u in enumerate(utts)})
        if (src / "utt2dur").is_file():
            dur.update(read_kaldi_map(src / "utt2dur"))
        else:
            dur.update({u.utt_id: f"{sf.info(u.wav_path).duration:.3f}" for u in utts})
        for k, u in enumerate(sorted(utts, key=lambda u: idx[u.utt_id])):
            if u.utt_id in owner:
                raise DataDirError(f"utterance id '{u.utt_id}' is in both {owner[u.utt_id]} "
                                   f"and {src}; pooled sets need distinct ids")
            owner[u.utt_id] = src
            ranked.append(((k + 0.5) / len(utts), str(src), u))
    ranked.sort(key=lambda r: (r[0], r[1]))
    utts = [u for _, _, u in ranked]
    write_data_dir(out_dir, utts, overwrite=True)
    write_kaldi_map(out_dir / "utt2idx", {u.utt_id: str(i) for i, u in enumerate(utts)})
    write_kaldi_map(out_dir / "utt2dur", {u.utt_id: dur[u.utt_id] for u in utts})
    provenance = [f"# {out_dir}: pool of {', '.join(map(str, sources))}, interleaved in "
                  "proportion (utt2idx)\n"]
    for src in sources:
        for name in ("provenance.txt", "PROVENANCE.md"):
            if (src / name).is_file():
                provenance.append(f"\n## {src}/{name}\n" + (src / name).read_text(encoding="utf-8"))
    atomic_write_text(out_dir / "provenance.txt", "".join(provenance))
    validate_data_dir(out_dir)
    mark_done(done, options)
    hours = sum(float(dur[u.utt_id]) for u in utts) / 3600
    logger.info("wrote %s: %d utterances, %.3f h from %d sources", out_dir, len(utts), hours,
                len(sources))
    return out_dir
