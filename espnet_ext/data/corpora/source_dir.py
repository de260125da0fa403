"""One source's Kaldi data dir: each preparer turns its source into :class:`RawItem` s and a
:class:`SkipLog`, and :func:`write_source_dir` converts the audio, normalises the text, writes and
validates the dir and records what was skipped and why (``skipped.txt``, ``PROVENANCE.md``).
"""

import json
import logging
from pathlib import Path
from typing import Sequence

from espnet_ext.data.corpora.convert import convert_audio
from espnet_ext.data.corpora.items import RawItem, SkipLog
from espnet_ext.data.corpora.provenance import PROVENANCE_FILE, SourceInfo, provenance_text
from espnet_ext.data.kaldi import Utterance, write_data_dir, write_kaldi_map
from espnet_ext.data.validate import validate_data_dir
from espnet_ext.errors import CorpusError
from espnet_ext.fileio import PathLike, atomic_write_text
from espnet_ext.text.normalize import normalize_text

logger = logging.getLogger(__name__)

SKIPPED_FILE = "skipped.txt"
def write_source_dir(
    items: Sequence[RawItem], skips: SkipLog, out_dir: PathLike, lang: str, audio_dir: PathLike,
    info: SourceInfo, nj: int = 2, link_ok: bool = False,
) -> Path:
    """Convert, normalise, write and validate one source's data dir.

    Writes ``out_dir`` with ``text`` (normalised), ``text.orig`` (as in the source),
    ``utt2dur``, ``skipped.txt``, ``skipped.json`` and ``PROVENANCE.md``.

    Raises:
        CorpusError: nothing usable is left.
        DataDirError: the written dir fails validation (a bug, named by the validator).
    """
    out_dir = Path(out_dir)
    kept, durations, paths = convert_audio(items, audio_dir, skips, nj=nj, link_ok=link_ok)
    utts, orig = [], {}
    for it in kept:
        norm = normalize_text(it.text, lang)
        if not norm:
            skips.add("empty_after_normalization", it.name)
            continue
        utts.append(Utterance(it.utt_id, it.spk_id, paths[it.utt_id], norm, lang))
        orig[it.utt_id] = " ".join(it.text.split())
    skips.log()
    if not utts:
        raise CorpusError(
            f"{skips.source}: no usable utterance left (skipped: {skips.counts()}); "
            "check that the source's audio and transcripts are installed"
        )
    write_data_dir(out_dir, utts, overwrite=True)
    write_kaldi_map(out_dir / "text.orig", orig)
    write_kaldi_map(out_dir / "utt2dur", {u.utt_id: f"{durations[u.utt_id]:.3f}" for u in utts})
    skips.write(out_dir / SKIPPED_FILE)
    atomic_write_text(out_dir / "skipped.json", json.dumps(skips.counts(), indent=2) + "\n")
    stats = validate_data_dir(out_dir)
    atomic_write_text(out_dir / PROVENANCE_FILE,
                      provenance_text(info, skips, stats.num_utts, stats.hours))
    logger.info("%s: wrote %s (%d utts, %d speakers, %.3f h; skipped %s)", skips.source,
                out_dir, stats.num_utts, stats.num_speakers, stats.hours, skips.counts())
    return out_dir
