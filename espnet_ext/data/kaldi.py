"""Reading and writing Kaldi-style data directories.

A data directory holds ``wav.scp`` (utt -> audio path), ``text`` (utt -> transcript),
``utt2spk``, ``spk2utt`` and optionally ``segments`` and ``utt2lang``. Files are sorted by id
(C locale, as Kaldi/ESPnet tools expect) and written atomically.
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional

from espnet_ext.errors import DataDirError
from espnet_ext.fileio import PathLike, atomic_write_text

# Ids become file names and shell words downstream: keep them to a safe alphabet.
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
# Line ends as ESPnet reads these files (Python's universal newlines). Not str.splitlines(),
# which also splits at U+2028, U+0085, form feed, ... that ESPnet keeps inside a line.
_LINE_END = re.compile(r"\r\n|\r|\n")


def _split_lines(content: str) -> List[str]:
    lines = _LINE_END.split(content)
    return lines[:-1] if lines and lines[-1] == "" else lines


@dataclass(frozen=True)
class Utterance:
    """One labelled utterance of a prepared corpus.

    Attributes:
        utt_id: unique id; starts with ``spk_id`` so that sorting by utt groups speakers.
        spk_id: speaker id.
        wav_path: absolute path of a 16 kHz mono audio file.
        text: transcript (already normalised for the language).
        language: ISO 639-1 code, e.g. "nl", "es".
    """

    utt_id: str
    spk_id: str
    wav_path: str
    text: str
    language: str


def make_id(*parts: str) -> str:
    """Join ``parts`` into one id made only of ``[A-Za-z0-9_.-]`` (the single place ids are built).

    >>> make_id("fillets", "nl", "font_small", "let-m-oko")
    'fillets_nl_font_small_let-m-oko'
    """
    cleaned = [_ID_UNSAFE.sub("-", p).strip("-") for p in parts]
    if not all(cleaned):
        raise ValueError(f"cannot build an id from {parts!r}: a part is empty after cleaning")
    return "_".join(cleaned)


def read_kaldi_map(path: PathLike, allow_empty_value: bool = False) -> Dict[str, str]:
    """Read a ``key value...`` file into an ordered dict.

    Args:
        path: the file (e.g. ``data/train_es/text``).
        allow_empty_value: accept lines that have a key and nothing else.

    Returns:
        key -> rest of the line (stripped), in file order.

    Raises:
        DataDirError: the file is missing, not UTF-8, or a line is empty, has no value or
            repeats a key; the message names the file and line number (a line ends at LF,
            CRLF or CR, as ESPnet reads these files).
    """
    path = Path(path)
    if not path.is_file():
        raise DataDirError(f"{path}: file not found")
    try:
        content = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        line_no = len(_LINE_END.split(e.object[: e.start].decode("utf-8")))
        raise DataDirError(
            f"{path}:{line_no}: not valid UTF-8 ({e.reason} at byte {e.start}); "
            "re-encode the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
        ) from None
    out: Dict[str, str] = {}
    for line_no, line in enumerate(_split_lines(content), start=1):
        fields = line.strip().split(maxsplit=1)
        if not fields:
            raise DataDirError(f"{path}:{line_no}: empty line; remove it")
        key = fields[0]
        value = fields[1].strip() if len(fields) > 1 else ""
        if not value and not allow_empty_value:
            raise DataDirError(
                f"{path}:{line_no}: utterance/key '{key}' has no value; "
                "give it one or remove the line (and the utterance from every other file)"
            )
        if key in out:
            raise DataDirError(f"{path}:{line_no}: duplicate key '{key}'; ids must be unique")
        out[key] = value
    return out


def write_kaldi_map(path: PathLike, mapping: Dict[str, str]) -> None:
    """Write ``mapping`` as a sorted ``key value`` file, atomically."""
    lines = [f"{k} {mapping[k]}\n" for k in sorted(mapping)]
    atomic_write_text(path, "".join(lines))


def write_data_dir(out_dir: PathLike, utts: Iterable[Utterance], overwrite: bool = False) -> Path:
    """Write ``utts`` as a Kaldi data directory (wav.scp, text, utt2spk, spk2utt, utt2lang).

    Args:
        out_dir: directory to create.
        utts: utterances; ids must be unique and start with their speaker id.
        overwrite: replace an existing directory's files. Without it, an existing non-empty
            ``wav.scp`` is an error, so a user's data dir is never overwritten by accident.

    Returns:
        ``out_dir`` as a Path.

    Raises:
        DataDirError: duplicate ids, an id not prefixed by its speaker, or an existing dir.
    """
    out_dir = Path(out_dir)
    if (out_dir / "wav.scp").exists() and not overwrite:
        raise DataDirError(
            f"{out_dir}: already holds a data directory; refusing to overwrite it "
            "(remove it or choose another output directory)"
        )
    wav, text, utt2spk, utt2lang = {}, {}, {}, {}
    spk2utt: Dict[str, List[str]] = {}
    for u in utts:
        if u.utt_id in wav:
            raise DataDirError(f"{out_dir}: duplicate utterance id '{u.utt_id}'")
        if not u.utt_id.startswith(u.spk_id):
            raise DataDirError(
                f"{out_dir}: utterance id '{u.utt_id}' does not start with its speaker id "
                f"'{u.spk_id}' (Kaldi sorting needs this)"
            )
        wav[u.utt_id] = u.wav_path
        text[u.utt_id] = u.text
        utt2spk[u.utt_id] = u.spk_id
        utt2lang[u.utt_id] = u.language
        spk2utt.setdefault(u.spk_id, []).append(u.utt_id)
    if not wav:
        raise DataDirError(f"{out_dir}: no utterances to write")
    out_dir.mkdir(parents=True, exist_ok=True)
    write_kaldi_map(out_dir / "text", text)
    write_kaldi_map(out_dir / "utt2spk", utt2spk)
    write_kaldi_map(out_dir / "utt2lang", utt2lang)
    write_kaldi_map(out_dir / "spk2utt", {s: " ".join(sorted(us)) for s, us in spk2utt.items()})
    # wav.scp last: its presence marks a complete directory (see the overwrite check above).
    write_kaldi_map(out_dir / "wav.scp", wav)
    return out_dir


def read_data_dir(data_dir: PathLike) -> List[Utterance]:
    """Read a data dir written by :func:`write_data_dir` (or any Kaldi dir without segments).

    Raises:
        DataDirError: a required file is missing or malformed, the dir has ``segments``, or
            ``text``/``utt2spk``/``utt2lang`` do not list the utterances of ``wav.scp``
            (names the file and the first utterance missing or unknown).
    """
    data_dir = Path(data_dir)
    if (data_dir / "segments").exists():
        raise DataDirError(f"{data_dir}/segments: segmented data dirs cannot be read as "
                           "utterances; cut the segments into files first "
                           "(espnet_ext.bin.format_data_dir)")
    wav = read_kaldi_map(data_dir / "wav.scp")
    text = read_kaldi_map(data_dir / "text")
    utt2spk = read_kaldi_map(data_dir / "utt2spk")
    lang_file = data_dir / "utt2lang"
    utt2lang = read_kaldi_map(lang_file) if lang_file.exists() else {}
    # Every line must be used: an utterance listed in one file only is an error, not dropped.
    for name, mapping in (("text", text), ("utt2spk", utt2spk), ("utt2lang", utt2lang)):
        if name == "utt2lang" and not lang_file.exists():
            continue
        missing = sorted(set(wav) - set(mapping))
        extra = sorted(set(mapping) - set(wav))
        if missing or extra:
            raise DataDirError(
                f"{data_dir / name}: does not match {data_dir / 'wav.scp'}"
                + (f"; missing {len(missing)} (first: '{missing[0]}')" if missing else "")
                + (f"; unknown {len(extra)} (first: '{extra[0]}')" if extra else "")
                + "; every file must list the same utterances")
    return [
        Utterance(u, utt2spk.get(u, u), wav[u], text.get(u, ""), utt2lang.get(u, ""))
        for u in sorted(wav)
    ]


def language_of(data_dir: PathLike) -> Optional[str]:
    """The single language of a data dir from its ``utt2lang`` file, or None if absent/mixed."""
    f = Path(data_dir) / "utt2lang"
    if not f.exists():
        return None
    langs = set(read_kaldi_map(f).values())
    return langs.pop() if len(langs) == 1 else None
