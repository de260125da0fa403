"""Probe sets: sentences read by espeak-ng, with the exact time of every phone it synthesised.

A linear phone probe needs frame-level phone labels. For Czech, Spanish and the other languages we
evaluate on we have no phone-level acoustic model, so CTC/HMM forced alignment of real speech is
not an option (and its labels would carry that model's errors and biases into the comparison).
A synthesiser knows exactly which phone it produces when, so synthetic speech comes with exact
labels, for any language espeak-ng has a voice for. The synthesis and the phoneme events are
:mod:`espnet_ext.text.espeak`'s (which says how phone names and pauses are derived).

Probe-set layout (``prepare_probe_set``)::

    <out_dir>/wav/<utt>.wav     16 kHz mono PCM16 (espeak-ng's 22.05 kHz, resampled)
    <out_dir>/{wav.scp,text,utt2spk,spk2utt,utt2lang}   a Kaldi data dir (speaker = voice)
    <out_dir>/phones.ctm        utt 1 start dur phone   (seconds; pauses are ``sil``)
    <out_dir>/.done             the options (JSON), written last; a rerun with the same reuses it

espeak-ng's output is not a pure function of one sentence (its pitch-flutter state carries over
from one sentence to the next), so a probe set is built in one pass, in a fixed order, and then
reused from disk; its ``.done`` options (not the audio bytes) define it.
"""

import hashlib
import logging
import shutil
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet_ext.data.audio import TARGET_SR, write_wav_16k
from espnet_ext.data.kaldi import Utterance, make_id, read_kaldi_map, write_data_dir
from espnet_ext.data.validate import validate_data_dir
from espnet_ext.errors import ConfigError, DataDirError
from espnet_ext.fileio import PathLike, atomic_write_text
from espnet_ext.steps import DONE_FILE, is_done, item_random, mark_done, seeded_shuffle
from espnet_ext.text.espeak import (
    DEFAULT_PITCH,
    DEFAULT_RATE,
    PhoneSegment,
    check_voice_languages,
    get_espeak,
    synthesize_utterance,
)
from espnet_ext.versioning import PROBE_SET

logger = logging.getLogger(__name__)

PROBE_SET_VERSION = PROBE_SET.current


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
    check_voice_languages(voices, lang)
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
                           "espnet_ext.analysis.probe_speech.prepare_probe_set")
    wavs = read_kaldi_map(out_dir / "wav.scp")
    segs = read_phone_ctm(out_dir / "phones.ctm")
    missing = [u for u in wavs if u not in segs]
    if missing:
        raise DataDirError(f"{out_dir}/phones.ctm: utterance '{missing[0]}' has no phone "
                           "segments; rebuild the probe set with --force")
    return [(u, wavs[u], segs[u]) for u in sorted(wavs)]
