"""Fish Fillets NG voice files (Debian ``fillets-ng-data`` + ``fillets-ng-data-<lang>``).

Input layout (``game_dir``, default ``/usr/share/games/fillets-ng``)::

    script/<level>/*dialogs_<lang>.lua     # from fillets-ng-data, e.g. dialogs_nl.lua,
                                           # demo_dialogs_cs.lua, share/shout_dialogs_cs.lua
    sound/<level>/<lang>/<dialog id>.ogg   # from fillets-ng-data-<lang>; 22.05 kHz stereo Vorbis
    sound/share/<sub>/<lang>/<id>.ogg      # voices of script/share/<x>_dialogs_<lang>.lua

A transcript is a Lua call pair::

    dialogId("let-m-divna", "font_small", "What kind of strange ship is that?")
    dialogStr("Wat is dit voor raar schip?")

(the calls may span lines; strings may hold Lua escapes such as ``\\"`` and ``\\\\``). The font
names the character speaking (``font_small`` the small fish, ``font_big`` the big one, others
statues, parrots, vikings, ...); it becomes the speaker, prefixed by source and language:
``fillets_nl_font_small``. Utterance ids are ``<spk>_<level>_<dialog id>``. For ``en`` the
English text of ``dialogId`` is the transcript (there is no ``dialogStr``).

Skipped items, counted by reason in the log, ``skipped.txt`` and PROVENANCE.md:
``malformed_lua`` (a dialog call that does not parse), ``no_transcript`` (a dialogId without
dialogStr, or a voice file no script mentions), ``no_audio`` (a transcript without a voice file),
``duplicate_id`` (a second transcript for the same level and id; the first is kept),
``ambiguous_audio`` (several voice files below the level match the id),
``unreadable_audio`` and ``empty_after_normalization``.
"""

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from espnet_ext.data.corpora.debian import require_path
from espnet_ext.data.corpora.items import RawItem, SkipLog
from espnet_ext.data.corpora.provenance import SourceInfo
from espnet_ext.data.corpora.source_dir import write_source_dir
from espnet_ext.data.kaldi import make_id
from espnet_ext.fileio import PathLike

logger = logging.getLogger(__name__)

DEFAULT_GAME_DIR = "/usr/share/games/fillets-ng"
NO_FONT = "font_none"  # speaker of dialogs whose font field is empty


def packages(lang: str) -> List[str]:
    """Debian packages this source needs for ``lang``."""
    return ["fillets-ng-data", f"fillets-ng-data-{lang}"]


# --- a small Lua lexer: enough to find dialog calls without being fooled by comments/strings --

@dataclass(frozen=True)
class _Token:
    kind: str  # "name", "string", "badstring", "punct"
    value: str
    line: int


_LUA_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "", "b": "", "f": "", "v": "",
                "\\": "\\", '"': '"', "'": "'", "\n": "\n"}
_LONG_BRACKET = re.compile(r"\[(=*)\[")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _unescape(body: str) -> str:
    def repl(m: "re.Match[str]") -> str:
        esc = m.group(1)
        if esc[0].isdigit():
            code = int(esc)
            return chr(code) if code < 128 else ""
        return _LUA_ESCAPES.get(esc, esc)

    return re.sub(r"\\(\d{1,3}|.)", repl, body, flags=re.S)


