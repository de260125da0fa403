"""Speaker-disjoint train/dev/test splits of a CGN data dir, and the train transcripts as the
joint model's text corpus.
"""

import logging
from pathlib import Path
from typing import Dict, Optional, Sequence, Set

from espnet_ext.data.corpora.cgn_layout import LICENSE
from espnet_ext.data.corpora.provenance import PROVENANCE_FILE
from espnet_ext.data.kaldi import read_data_dir, read_kaldi_map, write_data_dir, write_kaldi_map
from espnet_ext.data.validate import validate_data_dir
from espnet_ext.errors import ConfigError, CorpusError
from espnet_ext.fileio import PathLike, atomic_write_text
from espnet_ext.steps import claim_dir, seeded_order

logger = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")

def assign_speakers(spk2seconds: Dict[str, float], seed: int = 1, dev_ratio: float = 0.1,
                    test_ratio: float = 0.1) -> Dict[str, str]:
    """Deal whole speakers to test, dev and train by duration, in a seeded order.

    Speakers are ordered by a hash of ``(seed, speaker)``; each goes to test, else dev, while
    that set is empty or still below its share of the total duration and the speaker fits,
    else to train. Every set gets at least one speaker.

    Returns:
        speaker -> "train" | "dev" | "test".

    Raises:
        CorpusError: fewer than 3 speakers.
        ConfigError: ratios outside (0, 1) or summing to 1 or more.
    """
    if not (0 < dev_ratio < 1 and 0 < test_ratio < 1 and dev_ratio + test_ratio < 1):
        raise ConfigError(f"dev_ratio={dev_ratio}, test_ratio={test_ratio}: each must be in "
                          "(0, 1) and their sum below 1")
    if len(spk2seconds) < 3:
        raise CorpusError(f"only {len(spk2seconds)} speaker(s) ({sorted(spk2seconds)}); a "
                          "speaker-disjoint train/dev/test split needs at least 3 (add "
                          "components or regions, or raise max_hours)")
    total = sum(spk2seconds.values())
    targets = {"test": test_ratio * total, "dev": dev_ratio * total}
    have = {"test": 0.0, "dev": 0.0}
    out: Dict[str, str] = {}
    order = seeded_order(spk2seconds, seed)
    for spk in order:
        dur = spk2seconds[spk]
        dest = "train"
        for split in ("test", "dev"):
            if have[split] == 0 or (have[split] < targets[split]
                                    and have[split] + dur <= targets[split]):
                dest = split
                break
        if dest != "train":
            have[dest] += dur
        out[spk] = dest
    if "train" not in out.values():  # tiny inputs: the bigger held-out set gives one speaker
        donor = max(("test", "dev"), key=lambda s: sum(1 for v in out.values() if v == s))
        last = [s for s in order if out[s] == donor][-1]
        out[last] = "train"
    return out


# Per-utterance files the split sets carry beside the core data-dir files.
_CARRIED = ("utt2dur", "text.orig", "text.ort")


def write_part(src: Path, out_dir: Path, keep: Set[str], header: str,
               owner: Optional[str] = None) -> Path:
    """Write the utterances ``keep`` of data dir ``src`` as ``out_dir`` (audio shared).

    Carries ``utt2dur``, ``text.orig``, ``text.ort`` and ``spk2gender``; ``PROVENANCE.md`` is
    ``header`` followed by the source's. With ``owner`` the dir's owner file is written first
    (so an interrupted run still owns it). The result is validated.
    """
    utts = [u for u in read_data_dir(src) if u.utt_id in keep]
    if owner is not None:
        claim_dir(out_dir, owner)
    write_data_dir(out_dir, utts, overwrite=True)
    for name in _CARRIED:
        if (src / name).is_file():
            write_kaldi_map(out_dir / name, {k: v for k, v in read_kaldi_map(src / name).items()
                                             if k in keep})
    gender_file = src / "spk2gender"
    if gender_file.is_file():
        spks = {u.spk_id for u in utts}
        write_kaldi_map(out_dir / "spk2gender",
                        {k: v for k, v in read_kaldi_map(gender_file).items() if k in spks})
    elif (out_dir / "spk2gender").exists():
        (out_dir / "spk2gender").unlink()  # from an earlier run with other speakers
    provenance = src / PROVENANCE_FILE
    body = provenance.read_text(encoding="utf-8") if provenance.is_file() else ""
    atomic_write_text(out_dir / PROVENANCE_FILE, header + body)
    stats = validate_data_dir(out_dir)
    logger.info("%s: %d utts, %d speakers, %.3f h", out_dir, stats.num_utts, stats.num_speakers,
                stats.hours)
    return out_dir


