"""Probe sets with exact phone timings: sentences read by espeak-ng, with its own phoneme events.

A linear phone probe needs frame-level phone labels. For Czech, Spanish and the other languages we
evaluate on we have no phone-level acoustic model, so CTC/HMM forced alignment of real speech is
not an option (and its labels would carry that model's errors and biases into the comparison).
A synthesiser knows exactly which phone it produces when: libespeak-ng reports an
``espeakEVENT_PHONEME`` event (phone name in IPA, position in output samples) for every phone it
renders, so synthetic speech comes with exact labels, for any language espeak-ng has a voice for.
MBROLA (diphone voices, which also report timings) is not used: the ``mbrola`` binary and its
voices are not installable from this Debian release's archive; espeak-ng's own formant voices
need only the ``espeak-ng`` package (``libespeak-ng1``).

libespeak-ng is called through ``ctypes`` (no Python binding is installed). The struct layouts
below are those of espeak-ng 1.51's ``speak_lib.h`` (the header itself is not installed); they are
checked on every utterance: phone positions must not decrease and must lie within the audio.

Probe-set layout (``prepare_probe_set``)::

    <out_dir>/wav/<utt>.wav     16 kHz mono PCM16 (espeak-ng's 22.05 kHz, resampled)
    <out_dir>/{wav.scp,text,utt2spk,spk2utt,utt2lang}   a Kaldi data dir (speaker = voice)
    <out_dir>/phones.ctm        utt 1 start dur phone   (seconds; pauses are ``sil``)
    <out_dir>/.done             the options (JSON), written last; a rerun with the same reuses it

Phone names are espeak-ng's IPA (length marks kept, stress marks removed, as in
:mod:`espnet_ext.text.phonemes`). Events with an empty IPA name become ``sil``: these are
espeak-ng's pauses (between clauses, at the start and end, the short ``_!`` before some words)
and a few modifier phonemes that have no IPA symbol (Dutch ``!``, Czech/Spanish ``;``; measured
on 80 test sentences each: 0.5% of the Dutch and 0.2% of the Czech audio). IPA mode cannot tell
the two apart, and those segments are too few to matter. Zero-length events (word-boundary
markers) cover no audio and are left out.

espeak-ng's output is not a pure function of one sentence: its pitch-flutter state carries over
from one sentence to the next, so phone boundaries move by a few samples with what was read
before. A probe set is therefore built in one pass, in a fixed order, and then reused from disk;
its ``.done`` options (not the audio bytes) define it.
"""

import ctypes
import ctypes.util
import hashlib
import logging
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from espnet_ext.data.audio import TARGET_SR, to_mono_16k, write_wav_16k
from espnet_ext.data.kaldi import Utterance, make_id, read_kaldi_map, write_data_dir
from espnet_ext.data.validate import validate_data_dir
from espnet_ext.errors import ConfigError, CorpusError, DataDirError
from espnet_ext.fileio import PathLike, atomic_write_text
from espnet_ext.steps import DONE_FILE, is_done, item_random, mark_done, seeded_shuffle
from espnet_ext.versioning import PROBE_SET

logger = logging.getLogger(__name__)

SIL = "sil"
PROBE_SET_VERSION = PROBE_SET.current
LIB_NAMES = ("libespeak-ng.so.1", "espeak-ng")
DEFAULT_RATE = 175  # espeak-ng's default speaking rate (words per minute)
DEFAULT_PITCH = 50  # espeak-ng's default pitch (0..99)
_STRESS = str.maketrans("", "", "ˈˌ'")

# speak_lib.h (espeak-ng 1.51)
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_PHONEME_IPA = 0x0002
_INITIALIZE_DONT_EXIT = 0x8000  # return an error instead of calling exit()
_EVENT_LIST_TERMINATED = 0
_EVENT_PHONEME = 7
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE = 1
_PARAM_PITCH = 3
_EE_OK = 0


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p),
                ("string", ctypes.c_char * 8)]  # phone name, UTF-8, NUL-terminated unless 8 bytes


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int),  # ms
                ("sample", ctypes.c_int),  # output samples since the start of espeak_Synth
                ("user_data", ctypes.c_void_p), ("id", _EventId)]


