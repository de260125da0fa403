"""Synthetic pre-training speech: sentences of a text corpus read by espeak-ng voice variants.

Each sentence (one per line of the text file, taken in file order) is read by one espeak-ng
voice variant (``nl+m3``, ``nl+f2``, ``nl+klatt`` ...; each variant is one speaker) at a speaking
rate and pitch drawn from a random generator seeded by ``(seed, line index)``. Sentences are
synthesised until the requested number of hours is reached, so the utterances of a smaller amount
are a prefix of those of a larger one (same seed and text): 0.5 h is a subset of 1 h, and
:func:`espnet_ext.data.subset.subset_by_hours` cuts that prefix from an existing data dir without synthesising.

MBROLA voices (``mb-nl2`` ...) are not used: the ``mbrola`` binary and its Dutch voices are not
installable from this Debian release's archive, and espeak-ng's own formant voices need nothing
but the ``espeak-ng`` package.

Audio is written as 16 kHz mono 16-bit WAV (espeak-ng produces 22.05 kHz). A file's name encodes
everything that determines its samples (sentence index, voice, rate, pitch, text hash), so a
rerun reuses existing files safely and only synthesises what is missing.
"""

import hashlib
import logging
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import soundfile as sf

from espnet_ext.data.audio import TARGET_SR, to_mono_16k, write_wav_16k
from espnet_ext.data.kaldi import Utterance, make_id, write_data_dir, write_kaldi_map
from espnet_ext.data.validate import validate_data_dir
from espnet_ext.errors import ConfigError, CorpusError
from espnet_ext.fileio import PathLike, atomic_write_text
from espnet_ext.steps import DONE_FILE, is_done, item_random, mark_done
from espnet_ext.text import espeak

logger = logging.getLogger(__name__)

# espeak-ng variants (``espeak-ng --voices=variant``) that sound like different adult speakers;
# novelty variants (whisper, robots, "Demonic") are left out. m* male, f* female, klatt* use
# the Klatt synthesiser (a different voice source).
DEFAULT_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
                    "klatt", "klatt2", "klatt3")
# espeak-ng's -s is words per minute (default 175), -p pitch 0..99 (default 50).
DEFAULT_RATE_RANGE = (140, 200)
DEFAULT_PITCH_RANGE = (30, 70)


def default_voices(lang: str = "nl") -> List[str]:
    """``<lang>+<variant>`` for each of :data:`DEFAULT_VARIANTS`."""
    return [f"{lang}+{v}" for v in DEFAULT_VARIANTS]


@dataclass(frozen=True)
class SynthJob:
    """One sentence to synthesise."""

    index: int  # line index in the text file (0-based)
    utt_id: str
    spk_id: str
    voice: str
    rate: int
    pitch: int
    text: str
    wav_path: str


def _synthesize(job: SynthJob) -> float:
    """Synthesise one job to its 16 kHz WAV; returns its duration in seconds."""
    what = f"utterance '{job.utt_id}' (voice {job.voice}, text '{job.text[:60]}')"
    samples, sr = espeak.synthesize_wav(job.text, job.voice, job.rate, job.pitch, what)
    mono = to_mono_16k(samples, sr)
    if mono.size == 0:
        raise CorpusError(f"{what}: espeak-ng produced no samples")
    Path(job.wav_path).parent.mkdir(parents=True, exist_ok=True)
    write_wav_16k(job.wav_path, mono)
    return mono.size / TARGET_SR


def _existing_duration(path: str) -> Optional[float]:
    """Duration of a complete existing WAV (writes are atomic, so readable means complete)."""
    p = Path(path)
    if not p.is_file():
        return None
    try:
        info = sf.info(str(p))
    except Exception:  # noqa: BLE001 - unreadable: synthesise again
        return None
    if info.samplerate != TARGET_SR or info.frames == 0:
        return None
    return info.frames / info.samplerate


def _run_job(job: SynthJob) -> float:
    seconds = _existing_duration(job.wav_path)
    return seconds if seconds is not None else _synthesize(job)