def spk2seconds(data_dir: Path) -> Dict[str, float]:
    """Seconds of speech per speaker of a data dir (from ``utt2dur``)."""
    durs = read_kaldi_map(data_dir / "utt2dur")
    out: Dict[str, float] = {}
    for utt, spk in read_kaldi_map(data_dir / "utt2spk").items():
        out[spk] = out.get(spk, 0.0) + float(durs[utt])
    return out


def split_by_speaker(data_dir: PathLike, seed: int = 1, dev_ratio: float = 0.1,
                     test_ratio: float = 0.1) -> Dict[str, Path]:
    """Write ``<data_dir>_train``, ``_dev`` and ``_test`` with no speaker in two of them.

    Args:
        data_dir: a data dir written by :func:`prepare_cgn` (has ``utt2dur``).
        seed: decides which speakers are held out.
        dev_ratio, test_ratio: target shares of the total duration.

    Returns:
        ``{"train": path, "dev": path, "test": path}``; each is validated.

    Raises:
        CorpusError: fewer than 3 speakers.
        DataDirError: ``data_dir`` is malformed.
    """
    data_dir = Path(data_dir)
    utt2spk = read_kaldi_map(data_dir / "utt2spk")
    split_of = assign_speakers(spk2seconds(data_dir), seed, dev_ratio, test_ratio)
    out = {}
    for split in SPLITS:
        out_dir = data_dir.parent / f"{data_dir.name}_{split}"
        header = (f"# {out_dir.name}: provenance\n\nThe '{split}' part of `{data_dir.name}`, "
                  f"split by speaker (seed {seed}, dev {dev_ratio}, test {test_ratio} of the "
                  f"duration; no speaker is in two parts) by "
                  "`espnet_ext.data.corpora.cgn_splits.split_by_speaker`.\n\n")
        keep = {u for u, s in utt2spk.items() if split_of[s] == split}
        out[split] = write_part(data_dir, out_dir, keep, header)
    return out


def write_text_corpus(train_dir: PathLike, held_out_dirs: Sequence[PathLike],
                      out_file: PathLike) -> int:
    """Write the train transcripts as a text corpus: one normalised sentence per line.

    Sentences are deduplicated (first in utterance order kept), and every sentence that is
    also a transcript of ``held_out_dirs`` (dev/test; the recipe adds the pre-training pool) is
    left out, so the joint model's text side never sees held-out transcripts. ``PROVENANCE.md``
    beside ``out_file`` gives the counts.

    Returns:
        the number of sentences written.

    Raises:
        CorpusError: no sentence is left.
    """
    out_file = Path(out_file)
    held_out = set()
    for d in held_out_dirs:
        held_out.update(read_kaldi_map(Path(d) / "text").values())
    texts = read_kaldi_map(Path(train_dir) / "text")
    sentences: Dict[str, None] = {}
    excluded = 0
    for _, text in sorted(texts.items()):
        if text in held_out:
            excluded += 1
        else:
            sentences.setdefault(text, None)
    if not sentences:
        raise CorpusError(f"{train_dir}: every transcript is also one of "
                          f"{', '.join(str(d) for d in held_out_dirs)}; no text corpus can be "
                          "written (hold out more speakers for text)")
    atomic_write_text(out_file, "".join(s + "\n" for s in sentences))
    atomic_write_text(out_file.parent / PROVENANCE_FILE, (
        f"# {out_file.parent.name}: provenance\n\n"
        f"- Normalised transcripts of `{train_dir}` (CGN; {LICENSE}), one per line, in "
        "utterance-id order.\n"
        f"- {len(texts)} utterances -> {len(sentences)} distinct sentences; "
        f"{excluded} utterance(s) left out because their sentence is also a transcript of "
        f"{', '.join(f'`{d}`' for d in held_out_dirs)}.\n"))
    logger.info("%s: %d sentences (%d held-out matches left out)", out_file, len(sentences),
                excluded)
    return len(sentences)