class _Voice(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_char_p),
                ("identifier", ctypes.c_char_p), ("gender", ctypes.c_ubyte),
                ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte), ("xx1", ctypes.c_ubyte),
                ("score", ctypes.c_int), ("spare", ctypes.c_void_p)]


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))


@dataclass(frozen=True)
class PhoneSegment:
    """One phone (or ``sil``) of an utterance: samples ``[start, end)`` at 16 kHz."""

    start: int
    end: int
    phone: str


class Espeak:
    """libespeak-ng in synchronous mode with IPA phoneme events (one per process; not reentrant).

    Use :func:`get_espeak`. The library keeps global state, so calls are serialised by a lock.
    """

    def __init__(self, lib_names: Sequence[str] = LIB_NAMES):
        lib = None
        for name in lib_names:
            path = ctypes.util.find_library(name) if "/" not in name and ".so" not in name \
                else name
            if not path:
                continue
            try:
                lib = ctypes.CDLL(path)
                break
            except OSError:
                continue
        if lib is None:
            raise CorpusError(
                f"libespeak-ng not found (tried {', '.join(lib_names)}); install the Debian "
                "package espeak-ng (`apt-get install -y espeak-ng`, listed in "
                "tools/debian_packages.d/pretrain.txt)")
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p,
                                          ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_Callback]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_GetCurrentVoice.restype = ctypes.POINTER(_Voice)
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint,
                                     ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
                                     ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Info.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
        lib.espeak_Info.restype = ctypes.c_char_p
        self.sample_rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 200, None,
            _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_PHONEME_IPA | _INITIALIZE_DONT_EXIT)
        if self.sample_rate <= 0:
            raise CorpusError(f"libespeak-ng failed to initialise (returned "
                              f"{self.sample_rate}); is its data (espeak-ng-data) installed? "
                              "Reinstall the Debian package espeak-ng")
        data = ctypes.c_char_p()
        self.version = (lib.espeak_Info(ctypes.byref(data)) or b"").decode()
        self.data_path = Path((data.value or b"").decode())
        self._lib = lib
        self._lock = threading.Lock()
        self._audio: List[np.ndarray] = []
        self._events: List[Tuple[int, str]] = []
        self._callback = _Callback(self._on_synth)  # kept referenced while the library holds it
        lib.espeak_SetSynthCallback(self._callback)

    def _on_synth(self, wav, num_samples, events) -> int:
        if num_samples > 0:
            self._audio.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type == _EVENT_PHONEME:
                name = ev.id.string.decode("utf-8", errors="ignore")
                self._events.append((int(ev.sample), name))
            i += 1
        return 0  # continue synthesis

    def variants(self) -> List[str]:
        """Names of the installed voice variants (``<lang>+<variant>``)."""
        d = self.data_path / "voices" / "!v"
        return sorted(p.name for p in d.iterdir()) if d.is_dir() else []

    def _set_voice(self, voice: str) -> None:
        lib = self._lib
        if lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
            raise ConfigError(f"espeak-ng voice '{voice}': unknown; list the voices of a "
                              "language with `espeak-ng --voices=<lang>`")
        _, _, variant = voice.partition("+")
        ident = (lib.espeak_GetCurrentVoice().contents.identifier or b"").decode()
        # espeak-ng falls back to the plain voice for an unknown variant without an error.
        if variant and not ident.endswith(f"+{variant}"):
            raise ConfigError(f"espeak-ng voice '{voice}': unknown variant '{variant}'; known: "
                              f"{' '.join(self.variants())}")

    def voice_languages(self, voice: str) -> List[str]:
        """The languages espeak-ng lists for ``voice`` (e.g. ``['es']`` for ``es+f2``)."""
        with self._lock:
            self._set_voice(voice)
            raw = self._lib.espeak_GetCurrentVoice().contents.languages or b""
        # A sequence of (priority byte, NUL-terminated name); ctypes stops at the first NUL.
        return [raw[1:].decode(errors="replace")] if raw else []

    def synthesize(self, text: str, voice: str, rate: int = DEFAULT_RATE,
                   pitch: int = DEFAULT_PITCH) -> Tuple[np.ndarray, List[Tuple[int, str]]]:
        """Read ``text`` with ``voice``.

        Args:
            text: the sentence (UTF-8).
            voice: espeak-ng voice, ``<lang>`` or ``<lang>+<variant>``.
            rate: words per minute; pitch: 0..99.

        Returns:
            ``(samples (N,) int16 at self.sample_rate, [(sample, ipa name), ...])``: one entry
            per phoneme event in order, ``sample`` counted in output samples.

        Raises:
            ConfigError: unknown voice or variant.
            CorpusError: espeak-ng reports an error.
        """
        with self._lock:
            self._set_voice(voice)
            self._lib.espeak_SetParameter(_PARAM_RATE, int(rate), 0)
            self._lib.espeak_SetParameter(_PARAM_PITCH, int(pitch), 0)
            self._audio, self._events = [], []
            data = text.encode("utf-8")
            rc = self._lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8,
                                        None, None)
            if rc != _EE_OK:
                raise CorpusError(f"espeak-ng failed (error {rc}) on '{text[:60]}' with voice "
                                  f"'{voice}'")
            audio = (np.concatenate(self._audio) if self._audio
                     else np.zeros(0, dtype=np.int16))
            return audio.astype(np.int16), list(self._events)


