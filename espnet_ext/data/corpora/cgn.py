"""CGN, the Corpus Gesproken Nederlands (Spoken Dutch Corpus, release 2.0.x).

CGN is licensed by the Dutch Language Institute (IVDNT, formerly TST-Centrale) and is never
downloaded: ``root`` is a local copy of the release. Input layout (the one Kaldi's
``egs/cgn/s5`` reads)::

    <root>/data/audio/wav/comp-<c>/<region>/<rec>.wav            # c in a-o; region nl or vl
    <root>/data/annot/text/ort/comp-<c>/<region>/<rec>.ort.gz    # orthographic transcript
    <root>/data/meta/text/speakers.txt                           # tab-separated, header row

``<region>`` is ``vl`` (Flanders, the default) or ``nl`` (the Netherlands). An ``.ort.gz`` file
is a gzipped Praat TextGrid ("ooTextFile short"; the long text format is read too) in
ISO-8859-1, with one IntervalTier per speaker named by the speaker id (``N01234``,
``V40012``) plus annotation tiers (``BACKGROUND``, ``COMMENT``) that are not speech. An
uncompressed ``.ort`` is accepted as well.

Each non-empty interval of a speaker tier (a "chunk" of about 2-3 s) becomes one utterance: its
audio is cut from the recording into its own 16 kHz mono WAV ``<audio_dir>/<utt>.wav``
(atomically; a rerun keeps segments already cut), because the data dirs of this project hold
one file per utterance (``validate.py`` accepts a ``segments`` file, but ``read_data_dir``,
subsets and feature extraction do not). Speaker: ``cgn_<tier name>``; utterance id
``<spk>_<rec>_<start in ms, 8 digits>``, so ids sort by speaker, then recording and time.

Text: CGN's orthographic conventions are resolved by :func:`clean_cgn_text` (rules there), then
``normalize_text(text, lang)`` does the rest (case, punctuation, Dutch clitics). ``text.ort``
keeps each kept chunk's transcript exactly as CGN wrote it.

Skipped, by reason (``skipped.txt``, ``skipped.json`` and PROVENANCE.md of the data dir):
``unreadable_annotation`` (not gzip, not a TextGrid), ``no_audio`` / ``no_transcript`` (an
``.ort.gz`` without its ``.wav`` or the reverse), ``unreadable_audio``, ``unknown_tier`` (a tier
that is neither a speaker id nor BACKGROUND/COMMENT), ``bad_interval`` (end <= start),
``interval_out_of_order`` (starts before the previous interval of its tier ended),
``past_audio_end``, ``unintelligible`` (``xxx``), ``no_speech`` (only ``ggg`` or punctuation),
``too_short`` / ``too_long``, ``overlapping_speech`` (another speaker talks at the same time),
``duplicate_interval``, ``over_max_hours`` and ``empty_after_normalization``. Empty intervals
(silence between chunks) are not utterances; PROVENANCE.md counts them.

Splits: :func:`split_by_speaker` deals whole speakers to train/dev/test (seeded, by duration),
and :func:`write_text_corpus` writes the train transcripts as the joint model's text corpus.

The preparer is here; the rest by concern: :mod:`~espnet_ext.data.corpora.cgn_annotation`
(orthographic conventions, TextGrid ``.ort`` files), :mod:`~espnet_ext.data.corpora.cgn_layout`
(release layout, speakers), :mod:`~espnet_ext.data.corpora.cgn_segments` (which chunks become
utterances), :mod:`~espnet_ext.data.corpora.cgn_audio` (cutting them),
:mod:`~espnet_ext.data.corpora.cgn_splits` (speaker splits, text corpus) and
:mod:`~espnet_ext.data.corpora.cgn_recipe` (the data dirs of the CGN study recipe).
"""

import logging
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import soundfile as sf

