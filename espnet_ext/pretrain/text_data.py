"""Text-side data of the joint model, written into a speech data dir (stage 2).

For every utterance of ``data_dir``:

- ``phones``: phones of its own transcript (the paired loss; the pool's speech is all
  transcribed: real Dutch with its transcripts, synthetic speech with the sentence it says);
- ``unpaired_phones``: phones of a sentence of the text corpus that no utterance of the dir says
  (the masked-phone loss), assigned by a seeded shuffle, reused cyclically if the corpus is short.

and one phone token list (``<blank>``, ``<unk>``, then phones by frequency) shared by every
amount, so all joint runs and their twins have the same vocabulary; and (``mpc`` text arm) how
long espeak-ng says each phone, in 10 ms frames (:func:`measure_phone_durations`).
"""

import json
import logging
from pathlib import Path
from typing import List, Optional

from espnet_ext.data.kaldi import read_kaldi_map, write_kaldi_map
from espnet_ext.errors import DataDirError
from espnet_ext.fileio import PathLike, atomic_write_text
from espnet_ext.pretrain.joint import BLANK, UNK
from espnet_ext.steps import is_done, mark_done, seeded_shuffle
from espnet_ext.text.normalize import normalize_text
from espnet_ext.text.phonemes import phone_inventory, phonemize

logger = logging.getLogger(__name__)


def prepare_phone_data(data_dir: PathLike, corpus: PathLike, lang: str = "nl",
                       mode: str = "ipa", seed: int = 1,
                       token_list: Optional[PathLike] = None) -> Path:
    """Write ``phones`` and ``unpaired_phones`` into ``data_dir`` (and ``token_list`` if given).

    Raises:
        DataDirError: no transcripts, or no corpus sentence left after excluding them.
    """
    data_dir, corpus = Path(data_dir), Path(corpus)
    done = data_dir / ".phones.done"
    options = {"corpus": str(corpus.resolve()), "lang": lang, "mode": mode, "seed": seed,
               "text_mtime": (data_dir / "text").stat().st_mtime_ns,
               "corpus_mtime": corpus.stat().st_mtime_ns,
               "token_list": str(token_list) if token_list else None}
    if is_done(done, options):
        logger.info("%s: phones are up to date", data_dir)
        return data_dir
    texts = read_kaldi_map(data_dir / "text", allow_empty_value=True)
    if not texts:
        raise DataDirError(f"{data_dir}/text: no transcripts to phonemise")
    utts = sorted(texts)
    said = {normalize_text(t, lang) for t in texts.values()}
    sentences = [s for s in corpus.read_text(encoding="utf-8").splitlines()
                 if s.strip() and normalize_text(s, lang) not in said]
    if not sentences:
        raise DataDirError(f"{corpus}: no sentence left that {data_dir} does not already say")
    sentences = seeded_shuffle(sentences, seed)
    # Only as many corpus sentences as utterances are needed (phonemising is the slow part).
    chosen = [sentences[i % len(sentences)] for i in range(len(utts))]
    paired = phonemize([texts[u] for u in utts], lang, mode)
    unpaired = phonemize(chosen, lang, mode)
    empty = [u for u, p in zip(utts, paired) if not p]
    if empty:
        logger.warning("%s: %d transcripts give no phones (e.g. %s); their paired loss is "
                       "empty", data_dir, len(empty), empty[0])
    # phonemize already fell back to graphemes where espeak-ng gave nothing; what is still empty
    # normalised to nothing and would be an empty masked-phone example.
    unpaired = [p or [UNK] for p in unpaired]
    write_kaldi_map(data_dir / "phones", {u: " ".join(p) for u, p in zip(utts, paired)})
    write_kaldi_map(data_dir / "unpaired_phones", {u: " ".join(p) for u, p in zip(utts, unpaired)})
    if token_list is not None:
        counts = phone_inventory(paired + unpaired)
        tokens: List[str] = [BLANK, UNK] + sorted(counts, key=lambda p: (-counts[p], p))
        atomic_write_text(Path(token_list), "\n".join(tokens) + "\n")
        logger.info("%s: %d phone tokens", token_list, len(tokens))
    mark_done(done, options)
    logger.info("%s: phones for %d utterances, unpaired text from %d corpus sentences",
                data_dir, len(utts), len(set(chosen)))
    return data_dir


# Enough timed phones for a stable per-phone distribution, without synthesising the corpus.
DURATION_SENTENCES = 200
MAX_DURATIONS_PER_PHONE = 200


def measure_phone_durations(corpus: PathLike, out: PathLike, lang: str = "nl", seed: int = 1,
                            num_sentences: int = DURATION_SENTENCES,
                            frame_samples: int = 160) -> Path:
    """Write ``{phone: [frames, ...]}`` (JSON) measured from espeak-ng's phoneme events.

    ``num_sentences`` corpus sentences (a seeded shuffle) are synthesised with the ``lang`` voice
    (audio discarded); every phone's duration is its event span in ``frame_samples`` frames
    (at least 1), pauses left out, at most :data:`MAX_DURATIONS_PER_PHONE` per phone. Phone
    names are those of :func:`espnet_ext.text.phonemes.phonemize` (IPA, stress removed), so the
    table and the phone token list speak the same units. Idempotent (options in a marker).

    Raises:
        DataDirError: no sentence gave a timed phone.
    """
    from espnet_ext.text.espeak import SIL, synthesize_utterance

    corpus, out = Path(corpus), Path(out)
    done = out.with_name(out.name + ".done")
    options = {"corpus": str(corpus.resolve()), "corpus_mtime": corpus.stat().st_mtime_ns,
               "lang": lang, "seed": seed, "num_sentences": num_sentences,
               "frame_samples": frame_samples}
    if is_done(done, options, outputs=[out]):
        logger.info("%s: phone durations are up to date", out)
        return out
    sentences = [s for s in corpus.read_text(encoding="utf-8").splitlines() if s.strip()]
    sentences = seeded_shuffle(sentences, seed)
    durations: dict = {}
    for sentence in sentences[:num_sentences]:
        _, segments = synthesize_utterance(normalize_text(sentence, lang), lang)
        for seg in segments:
            if seg.phone != SIL:
                frames = max(1, round((seg.end - seg.start) / frame_samples))
                durations.setdefault(seg.phone, []).append(frames)
    if not durations:
        raise DataDirError(f"{corpus}: espeak-ng ({lang}) timed no phone in "
                           f"{min(num_sentences, len(sentences))} sentences")
    table = {p: ds[:MAX_DURATIONS_PER_PHONE] for p, ds in sorted(durations.items())}
    atomic_write_text(out, json.dumps(table, ensure_ascii=False) + "\n")
    mark_done(done, options)
    mean = sum(sum(ds) for ds in table.values()) / sum(len(ds) for ds in table.values())
    logger.info("%s: durations of %d phones from %d sentences (mean %.1f frames)", out,
                len(table), min(num_sentences, len(sentences)), mean)
    return out
