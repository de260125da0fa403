"""Every call to espeak-ng: its command line, libespeak-ng through ctypes, voices, phoneme events.

Two interfaces, each where it is needed:

- **The ``espeak-ng`` program** (:func:`phonemize_lines`, :func:`synthesize_wav`,
  :func:`check_cli_voices`): text -> IPA phones (:mod:`espnet_ext.text.phonemes`) and speech
  for the synthetic pre-training set (:mod:`espnet_ext.data.corpora.synthetic`).
- **libespeak-ng** (:class:`Espeak`, :func:`synthesize_utterance`): speech with the exact time
  of every phone, for probe sets (:mod:`espnet_ext.analysis.probe_speech`) and per-phone
  durations (:mod:`espnet_ext.pretrain.text_data`). The program cannot report timings.

A synthesiser knows exactly which phone it produces when: libespeak-ng reports an
``espeakEVENT_PHONEME`` event (phone name in IPA, position in output samples) for every phone it
renders. It is called through ``ctypes`` (no Python binding is installed). The struct layouts
below are those of espeak-ng 1.51's ``speak_lib.h`` (the header itself is not installed); they are
checked on every utterance: phone positions must not decrease and must lie within the audio.

Phone names are espeak-ng's IPA with stress marks removed (they are not segments) and length
marks kept (Dutch vowel length is phonemic), the same for both interfaces. Events with an empty
IPA name become ``sil``: these are espeak-ng's pauses (between clauses, at the start and end, the
short ``_!`` before some words) and a few modifier phonemes that have no IPA symbol (Dutch ``!``,
Czech/Spanish ``;``; measured on 80 test sentences each: 0.5% of the Dutch and 0.2% of the Czech
audio). IPA mode cannot tell the two apart, and those segments are too few to matter. Zero-length
events (word-boundary markers) cover no audio and are left out.

espeak-ng's output is not a pure function of one sentence: its pitch-flutter state carries over
from one sentence to the next, so phone boundaries move by a few samples with what was read
before.

MBROLA voices (``mb-nl2`` ...) are not used: the ``mbrola`` binary and its voices are not
installable from this Debian release's archive; espeak-ng's own formant voices need only the
``espeak-ng`` package (``libespeak-ng1``).
"""

import ctypes
import ctypes.util
import logging
import re
import shutil
import struct
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from espnet_ext.data.audio import TARGET_SR, to_mono_16k
from espnet_ext.errors import ConfigError, CorpusError

logger = logging.getLogger(__name__)

ESPEAK = "espeak-ng"
LIB_NAMES = ("libespeak-ng.so.1", "espeak-ng")
SIL = "sil"
DEFAULT_RATE = 175  # espeak-ng's default speaking rate (words per minute)
DEFAULT_PITCH = 50  # espeak-ng's default pitch (0..99)
_STRESS = str.maketrans("", "", "ˈˌ'")
_INSTALL = ("install the Debian package espeak-ng (`apt-get install -y espeak-ng`, listed in "
            "tools/debian_packages.d/pretrain.txt)")


def strip_stress(ipa: str) -> str:
    """``ipa`` without stress marks."""
    return ipa.translate(_STRESS)


# ----------------------------------------------------------------------------- the program


def cli_available(espeak: str = ESPEAK) -> bool:
    """True if the ``espeak-ng`` program is on PATH."""
    return shutil.which(espeak) is not None