from espnet_ext.data.corpora.cgn_annotation import read_ort
from espnet_ext.data.corpora.cgn_audio import cut_segments
from espnet_ext.data.corpora.cgn_layout import (
    LICENSE, SPEAKERS_FILE, check_layout, check_options, find_recordings, read_release,
    read_speakers, speaker_gender,
)
from espnet_ext.data.corpora.cgn_segments import Segment, cap_hours, recording_segments
from espnet_ext.data.corpora.cgn_splits import split_by_speaker, write_text_corpus
from espnet_ext.data.corpora.items import SkipLog
from espnet_ext.data.corpora.provenance import SourceInfo
from espnet_ext.data.corpora.source_dir import write_source_dir
from espnet_ext.data.kaldi import read_data_dir, read_kaldi_map, write_kaldi_map
from espnet_ext.errors import ConfigError, CorpusError
from espnet_ext.fileio import PathLike

logger = logging.getLogger(__name__)


def corpus_name(regions: Sequence[str]) -> str:
    """``cgn_<regions>``: ``cgn_vl``, ``cgn_nl``, ``cgn_nl_vl``."""
    return "_".join(["cgn"] + sorted(set(regions)))


def prepare_cgn(
    root: PathLike,
    out_dir: PathLike,
    lang: str = "nl",
    regions: Sequence[str] = ("vl",),
    components: Optional[Sequence[str]] = None,
    min_seconds: float = 0.5,
    max_seconds: float = 20.0,
    max_hours: Optional[float] = None,
    dev_ratio: float = 0.1,
    test_ratio: float = 0.1,
    drop_overlaps: bool = True,
    drop_filled_pauses: bool = False,
    audio_dir: Optional[PathLike] = None,
    nj: int = 2,
    seed: int = 1,
) -> Dict[str, Path]:
    """Prepare CGN chunks as Kaldi data dirs, a speaker-disjoint split and a text corpus.

    Writes, with ``<name>`` = :func:`corpus_name` (``cgn_vl`` by default)::

        <out_dir>/<name>/                      # every kept chunk; text, text.orig, text.ort,
                                               # utt2dur, spk2gender, skipped.*, PROVENANCE.md
        <out_dir>/<name>_{train,dev,test}/     # split by speaker
        <out_dir>/<name>_text/sentences.txt    # train transcripts, one per line
        <audio_dir>/<utt>.wav                  # the cut chunks (default <out_dir>/audio/<name>)

    Args:
        root: the CGN release (the directory holding ``data/``).
        out_dir: where the data dirs go.
        lang: language code of the text normaliser and ``utt2lang`` (both regions are "nl").
        regions: ``vl`` (Flemish), ``nl`` (Netherlands Dutch), or both.
        components: component letters a-o (``comp-o`` also accepted); None: all present.
        min_seconds, max_seconds: chunks outside this duration range are skipped.
        max_hours: keep at most this much (seeded choice of recordings); None: all.
        dev_ratio, test_ratio: shares of the duration held out, by speaker.
        drop_overlaps: skip chunks overlapping another speaker's speech.
        drop_filled_pauses: remove uh/uhm/mm... from transcripts (kept by default).
        audio_dir: where the chunks are cut to (reused by reruns).
        nj: processes cutting audio.
        seed: seeds ``max_hours`` and the speaker split.

    Returns:
        ``{"all": <name>, "train": ..., "dev": ..., "test": ..., "text": sentences.txt}``.

    Raises:
        CorpusError: the layout is not CGN's (names what is missing), or nothing usable is left.
        ConfigError: bad regions, components, durations or ratios.
        DataDirError: a written dir fails validation (a bug, named by the validator).
    """
    if not 0 < min_seconds < max_seconds:
        raise ConfigError(f"need 0 < min_seconds < max_seconds, got {min_seconds}, "
                          f"{max_seconds}")
    root = check_layout(root, regions, components)
    regions, comps = check_options(regions, components)
    name = corpus_name(regions)
    out_dir = Path(out_dir)
    audio = Path(audio_dir if audio_dir is not None else out_dir / "audio" / name).resolve()
    skips = SkipLog(name)
    speakers = read_speakers(root)
    recs = find_recordings(root, regions, comps, skips)
    logger.info("%s: %d recordings in %s (regions %s, components %s)", name, len(recs), root,
                regions, comps or "all")

    stats: Counter = Counter()
    by_rec: Dict[str, List[Segment]] = {}
    wavs: Dict[str, Path] = {}
    for rec in recs:
        try:
            tiers = read_ort(rec.ort)
        except CorpusError as e:
            logger.warning("%s; skipped", e)
            skips.add("unreadable_annotation", rec.key)
            continue
        try:
            info = sf.info(str(rec.wav))
            seconds = info.frames / info.samplerate
        except Exception as e:  # noqa: BLE001 - any unreadable file is skipped, named
            logger.warning("%s: cannot read the audio (%s); skipped", rec.wav, e)
            skips.add("unreadable_audio", rec.key)
            continue
        segs = recording_segments(rec, tiers, seconds, skips, stats, min_seconds, max_seconds,
                                  drop_overlaps, drop_filled_pauses, set(speakers))
        if segs:
            by_rec[rec.key] = segs
            wavs[rec.key] = rec.wav
    by_rec = cap_hours(by_rec, max_hours, seed, skips)
    items = cut_segments(by_rec, wavs, audio, skips, nj=nj)

    used_comps = sorted({k.split("/")[0] for k in by_rec})
    spks = sorted({it.spk_id for it in items})
    unknown_spk = [s for s in spks if s[len("cgn_"):] not in speakers]
    info = SourceInfo(
        title=f"Corpus Gesproken Nederlands (CGN), regions {'+'.join(regions)} "
              f"(source: {name})",
        packages=[],
        license=LICENSE,
        license_file="",  # the licence is the agreement signed with the IVDNT, not a file
        skipped_listing="`skipped.txt` of this data dir",
        source=f"CGN release {read_release(root)}, read from `{root.resolve()}` (licensed; "
               "never downloaded or redistributed)",
        notes=[
            f"Regions: {', '.join(regions)}; components: {', '.join(used_comps) or 'none'} "
            f"(requested: {', '.join(comps) if comps else 'all present'}); "
            f"{len(by_rec)} of {len(recs)} paired recordings used.",
            f"Chunks: one per non-empty speaker-tier interval of the .ort TextGrids, "
            f"{min_seconds}-{max_seconds} s, cut to 16 kHz mono WAV in `{audio}`; "
            f"overlapping speech {'dropped' if drop_overlaps else 'kept'}; max_hours "
            f"{max_hours} (seed {seed}).",
            f"Ignored (not speech): {stats['empty_intervals']} empty intervals, "
            f"{stats['ignored_tiers']} BACKGROUND/COMMENT tiers.",
            "Text: CGN codes resolved (word codes *a *d *n *t *u *v *x *z removed, the word "
            "kept; ggg removed; chunks with xxx skipped; filled pauses "
            f"{'removed' if drop_filled_pauses else 'kept'}), then normalize_text('{lang}'); "
            "text.ort holds the transcripts as written in CGN.",
            f"Speakers: {len(spks)}" + (f", {len(unknown_spk)} not in {SPEAKERS_FILE}"
                                        if speakers else f" ({SPEAKERS_FILE} not found)") + ".",
        ],
    )
    all_dir = write_source_dir(items, skips, out_dir / name, lang, audio, info, nj=nj,
                               link_ok=True)
    kept = {u.utt_id for u in read_data_dir(all_dir)}
    raw = {s.utt_id: s.raw_text for segs in by_rec.values() for s in segs if s.utt_id in kept}
    write_kaldi_map(all_dir / "text.ort", raw)
    genders = {s: speaker_gender(speakers.get(s[len("cgn_"):], {})) for s in
               set(read_kaldi_map(all_dir / "utt2spk").values())}
    gender_file = all_dir / "spk2gender"
    if speakers and all(genders.values()):  # Kaldi wants every speaker listed, or no file
        write_kaldi_map(gender_file, genders)
    elif gender_file.exists():
        gender_file.unlink()  # from an earlier run with other speakers

    parts = split_by_speaker(all_dir, seed, dev_ratio, test_ratio)
    text_file = out_dir / f"{name}_text" / "sentences.txt"
    write_text_corpus(parts["train"], [parts["dev"], parts["test"]], text_file)
    return {"all": all_dir, **parts, "text": text_file}
