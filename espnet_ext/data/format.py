"""Copy a user's data dir into one the recipe can train on: 16 kHz mono WAV files, no segments.

The validator points here when audio has another sample rate or channel count. The source dir is
only read; the new dir gets its own audio files (segments cut out, pipes run), so nothing the user
made is changed.
"""

import logging
from pathlib import Path
from typing import Dict

from tqdm import tqdm

from espnet_ext.data.audio import TARGET_SR, read_audio, to_mono_16k, write_wav_16k
from espnet_ext.data.kaldi import Utterance, make_id, read_kaldi_map, write_data_dir
from espnet_ext.data.validate import validate_data_dir
from espnet_ext.errors import DataDirError
from espnet_ext.fileio import PathLike

logger = logging.getLogger(__name__)


def format_data_dir(src: PathLike, dst: PathLike, audio_dir: PathLike = None,
                    lang: str = "") -> Path:
    """Write ``dst``: the utterances of ``src`` with 16 kHz mono PCM16 WAV audio.

    Args:
        src: Kaldi data dir (wav.scp with paths or ``cmd |`` pipes; optional segments,
            utt2lang).
        dst: new data dir (must not exist as a data dir).
        audio_dir: where the WAV files go (default ``dst/wav``).
        lang: language for utt2lang when ``src`` has none.

    Returns:
        ``dst``, validated.

    Raises:
        DataDirError: an utterance's audio cannot be read or is empty (named), or ``src`` is
            malformed.
    """
    src, dst = Path(src), Path(dst)
    audio_dir = Path(audio_dir) if audio_dir else dst / "wav"
    wavs = read_kaldi_map(src / "wav.scp")
    text = read_kaldi_map(src / "text")
    utt2spk = read_kaldi_map(src / "utt2spk")
    utt2lang = read_kaldi_map(src / "utt2lang") if (src / "utt2lang").is_file() else {}
    segments: Dict[str, tuple] = {}
    if (src / "segments").is_file():
        for utt, rest in read_kaldi_map(src / "segments").items():
            rec, start, end = rest.split()[:3]
            segments[utt] = (rec, float(start), float(end))
    else:
        segments = {utt: (utt, 0.0, None) for utt in wavs}

    cache: Dict[str, tuple] = {}
    utts = []
    for utt, (rec, start, end) in tqdm(sorted(segments.items()), desc=f"format {src.name}",
                                       unit="utt", mininterval=5):
        if rec not in cache:
            cache.clear()  # keep one decoded recording: sorted segments mostly follow theirs
            try:
                data, sr = read_audio(wavs[rec])
            except Exception as e:  # noqa: BLE001 - re-raised naming the utterance
                raise DataDirError(
                    f"{src / 'wav.scp'}: utterance '{rec}': cannot read audio '{wavs[rec]}': {e}"
                ) from None
            cache[rec] = (to_mono_16k(data, sr), sr)
        audio, _ = cache[rec]
        piece = audio[int(start * TARGET_SR): None if end is None else int(end * TARGET_SR)]
        if len(piece) == 0:
            raise DataDirError(f"{src}: utterance '{utt}': no audio samples (check segments)")
        wav = audio_dir / f"{make_id(utt)}.wav"
        write_wav_16k(wav, piece)
        utts.append(Utterance(utt, utt2spk[utt], str(wav.resolve()), text[utt],
                              utt2lang.get(utt, lang)))
    write_data_dir(dst, utts)
    if not any(u.language for u in utts):
        (dst / "utt2lang").unlink()
    validate_data_dir(dst)
    logger.info("formatted %s -> %s (%d utterances)", src, dst, len(utts))
    return dst