def cli_version(espeak: str = ESPEAK) -> str:
    """``espeak-ng --version`` (recorded in markers and provenance)."""
    out = subprocess.run([espeak, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip()


def parse_phone_line(line: str) -> List[str]:
    """Phones of one ``--ipa=1 --sep=_`` output line (stress marks dropped)."""
    # Phones joined by "_", words by spaces, stray "_" at word edges.
    return [p for word in strip_stress(line).split() for p in word.split("_") if p]


def phonemize_lines(sentences: Sequence[str], voice: str) -> List[str]:
    """One espeak-ng call for many one-clause lines: their IPA output lines, in order.

    Raises:
        subprocess.SubprocessError, OSError: espeak-ng fails.
        RuntimeError: the output line count does not match.
    """
    proc = subprocess.run([ESPEAK, "-q", "--ipa=1", "--sep=_", "-v", voice],
                          input="\n".join(sentences) + "\n", capture_output=True, text=True,
                          check=True, timeout=600)
    lines = proc.stdout.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != len(sentences):
        raise RuntimeError(f"espeak-ng returned {len(lines)} lines for {len(sentences)}")
    return lines


def check_cli_voices(voices: Sequence[str], espeak: str = ESPEAK) -> None:
    """Check that espeak-ng is installed and knows every ``lang[+variant]`` in ``voices``.

    espeak-ng silently falls back to its default voice for an unknown variant, so this is the
    only place a misspelt variant is caught.

    Raises:
        CorpusError: espeak-ng missing (names the package to install).
        ConfigError: an unknown language or variant (lists the valid variants).
    """
    if not cli_available(espeak):
        raise CorpusError(
            f"'{espeak}' not found; install it with `apt-get install -y espeak-ng` "
            "(listed in tools/debian_packages.d/pretrain.txt)"
        )
    listing = subprocess.run([espeak, "--voices=variant"], capture_output=True, text=True,
                             check=False).stdout
    variants = set(re.findall(r"!v/(\S+)", listing))
    for voice in voices:
        lang, _, variant = voice.partition("+")
        out = subprocess.run([espeak, f"--voices={lang}"], capture_output=True, text=True,
                             check=False).stdout
        if len(out.strip().splitlines()) < 2:
            raise ConfigError(f"espeak-ng voice '{voice}': no voice for language '{lang}'")
        if variant and variant not in variants:
            raise ConfigError(
                f"espeak-ng voice '{voice}': unknown variant '{variant}'; "
                f"known: {' '.join(sorted(variants))}"
            )


def parse_wav(data: bytes, what: str) -> Tuple[np.ndarray, int]:
    """Decode espeak-ng's streamed WAV (its header sizes are placeholders, so read the chunks)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise RuntimeError(f"{what}: espeak-ng did not produce WAV ({len(data)} bytes)")
    pos, sr, bits, channels = 12, None, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if cid == b"fmt ":
            _, channels, sr = struct.unpack("<HHI", data[pos + 8:pos + 16])
            bits = struct.unpack("<H", data[pos + 22:pos + 24])[0]
        elif cid == b"data":
            if sr is None or bits != 16:
                raise RuntimeError(f"{what}: unexpected WAV format (bits={bits})")
            pcm = data[pos + 8:pos + 8 + min(size, len(data) - pos - 8)]
            pcm = pcm[: len(pcm) // (2 * channels) * 2 * channels]
            samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
            return samples.reshape(-1, channels) if channels > 1 else samples, sr
        pos += 8 + size + (size & 1)
    raise RuntimeError(f"{what}: no data chunk in espeak-ng output")


def synthesize_wav(text: str, voice: str, rate: int, pitch: int, what: str,
                   espeak: str = ESPEAK) -> Tuple[np.ndarray, int]:
    """Read ``text`` with the espeak-ng program: ``(samples float32, sample rate)``.

    Raises:
        CorpusError: espeak-ng fails or writes nothing (the message starts with ``what``).
        RuntimeError: its output is not a 16-bit WAV.
    """
    proc = subprocess.run(
        [espeak, "-v", voice, "-s", str(rate), "-p", str(pitch), "-b", "1", "--stdout"],
        input=text.encode("utf-8"), capture_output=True, check=False,
    )
    if proc.returncode != 0 or not proc.stdout:
        raise CorpusError(
            f"{what}: espeak-ng failed (exit {proc.returncode}): "
            f"{proc.stderr.decode(errors='replace').strip()[-300:]}"
        )
    return parse_wav(proc.stdout, what)


# ----------------------------------------------------------------------------- libespeak-ng

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
            raise CorpusError(f"libespeak-ng not found (tried {', '.join(lib_names)}); "
                              f"{_INSTALL}")
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

    bounds = [(0, SIL)] + [(to16(p), strip_stress(name) or SIL) for p, name in events]
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


def check_voice_languages(voices: Sequence[str], lang: str) -> None:
    """Check that libespeak-ng knows every voice; warn when one is not listed for ``lang``.

    Raises:
        CorpusError: libespeak-ng missing; ConfigError: unknown voice or variant.
    """
    espeak = get_espeak()
    for voice in voices:
        langs = espeak.voice_languages(voice)
        if not any(v == lang or v.startswith(f"{lang}-") for v in langs):
            logger.warning("espeak-ng voice '%s' is listed for %s, not for '%s'", voice,
                           langs or "no language", lang)
