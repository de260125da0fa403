"""The Russian festvox voice recordings (Debian ``festvox-ru``: msu_ru_nsh_clunits).

Input layout (``corpus_dir``, default the voice dir below)::

    /usr/share/festival/voices/russian/msu_ru_nsh_clunits/
        etc/txt.done.data        # lines: ( ru_0001 "text with +stress marks" )
        wav/ru_0001.wav          # 16 kHz mono 16-bit PCM, one male speaker (N. Shmyrev)

Text uses ``+`` before the stressed vowel (``вол+ос``); :func:`normalize_text` removes it for
``ru``. The recordings are already 16 kHz mono PCM16, yet the data dir does not point into
``/usr/share``: each file is hard-linked (or copied when across file systems) into
``audio_dir``, so a package upgrade or removal cannot change a prepared data dir (dpkg
replaces files, the link keeps our version). Files in another format are converted.

Speaker: ``festvox_msu_ru_nsh``; utterance ids ``<spk>_ru_0001``. Skipped, by reason:
``malformed_line``, ``duplicate_name``, ``no_audio``, ``no_transcript`` (a wav that no line
names), ``unreadable_audio``, ``empty_after_normalization``.
"""

import logging
import re
from pathlib import Path
from typing import Dict, List, Optional

from espnet_ext.data.corpora.debian import require_path
from espnet_ext.data.corpora.items import RawItem, SkipLog
from espnet_ext.data.corpora.provenance import SourceInfo
from espnet_ext.data.corpora.source_dir import write_source_dir
from espnet_ext.data.kaldi import make_id
from espnet_ext.fileio import PathLike

logger = logging.getLogger(__name__)

PACKAGE = "festvox-ru"
DEFAULT_VOICE_DIR = "/usr/share/festival/voices/russian/msu_ru_nsh_clunits"
DEFAULT_COPYRIGHT = "/usr/share/doc/festvox-ru/copyright"

# ( ru_0001 "text" ) -- festival's txt.done.data; a quote inside the text is written \"
_LINE = re.compile(r'^\(\s*(\S+)\s+"((?:[^"\\]|\\.)*)"\s*\)\s*$')


def packages() -> List[str]:
    return [PACKAGE]


def read_txt_done_data(path: PathLike, skips: SkipLog) -> Dict[str, str]:
    """Read festival's ``txt.done.data`` into name -> text; bad lines are counted and skipped."""
    path = Path(path)
    out: Dict[str, str] = {}
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        m = _LINE.match(line.strip())
        if not m:
            logger.warning("%s:%d: expected '( name \"text\" )', got %r; skipped", path,
                           line_no, line[:80])
            skips.add("malformed_line", f"{path.name}:{line_no}")
            continue
        name, text = m.group(1), re.sub(r"\\(.)", r"\1", m.group(2))
        if name in out:
            skips.add("duplicate_name", f"{name} ({path.name}:{line_no})")
            continue
        out[name] = text
    return out


def read_license(copyright_file: PathLike = DEFAULT_COPYRIGHT) -> str:
    """The licence of the recordings: the ``License:`` of the ``Files: *`` stanza."""
    try:
        text = Path(copyright_file).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"unknown ({copyright_file} not readable)"
    for stanza in re.split(r"\n\s*\n", text):
        if re.search(r"^Files:\s*\*\s*$", stanza, flags=re.M):
            m = re.search(r"^License:\s*(.+)$", stanza, flags=re.M)
            if m:
                return m.group(1).strip()
    return "unknown (no 'Files: *' licence in the copyright file)"


def collect_festvox_ru(
    corpus_dir: PathLike = DEFAULT_VOICE_DIR, skips: Optional[SkipLog] = None,
) -> List[RawItem]:
    """Pair each ``txt.done.data`` line with ``wav/<name>.wav``.

    Raises:
        CorpusError: the voice is not installed.
    """
    corpus_dir = Path(corpus_dir)
    skips = skips if skips is not None else SkipLog("festvox_ru")
    txt = require_path(corpus_dir / "etc" / "txt.done.data", PACKAGE,
                       "festvox-ru prompt list")
    wav_dir = require_path(corpus_dir / "wav", PACKAGE, "festvox-ru recordings")
    transcripts = read_txt_done_data(txt, skips)
    spk = make_id("festvox", corpus_dir.name.replace("_clunits", ""))
    items = []
    for name, text in sorted(transcripts.items()):
        audio = wav_dir / f"{name}.wav"
        if not audio.is_file():
            skips.add("no_audio", name)
            continue
        items.append(RawItem(make_id(spk, name), spk, str(audio), text, name))
    for w in sorted(wav_dir.glob("*.wav")):
        if w.stem not in transcripts:
            skips.add("no_transcript", w.stem)
    return items


def prepare_festvox_ru(
    corpus_dir: PathLike = DEFAULT_VOICE_DIR, out_dir: PathLike = "data/local/festvox_ru",
    audio_dir: PathLike = "data/local/audio/festvox_ru", nj: int = 2,
    copyright_file: PathLike = DEFAULT_COPYRIGHT,
) -> Dict[str, Path]:
    """Prepare the festvox-ru recordings as a Kaldi data dir (language ``ru``).

    Args:
        corpus_dir: the voice dir (``.../msu_ru_nsh_clunits``).
        out_dir: data dir to write.
        audio_dir: where the recordings are linked/copied (converted if not 16 kHz mono).
        nj: processes.
        copyright_file: Debian copyright file the licence is read from.

    Returns:
        ``{"all": out_dir}``.

    Raises:
        CorpusError: the package is missing or nothing usable is found.
    """
    skips = SkipLog("festvox_ru")
    items = collect_festvox_ru(corpus_dir, skips)
    info = SourceInfo(
        title="festvox-ru msu_ru_nsh_clunits recordings (source: festvox_ru)",
        packages=packages(),
        license=read_license(copyright_file),
        license_file=str(copyright_file),
        notes=[
            f"Audio: {corpus_dir}/wav/*.wav (16 kHz mono, read speech, one male speaker), "
            "hard-linked or copied, not resampled.",
            f"Text: {corpus_dir}/etc/txt.done.data; '+' stress marks removed by normalisation.",
        ],
    )
    out = write_source_dir(items, skips, out_dir, "ru", audio_dir, info, nj=nj, link_ok=True)
    return {"all": out}