def _tokens(src: str) -> Iterator[_Token]:
    i, line, n = 0, 1, len(src)
    while i < n:
        c = src[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif src.startswith("--", i):
            m = _LONG_BRACKET.match(src, i + 2)
            if m:  # block comment --[[ ... ]]
                end = src.find("]" + m.group(1) + "]", m.end())
                end = n if end < 0 else end + len(m.group(1)) + 2
            else:
                end = src.find("\n", i)
                end = n if end < 0 else end
            line += src.count("\n", i, end)
            i = end
        elif c in "\"'":
            j = i + 1
            while j < n and src[j] != c and src[j] != "\n":
                j += 2 if src[j] == "\\" else 1
            if j < n and src[j] == c:
                yield _Token("string", _unescape(src[i + 1:j]), line)
                i = j + 1
            else:  # unterminated: the rest of the line
                yield _Token("badstring", src[i:j], line)
                i = j
        elif c == "[" and _LONG_BRACKET.match(src, i):
            m = _LONG_BRACKET.match(src, i)
            end = src.find("]" + m.group(1) + "]", m.end())
            end = n if end < 0 else end
            yield _Token("string", src[m.end():end], line)
            line += src.count("\n", i, end)
            i = min(n, end + len(m.group(1)) + 2)
        else:
            m = _NAME.match(src, i)
            if m:
                yield _Token("name", m.group(0), line)
                i = m.end()
            elif src.startswith("..", i):
                yield _Token("punct", "..", line)
                i += 2
            else:
                yield _Token("punct", c, line)
                i += 1


def _parse_call(toks: List[_Token], k: int, nargs: int) -> Tuple[Optional[List[str]], int]:
    """Parse ``name ( str [.. str]* , ... )`` starting at toks[k] (the name).

    Returns (argument strings or None if malformed, index of the next token to look at).
    """
    j = k + 1
    if j >= len(toks) or toks[j].value != "(":
        return None, k + 1
    j += 1
    args: List[str] = []
    while True:
        if j >= len(toks) or toks[j].kind != "string":
            return None, j
        parts = [toks[j].value]
        j += 1
        while j + 1 < len(toks) and toks[j].value == ".." and toks[j + 1].kind == "string":
            parts.append(toks[j + 1].value)
            j += 2
        args.append("".join(parts))
        if j < len(toks) and toks[j].value == ",":
            j += 1
            continue
        if j < len(toks) and toks[j].value == ")" and len(args) == nargs:
            return args, j + 1
        return None, j


@dataclass(frozen=True)
class Dialog:
    """One parsed dialog of a script file."""

    dialog_id: str
    font: str
    english: str
    translation: Optional[str]
    location: str  # file:line of the dialogId call


def parse_dialogs(path: PathLike, skips: SkipLog) -> List[Dialog]:
    """Parse one ``*dialogs_<lang>.lua`` file; malformed calls are skipped and counted.

    Args:
        path: the Lua file.
        skips: receives ``malformed_lua`` entries named ``file:line``.

    Returns:
        the dialogs in file order; ``translation`` is None where no dialogStr followed.
    """
    path = Path(path)
    try:
        src = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        logger.warning("%s: not valid UTF-8 (%s); file skipped", path, e)
        skips.add("malformed_lua", f"{path}:1")
        return []
    toks = list(_tokens(src))
    dialogs: List[Dialog] = []
    pending: Optional[Dialog] = None
    k = 0
    while k < len(toks):
        tok = toks[k]
        if tok.kind != "name" or tok.value not in ("dialogId", "dialogStr"):
            k += 1
            continue
        where = f"{path}:{tok.line}"
        args, k = _parse_call(toks, k, 3 if tok.value == "dialogId" else 1)
        if args is None:
            logger.warning("%s: malformed %s(...) call; skipped", where, tok.value)
            skips.add("malformed_lua", where + (f" ({pending.dialog_id})" if pending else ""))
            if tok.value == "dialogStr":
                pending = None  # its dialogId is accounted for as malformed
            continue
        if tok.value == "dialogId":
            if pending is not None:
                dialogs.append(pending)
            pending = Dialog(args[0], args[1], args[2], None, where)
        elif pending is None:
            logger.warning("%s: dialogStr without a preceding dialogId; skipped", where)
            skips.add("malformed_lua", where)
        else:
            dialogs.append(Dialog(pending.dialog_id, pending.font, pending.english, args[0],
                                  pending.location))
            pending = None
    if pending is not None:
        dialogs.append(pending)
    return dialogs


def collect_fillets(
    game_dir: PathLike = DEFAULT_GAME_DIR, lang: str = "nl", skips: Optional[SkipLog] = None,
) -> List[RawItem]:
    """Find every (transcript, voice file) pair of one language in the game data.

    Args:
        game_dir: root of the installed game data.
        lang: language code of the voice files (``nl``, ``cs``; ``en`` uses the English text).
        skips: collects skipped items by reason (a fresh one if None).

    Returns:
        raw items, sorted by utterance id.

    Raises:
        CorpusError: the scripts or the language's voice files are not installed.
    """
    game_dir = Path(game_dir)
    skips = skips if skips is not None else SkipLog(f"fillets_{lang}")
    script_dir = require_path(game_dir / "script", "fillets-ng-data", "Fish Fillets NG scripts")
    sound_dir = require_path(game_dir / "sound", f"fillets-ng-data-{lang}",
                             "Fish Fillets NG sound dir")
    lua_files = sorted(script_dir.glob(f"*/*dialogs_{lang}.lua"))
    if not lua_files:
        require_path(script_dir / "<level>" / f"dialogs_{lang}.lua", "fillets-ng-data",
                     f"Fish Fillets NG '{lang}' dialog scripts")
    # Most levels keep voices in sound/<level>/<lang>/; shared dialogs (script/share/*_dialogs)
    # are loaded from sub-dirs such as sound/share/border/<lang>/ (see dialogLoad in the game).
    voice_files = sorted(sound_dir.glob(f"*/{lang}/*.ogg")) + sorted(
        sound_dir.glob(f"*/*/{lang}/*.ogg")
    )
    if not voice_files:
        require_path(sound_dir / "<level>" / lang / "<dialog id>.ogg",
                     f"fillets-ng-data-{lang}", f"Fish Fillets NG '{lang}' voice files")
    by_id: Dict[str, List[Path]] = {}
    for f in voice_files:
        by_id.setdefault(f.stem, []).append(f)

    transcripts: Dict[Tuple[str, str], Dialog] = {}
    for lua in lua_files:
        level = lua.parent.name
        for d in parse_dialogs(lua, skips):
            key = (level, d.dialog_id)
            if key in transcripts:
                skips.add("duplicate_id", f"{level}/{d.dialog_id} ({d.location})")
                continue
            transcripts[key] = d

    def find_audio(level: str, dialog_id: str) -> Tuple[Optional[Path], str]:
        exact = sound_dir / level / lang / f"{dialog_id}.ogg"
        if exact.is_file():
            return exact, ""
        below = [f for f in by_id.get(dialog_id, []) if f.relative_to(sound_dir).parts[0] == level]
        if len(below) == 1:
            return below[0], ""
        return None, "ambiguous_audio" if below else "no_audio"

    items: List[RawItem] = []
    used = set()
    for (level, dialog_id), d in sorted(transcripts.items()):
        text = d.english if lang == "en" else d.translation
        name = f"{level}/{dialog_id}"
        audio, reason = find_audio(level, dialog_id)
        if audio is not None:
            used.add(audio)
        if text is None or not text.strip():
            # Sound effects (font "", text "") and untranslated lines: a voice without text.
            if audio is not None:
                skips.add("no_transcript", name)
            continue
        if audio is None:
            skips.add(reason, name)
            continue
        spk = make_id("fillets", lang, d.font or NO_FONT)
        items.append(RawItem(make_id(spk, level, dialog_id), spk, str(audio),
                             " ".join(text.split()), name))
    for audio in voice_files:
        if audio not in used:
            rel = audio.relative_to(sound_dir)
            skips.add("no_transcript", f"{'/'.join(rel.parts[:-2])}/{audio.stem}")
    logger.info("fillets_%s: %d voice files, %d transcripts in %d scripts, %d matched",
                lang, len(voice_files), len(transcripts), len(lua_files), len(items))
    return sorted(items, key=lambda it: it.utt_id)


def source_info(lang: str, game_dir: PathLike = DEFAULT_GAME_DIR) -> SourceInfo:
    return SourceInfo(
        title=f"Fish Fillets NG voices, {lang} (source: fillets)",
        packages=packages(lang),
        license="GPL-2+",
        license_file=f"/usr/share/doc/fillets-ng-data-{lang}/copyright",
        notes=[
            f"Audio: {game_dir}/sound/<level>/{lang}/<id>.ogg (22.05 kHz stereo Vorbis), "
            "down-mixed and resampled to 16 kHz mono.",
            f"Text: dialogStr of {game_dir}/script/<level>/*dialogs_{lang}.lua; speaker = "
            "game character (font field); acted, game-style speech.",
        ],
    )


def prepare_fillets(
    corpus_dir: PathLike = DEFAULT_GAME_DIR, out_dir: PathLike = "data/local/fillets_nl",
    lang: str = "nl", audio_dir: PathLike = "data/local/audio/fillets_nl", nj: int = 2,
) -> Dict[str, Path]:
    """Prepare the Fish Fillets NG voices of one language as a Kaldi data dir.

    Args:
        corpus_dir: the game data root (``/usr/share/games/fillets-ng``).
        out_dir: data dir to write (text normalised with ``normalize_text``).
        lang: voice language (``nl``, ``cs``).
        audio_dir: where the 16 kHz mono WAVs go (reused if already converted).
        nj: conversion processes.

    Returns:
        ``{"all": out_dir}``.

    Raises:
        CorpusError: the game data or voice package is missing, or nothing usable is found.
    """
    skips = SkipLog(f"fillets_{lang}")
    items = collect_fillets(corpus_dir, lang, skips)
    out = write_source_dir(items, skips, out_dir, lang, audio_dir,
                           source_info(lang, corpus_dir), nj=nj)
    return {"all": out}