_ESPEAK: Optional[Espeak] = None


def get_espeak() -> Espeak:
    """The process's :class:`Espeak` (initialised on first use).

    Raises:
        CorpusError: libespeak-ng is missing (names the Debian package) or fails to start.
    """
    global _ESPEAK
    if _ESPEAK is None:
        _ESPEAK = Espeak()
    return _ESPEAK


def events_to_segments(events: Sequence[Tuple[int, str]], num_samples: int, sample_rate: int,
                       what: str = "") -> List[PhoneSegment]:
    """Phone segments at 16 kHz from espeak-ng's phoneme events.

    Each event starts a phone that lasts until the next event (the last one until the end of
    the audio); audio before the first event is ``sil``, as are events with an empty name.
    Zero-length segments are left out and neighbouring ``sil`` are merged.

    Args:
        events: ``(sample, name)`` in synthesis order, ``sample`` at ``sample_rate``.
        num_samples: length of the synthesised audio at ``sample_rate``.
        sample_rate: espeak-ng's output rate (22050).
        what: the utterance, for messages.

    Returns:
        Segments that tile ``[0, n16)``, ``n16`` the length of the audio resampled to 16 kHz.

    Raises:
        CorpusError: positions decrease or lie beyond the audio (a struct layout mismatch with
            the installed libespeak-ng, or a library bug).
    """
    n16 = -(-num_samples * TARGET_SR // sample_rate)  # resample_poly's output length (ceil)
    prev = 0
    for pos, name in events:
        if pos < prev or pos > num_samples:
            raise CorpusError(
                f"{what}: espeak-ng phoneme event '{name}' at sample {pos} is out of order or "
                f"beyond the audio ({num_samples} samples, previous event at {prev}); the "
                "installed libespeak-ng does not match the expected 1.51 event layout")
        prev = pos

    def to16(pos: int) -> int:
        return min(n16, int(round(pos * TARGET_SR / sample_rate)))

    bounds = [(0, SIL)] + [(to16(p), name.translate(_STRESS) or SIL) for p, name in events]
    segments: List[PhoneSegment] = []
    for i, (start, phone) in enumerate(bounds):
        end = bounds[i + 1][0] if i + 1 < len(bounds) else n16
        if end <= start:
            continue
        if segments and segments[-1].phone == SIL and phone == SIL:
            segments[-1] = PhoneSegment(segments[-1].start, end, SIL)
        else:
            segments.append(PhoneSegment(start, end, phone))
    return segments


def synthesize_utterance(text: str, voice: str, rate: int = DEFAULT_RATE,
                         pitch: int = DEFAULT_PITCH, what: str = ""
                         ) -> Tuple[np.ndarray, List[PhoneSegment]]:
    """One sentence as 16 kHz audio with its phone segments.

    Returns:
        ``(wav (N,) float32 at 16 kHz, segments tiling [0, N))``.

    Raises:
        ConfigError: unknown voice; CorpusError: libespeak-ng missing or failing, no audio.
    """
    espeak = get_espeak()
    what = what or f"'{text[:60]}' ({voice})"
    audio, events = espeak.synthesize(text, voice, rate, pitch)
    if audio.size == 0 or not events:
        raise CorpusError(f"{what}: espeak-ng produced no audio or no phones")
    wav = to_mono_16k(audio.astype(np.float32) / 32768.0, espeak.sample_rate)
    segments = events_to_segments(events, audio.size, espeak.sample_rate, what)
    assert segments[-1].end == wav.size, (segments[-1], wav.size)
    return wav, segments


def check_voices(voices: Sequence[str], lang: str) -> None:
    """Check that every voice exists; warn when one is not listed for ``lang``.

    Raises:
        CorpusError: libespeak-ng missing; ConfigError: unknown voice or variant.
    """
    espeak = get_espeak()
    for voice in voices:
        langs = espeak.voice_languages(voice)
        if not any(v == lang or v.startswith(f"{lang}-") for v in langs):
            logger.warning("espeak-ng voice '%s' is listed for %s, not for '%s'", voice,
                           langs or "no language", lang)


def select_sentences(text_file: PathLike, num_utts: int, seed: int) -> List[Tuple[str, str]]:
    """The first ``num_utts`` non-empty sentences of a Kaldi ``text`` file after a seeded shuffle.

    Args:
        text_file: ``utt transcript`` lines (e.g. ``data/test_nl/text``).
        num_utts: how many to take (all when there are fewer; logged).
        seed: seeds the shuffle of the utterance ids (sorted first, so file order does not
            matter).

    Returns:
        ``[(utt, transcript), ...]`` in shuffled order.

    Raises:
        DataDirError: the file is missing or malformed, or has no non-empty transcript.
    """
    text_file = Path(text_file)
    texts = read_kaldi_map(text_file, allow_empty_value=True)
    empty = [u for u, t in texts.items() if not t.strip()]
    if empty:
        logger.info("%s: skipped %d utterances with an empty transcript (e.g. '%s')", text_file,
                    len(empty), empty[0])
    utts = sorted(u for u, t in texts.items() if t.strip())
    if not utts:
        raise DataDirError(f"{text_file}: no utterance has a transcript; give a Kaldi text file "
                           "('utt transcript' lines)")
    utts = seeded_shuffle(utts, seed)
    if len(utts) < num_utts:
        logger.warning("%s: only %d non-empty transcripts, fewer than the %d asked for; using "
                       "all", text_file, len(utts), num_utts)
    return [(u, " ".join(texts[u].split())) for u in utts[:num_utts]]


def is_probe_set_complete(out_dir: PathLike) -> bool:
    """True if ``out_dir`` has its ``.done`` marker."""
    return (Path(out_dir) / DONE_FILE).is_file()


def prepare_probe_set(
    text_file: PathLike,
    out_dir: PathLike,
    lang: str,
    num_utts: int = 60,
    voices: Optional[Sequence[str]] = None,
    seed: int = 1,
    rate: int = DEFAULT_RATE,
    pitch: int = DEFAULT_PITCH,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Synthesise a probe set: sentences of ``text_file`` read by espeak-ng, with phone timings.

    Args:
        text_file: Kaldi ``text`` file of the language (e.g. ``data/test_nl/text``).
        out_dir: where the probe set goes (layout in the module docstring); may be shared by
            several upstreams.
        lang: ISO 639-1 code (utt2lang; default voice).
        num_utts: sentences to take (:func:`select_sentences`).
        voices: espeak-ng voices; each utterance gets one, drawn from ``Random(f"{seed}:{utt}")``.
            Default ``[lang]``.
        seed: seeds the sentence choice and the voice of each utterance.
        rate: words per minute; pitch: 0..99 (espeak-ng's defaults).
        force: rebuild even when ``.done`` records the same options.
        progress: tqdm bar over utterances.

    Returns:
        ``out_dir``.

    Raises:
        CorpusError: libespeak-ng missing or failing (names the utterance).
        ConfigError: unknown voice, ``num_utts < 2``.
        DataDirError: bad text file, or the written data dir fails validation.
    """
    from tqdm import tqdm

    text_file, out_dir = Path(text_file), Path(out_dir)
    voices = list(voices) if voices else [lang]
    if num_utts < 2:
        raise ConfigError(f"num_utts must be >= 2 (some to train the probe, some to test it), "
                          f"got {num_utts}")
    if not text_file.is_file():
        raise DataDirError(f"{text_file}: text file not found; give a Kaldi text file such as "
                           f"data/test_{lang}/text")
    espeak = get_espeak()
    check_voices(voices, lang)
    options = {
        "version": PROBE_SET_VERSION,
        "text_file": str(text_file.resolve()),
        "text_sha1": hashlib.sha1(text_file.read_bytes()).hexdigest(),
        "lang": lang, "num_utts": num_utts, "voices": voices, "seed": seed,
        "rate": rate, "pitch": pitch, "espeak": espeak.version,
    }
    if is_done(out_dir / DONE_FILE, options, force=force):
        logger.info("probe set %s is up to date; reusing it", out_dir)
        return out_dir
    if (out_dir / "wav").is_dir():
        shutil.rmtree(out_dir / "wav")  # files of other options would otherwise linger

    sentences = select_sentences(text_file, num_utts, seed)
    utts, ctm = [], []
    for src_utt, text in tqdm(sentences, desc=f"synthesise {lang}", unit="utt",
                              disable=not progress, mininterval=5.0):
        voice = item_random(seed, src_utt).choice(voices)
        spk = make_id("espeak", voice.replace("+", "-"))
        utt = make_id(spk, src_utt)
        wav, segments = synthesize_utterance(text, voice, rate, pitch,
                                             what=f"{text_file}: utterance '{src_utt}'")
        path = (out_dir / "wav" / f"{utt}.wav").resolve()
        write_wav_16k(path, wav)
        utts.append(Utterance(utt, spk, str(path), text, lang))
        ctm += [f"{utt} 1 {s.start / TARGET_SR:.5f} {(s.end - s.start) / TARGET_SR:.5f} "
                f"{s.phone}\n" for s in segments]
    write_data_dir(out_dir, utts, overwrite=True)
    # Segments of one utterance stay in time order; utterances sorted as in the data dir.
    by_utt: Dict[str, List[str]] = {}
    for line in ctm:
        by_utt.setdefault(line.split(" ", 1)[0], []).append(line)
    atomic_write_text(out_dir / "phones.ctm", "".join(l for u in sorted(by_utt)
                                                      for l in by_utt[u]))
    validate_data_dir(out_dir)
    mark_done(out_dir / DONE_FILE, options)
    logger.info("probe set %s: %d %s utterances, voices %s", out_dir, len(utts), lang,
                " ".join(voices))
    return out_dir


def read_phone_ctm(path: PathLike) -> Dict[str, List[PhoneSegment]]:
    """Read ``phones.ctm`` (``utt channel start dur phone``, seconds) as 16 kHz segments.

    Raises:
        DataDirError: a malformed line (names the file and line).
    """
    path = Path(path)
    out: Dict[str, List[PhoneSegment]] = {}
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        f = line.split()
        try:
            utt, start, dur, phone = f[0], float(f[2]), float(f[3]), f[4]
            if len(f) != 5:
                raise ValueError
        except (IndexError, ValueError):
            raise DataDirError(f"{path}:{no}: expected 'utt channel start dur phone', got "
                               f"{line!r}") from None
        s = int(round(start * TARGET_SR))
        out.setdefault(utt, []).append(PhoneSegment(s, s + int(round(dur * TARGET_SR)), phone))
    return out


def read_probe_set(out_dir: PathLike) -> List[Tuple[str, str, List[PhoneSegment]]]:
    """The utterances of a complete probe set: ``[(utt, wav path, segments), ...]`` by utt.

    Raises:
        DataDirError: incomplete probe set, or an utterance without phone segments.
    """
    out_dir = Path(out_dir)
    if not is_probe_set_complete(out_dir):
        raise DataDirError(f"{out_dir}: not a complete probe set (no .done); build it with "
                           "espnet_ext.analysis.phone_alignment.prepare_probe_set")
    wavs = read_kaldi_map(out_dir / "wav.scp")
    segs = read_phone_ctm(out_dir / "phones.ctm")
    missing = [u for u in wavs if u not in segs]
    if missing:
        raise DataDirError(f"{out_dir}/phones.ctm: utterance '{missing[0]}' has no phone "
                           "segments; rebuild the probe set with --force")
    return [(u, wavs[u], segs[u]) for u in sorted(wavs)]