def _read_sentences(text_file: Path) -> List[Tuple[int, str]]:
    if not text_file.is_file():
        raise CorpusError(
            f"{text_file}: text file not found; build it first "
            "(`python -m espnet_ext.bin.prepare_pretrain_data --text_out ...`)"
        )
    lines = text_file.read_text(encoding="utf-8").splitlines()
    out = [(i, " ".join(line.split())) for i, line in enumerate(lines) if line.strip()]
    if len(out) < len(lines):
        logger.info("%s: skipped %d empty lines", text_file, len(lines) - len(out))
    return out


def make_jobs(
    sentences: Sequence[Tuple[int, str]], audio_dir: Path, lang: str, voices: Sequence[str],
    seed: int, rate_range: Tuple[int, int], pitch_range: Tuple[int, int],
) -> Iterator[SynthJob]:
    """The synthesis job of each sentence, in text order; each depends only on its own line."""
    for index, text in sentences:
        # A generator per line: a job never depends on how many others there are (prefixes).
        rng = item_random(seed, index)
        voice = rng.choice(list(voices))
        rate = rng.randint(*rate_range)
        pitch = rng.randint(*pitch_range)
        spk_id = make_id("espeak", voice.replace("+", "-"))
        utt_id = make_id(spk_id, f"{index:07d}")
        digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
        name = f"{utt_id}_s{rate}_p{pitch}_{digest}.wav"
        yield SynthJob(index, utt_id, spk_id, voice, rate, pitch, text,
                       str((audio_dir / spk_id / name).resolve()))


def _progress(total: float):
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=round(total), unit="s", desc="synthesised audio", disable=None)


