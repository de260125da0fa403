"""A language given as plain Kaldi data dirs: the "new language by data only" path.

Input layout (``root``)::

    <root>/{train,dev,test}/wav.scp  text  utt2spk   # Kaldi style, audio as file paths

Any sample rate, channel count or format soundfile reads is converted to 16 kHz mono WAV (the
user's files are only read). Dirs with ``segments`` or piped ``wav.scp`` commands are first
turned into plain ones by ``python -m espnet_ext.bin.format_data_dir`` (which cuts and runs
them). The utterance ids, speakers and transcripts are kept as given; the transcripts go through
``normalize_text`` for the language (its language-independent rules when the project has no
rules for that language). The licence is whatever the user's data has: PROVENANCE.md records
the path and says so.

Skipped, by reason: ``malformed_row`` (a line without a value, an utterance missing from
``text`` or ``utt2spk``), ``no_wav_entry`` (a transcript whose utterance ``wav.scp`` does not
list), ``no_audio``, ``unreadable_audio``, ``empty_after_normalization``.
"""

from pathlib import Path
from typing import Dict, List, Optional

from espnet_ext.data.corpora.items import RawItem, SkipLog
from espnet_ext.data.corpora.provenance import SourceInfo
from espnet_ext.data.corpora.splits import SPLITS, prepare_split_dirs
from espnet_ext.data.kaldi import read_kaldi_map
from espnet_ext.errors import CorpusError
from espnet_ext.fileio import PathLike

CORPUS = "kaldi"
REQUIRED = ("wav.scp", "text", "utt2spk")


def check_layout(root: PathLike) -> Path:
    """Raise CorpusError naming every missing file; return ``root``."""
    root = Path(root)
    missing = [f"{s}/{f}" for s in SPLITS for f in REQUIRED if not (root / s / f).is_file()]
    if missing:
        raise CorpusError(
            f"Kaldi data dirs {root}: missing {', '.join(missing)}; expected "
            "<root>/{train,dev,test}/{wav.scp,text,utt2spk}")
    for split in SPLITS:
        if (root / split / "segments").exists() or any(
                v.rstrip().endswith("|") for v in read_kaldi_map(root / split / "wav.scp").values()):
            raise CorpusError(
                f"{root / split}: segments or piped wav.scp commands; make a plain copy first: "
                f"python -m espnet_ext.bin.format_data_dir {root / split} <new dir>")
    return root


def collect_split(root: Path, split: str, skips: SkipLog) -> List[RawItem]:
    d = root / split
    wavs = read_kaldi_map(d / "wav.scp")
    text = read_kaldi_map(d / "text", allow_empty_value=True)
    utt2spk = read_kaldi_map(d / "utt2spk")
    items = []
    for utt, wav in wavs.items():
        if utt not in text or utt not in utt2spk:
            skips.add("malformed_row", f"{split}/{utt} (not in text or utt2spk)")
            continue
        items.append(RawItem(utt, utt2spk[utt], wav, text[utt], f"{split}/{utt}"))
    for utt in sorted(set(text) - set(wavs)):  # a transcript without audio: say so, not drop it
        skips.add("no_wav_entry", f"{split}/{utt} (in text, not in wav.scp)")
    return items


def source_info(root: Path, lang: str, split: str) -> SourceInfo:
    return SourceInfo(
        title=f"Kaldi data dir {root.name}/{split} ({lang})",
        packages=[],
        license="as given by the owner of the data (not recorded by the project)",
        license_file="",
        source=f"user-supplied Kaldi data dir `{(root / split).resolve()}` (only read)",
        notes=[f"Text normalised with normalize_text('{lang}'); text.orig keeps it as given."],
        skipped_listing="`skipped.txt` of this data dir",
    )


def prepare_kaldi_dirs(
    root: PathLike, out_dir: PathLike, lang: str, max_utts: Optional[int] = None,
    seed: int = 777, nj: int = 2, force: bool = False, audio_dir: Optional[PathLike] = None,
) -> Dict[str, Path]:
    """Prepare ``<root>/{train,dev,test}`` as ``<out_dir>/{train,dev,test}_<lang>``.

    Same arguments, return value and errors as
    :func:`espnet_ext.data.corpora.fleurs.prepare_fleurs`.
    """
    root = check_layout(root)
    return prepare_split_dirs(
        CORPUS, root, out_dir, lang,
        collect=lambda split, skips: collect_split(root, split, skips),
        source_info=lambda split: source_info(root, lang, split),
        max_utts=max_utts, seed=seed, nj=nj, force=force, audio_dir=audio_dir, link_ok=True,
    )


__all__ = ["check_layout", "collect_split", "prepare_kaldi_dirs"]