def prepare_synthetic_speech(
    text_file: PathLike,
    out_dir: PathLike,
    audio_dir: PathLike,
    lang: str = "nl",
    hours: float = 1.0,
    voices: Optional[Sequence[str]] = None,
    seed: int = 0,
    nj: int = 2,
    rate_range: Tuple[int, int] = DEFAULT_RATE_RANGE,
    pitch_range: Tuple[int, int] = DEFAULT_PITCH_RANGE,
    force: bool = False,
) -> Dict[str, Path]:
    """Synthesise ``hours`` of speech from ``text_file`` and write it as a Kaldi data dir.

    Args:
        text_file: one sentence per line (e.g. from ``build_text_corpus``), read in order.
        out_dir: the data dir to write (wav.scp, text, utt2spk, spk2utt, utt2lang, utt2dur,
            utt2idx = line index in ``text_file``, provenance.txt, .done).
        audio_dir: where the WAV files go
            (``<audio_dir>/<speaker>/<utt>_s<rate>_p<pitch>_<text hash>.wav``).
        lang: ISO 639-1 code written to utt2lang; also the espeak-ng language of the defaults.
        hours: stop at the shortest prefix of the sentences whose audio lasts at least this long.
        voices: espeak-ng ``lang+variant`` names, one speaker each; default
            :func:`default_voices` ``(lang)``.
        seed: seeds the per-sentence choice of voice, rate and pitch.
        nj: synthesis processes.
        rate_range: inclusive range of espeak-ng ``-s`` (words per minute).
        pitch_range: inclusive range of espeak-ng ``-p`` (0..99).
        force: redo even if ``.done`` records the same options (existing WAVs are still reused).

    Returns:
        ``{"all": out_dir}``.

    Raises:
        CorpusError: espeak-ng missing or failing (names the utterance), text file missing, or the
            text too short for ``hours`` (says how many hours it gave).
        ConfigError: an unknown voice, a bad range or ``hours <= 0``.
        DataDirError: the written data dir fails validation.
    """
    text_file, out_dir, audio_dir = Path(text_file), Path(out_dir), Path(audio_dir)
    voices = list(voices) if voices else default_voices(lang)
    if hours <= 0:
        raise ConfigError(f"hours must be > 0, got {hours}")
    if not (rate_range[0] <= rate_range[1] and 0 <= pitch_range[0] <= pitch_range[1] <= 99):
        raise ConfigError(f"bad rate_range {rate_range} or pitch_range {pitch_range} (0..99)")
    espeak.check_cli_voices(voices)
    if not text_file.is_file():
        _read_sentences(text_file)  # raises naming the file
    options = {
        "text_file": str(text_file.resolve()),
        "text_sha1": hashlib.sha1(text_file.read_bytes()).hexdigest(),
        "audio_dir": str(audio_dir.resolve()), "lang": lang, "hours": hours, "voices": voices,
        "seed": seed, "rate_range": list(rate_range), "pitch_range": list(pitch_range),
        "espeak": espeak.cli_version(),
    }
    done = out_dir / DONE_FILE
    if is_done(done, options, force=force):
        logger.info("%s is up to date; use --force to redo", out_dir)
        return {"all": out_dir}

    sentences = _read_sentences(text_file)
    jobs = list(make_jobs(sentences, audio_dir, lang, voices, seed, rate_range, pitch_range))
    target = hours * 3600.0
    chosen: List[Tuple[SynthJob, float]] = []
    total = 0.0
    batch = max(32, 16 * nj)
    bar = _progress(target)
    pool = ProcessPoolExecutor(max_workers=nj) if nj > 1 else None
    try:
        for start in range(0, len(jobs), batch):
            chunk = jobs[start:start + batch]
            durations = list(pool.map(_run_job, chunk)) if pool else [_run_job(j) for j in chunk]
            for job, seconds in zip(chunk, durations):
                if total < target:  # the rest of the last batch stays on disk for larger sets
                    chosen.append((job, seconds))
                    total += seconds
                    if bar is not None:
                        bar.update(min(seconds, max(0.0, target - bar.n)))
            if total >= target:
                break
            if bar is None or bar.disable:
                logger.info("synthesised %.0f of %.0f s (%d utterances)", total, target,
                            len(chosen))
    finally:
        if pool is not None:
            pool.shutdown()
        if bar is not None:
            bar.close()
    if total < target:
        raise CorpusError(
            f"{text_file}: its {len(jobs)} sentences give only {total / 3600:.3f} h of speech, "
            f"less than the {hours} h asked for; lower the hours or give a larger text file"
        )

    # espeak-ng read the sentence as written (punctuation shapes its prosody); the transcript
    # is the normalised form every other data dir of the project uses.
    from espnet_ext.text.normalize import normalize_text

    utts = []
    for j, _ in chosen:
        transcript = normalize_text(j.text, lang)
        if not transcript:
            raise CorpusError(
                f"{text_file}:{j.index + 1}: sentence '{j.text}' is empty after normalisation; "
                "remove the line"
            )
        utts.append(Utterance(j.utt_id, j.spk_id, j.wav_path, transcript, lang))
    write_data_dir(out_dir, utts, overwrite=True)
    write_kaldi_map(out_dir / "utt2dur", {j.utt_id: f"{s:.3f}" for j, s in chosen})
    write_kaldi_map(out_dir / "utt2idx", {j.utt_id: str(j.index) for j, _ in chosen})
    n_spk = len({j.spk_id for j, _ in chosen})
    atomic_write_text(out_dir / "provenance.txt", "\n".join([
        f"# {out_dir}: {len(chosen)} synthetic {lang} utterances, {total / 3600:.3f} h, "
        f"{n_spk} espeak-ng voices",
        f"synthesiser\t{options['espeak']} (Debian package espeak-ng, GPL-3+)",
        f"text\t{text_file} (sha1 {options['text_sha1']}; its provenance.txt names the sources), "
        f"lines 0..{chosen[-1][0].index}",
        f"voices\t{' '.join(voices)}",
        f"rate_wpm\t{rate_range[0]}..{rate_range[1]}",
        f"pitch\t{pitch_range[0]}..{pitch_range[1]}",
        f"seed\t{seed} (voice, rate and pitch of line i are drawn from Random('{seed}:i'))",
        "audio\t16 kHz mono PCM16 WAV, resampled from espeak-ng's 22.05 kHz",
        "note\tMBROLA voices are not used: mbrola and its Dutch voices are not in this "
        "Debian release's archive",
    ]) + "\n")
    validate_data_dir(out_dir)
    mark_done(done, options)
    logger.info("wrote %s: %d utterances, %.3f h, %d speakers", out_dir, len(chosen),
                total / 3600, n_spk)
    return {"all": out_dir}
