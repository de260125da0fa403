"""The data dirs of the CGN study recipe (egs2/cgn_flemish/xling1), cut from one
:func:`~espnet_ext.data.corpora.cgn.prepare_cgn` run: the pre-training pool, the held-out text
speakers (the joint model's text corpus) and the ASR sets.
"""

from pathlib import Path
from typing import Dict, Optional, Sequence, Set

from espnet_ext.data.corpora.cgn import corpus_name, prepare_cgn
from espnet_ext.data.corpora.cgn_layout import check_options
from espnet_ext.data.corpora.cgn_splits import spk2seconds, write_part, write_text_corpus
from espnet_ext.data.corpora.splits import check_lang_code, marker_is_current
from espnet_ext.data.kaldi import read_kaldi_map
from espnet_ext.errors import ConfigError, CorpusError
from espnet_ext.fileio import PathLike
from espnet_ext.steps import check_owned, claim_dir, mark_done, seeded_order
from espnet_ext.versioning import CGN_RECIPE

RECIPE_OWNER = "cgn"


def hold_out_speakers(spk2seconds: Dict[str, float], ratio: float, seed: int = 1) -> Set[str]:
    """Whole speakers holding about ``ratio`` of the duration, in a seeded order.

    Speakers are ordered by a hash of ``(seed, "text", speaker)`` (another order than
    :func:`assign_speakers`); each is taken while none is taken yet, or while the taken share is
    below ``ratio`` and the speaker fits. At least one speaker is taken and at least one left.

    Raises:
        ConfigError: ``ratio`` outside (0, 1).
        CorpusError: fewer than 2 speakers.
    """
    if not 0 < ratio < 1:
        raise ConfigError(f"text_ratio={ratio}: must be in (0, 1) (the share of the train "
                          "speakers' duration whose transcripts become the text corpus)")
    if len(spk2seconds) < 2:
        raise CorpusError(f"only {len(spk2seconds)} train speaker(s) ({sorted(spk2seconds)}); "
                          "holding out text speakers needs at least 2 (add components or "
                          "raise max_hours)")
    target = ratio * sum(spk2seconds.values())
    have, taken = 0.0, set()
    for spk in seeded_order(spk2seconds, seed, key=lambda s: f"text\t{s}"):
        dur = spk2seconds[spk]
        if not taken or (have < target and have + dur <= target):
            taken.add(spk)
            have += dur
    return taken


def _check_free(out_dir: Path, force: bool) -> None:
    # A data dir or text corpus of someone else (the offline recipe's train_nl, a user's dir)
    # under the same name is never overwritten by accident.
    check_owned(out_dir, RECIPE_OWNER, force=force, who="this preparation (CGN)",
                elsewhere="data dir", occupied=("wav.scp", "sentences.txt"))


def _seeded_at_most(data_dir: Path, hours: float, seed: int) -> Set[str]:
    """Utterances of ``data_dir`` in a seeded order while their total stays within ``hours``
    (at least one)."""
    if hours <= 0:
        raise ConfigError(f"dev_max_hours must be > 0 (or None for all), got {hours}")
    durs = {k: float(v) for k, v in read_kaldi_map(data_dir / "utt2dur").items()}
    keep, total = set(), 0.0
    for utt in seeded_order(durs, seed):
        if keep and total + durs[utt] > hours * 3600.0:
            continue
        keep.add(utt)
        total += durs[utt]
    return keep


def prepare_cgn_recipe(
    root: PathLike,
    data_dir: PathLike,
    lang: str = "nl",
    regions: Sequence[str] = ("vl",),
    components: Optional[Sequence[str]] = None,
    max_hours: Optional[float] = None,
    text_ratio: float = 0.1,
    dev_max_hours: Optional[float] = None,
    dev_ratio: float = 0.1,
    test_ratio: float = 0.1,
    nj: int = 2,
    seed: int = 1,
    force: bool = False,
) -> Dict[str, Path]:
    """Prepare CGN for the study recipe under the data-dir names ``xling.sh`` reads.

    Runs :func:`prepare_cgn` into ``<data_dir>/local`` (audio in
    ``<data_dir>/local/audio/<name>``), then holds out whole train speakers (``text_ratio`` of
    the train duration) whose transcripts become the joint model's text corpus, and writes::

        <data_dir>/pretrain_<lang>/                the pre-training pool: train speakers minus
                                                   the text speakers (transcribed: the joint
                                                   model's paired data)
        <data_dir>/dev_<lang>/                     pre-training validation (and ASR dev): the
                                                   dev speakers, at most dev_max_hours
        <data_dir>/{train,test}_<lang>/            all train speakers / the test speakers, for
                                                   ASR on the pre-training language itself
        <data_dir>/pretrain_text_<lang>/sentences.txt
                                                   the text speakers' transcripts minus every
                                                   sentence of the pool, dev and test
        <data_dir>/local/<name>_text_speakers/     the text speakers' utterances (provenance)

    No speaker is in two of pool, text, dev and test. Each dir is validated and owned
    (``.prepared_by``); the options go to ``<data_dir>/.cgn_<lang>.done`` (written last): the
    same options again do nothing, other options need ``force``.

    Args:
        root: the CGN release (the directory holding ``data/``).
        data_dir: the recipe's data dir (``data``).
        lang, regions, components, max_hours, dev_ratio, test_ratio, nj, seed: as for
            :func:`prepare_cgn`.
        text_ratio: share of the train speakers' duration held out as text only, in (0, 1).
        dev_max_hours: cap of ``dev_<lang>`` (seeded subset of the dev speakers' utterances;
            validation runs every epoch of pre-training); None: the whole dev part.
        force: rebuild whatever the marker says, and overwrite dirs CGN did not write.

    Returns:
        ``{"pool", "dev", "train", "test", "text"}`` -> paths (``text``: sentences.txt).

    Raises:
        ConfigError: bad options, or a finished run with other options and no ``force``.
        CorpusError: the layout is not CGN's, or too few speakers for the splits.
        DataDirError: an output dir holds data CGN did not write.
    """
    check_lang_code(lang)
    data_dir = Path(data_dir)
    regions, comps = check_options(regions, components)
    if not 0 < text_ratio < 1:
        raise ConfigError(f"text_ratio={text_ratio}: must be in (0, 1)")
    if dev_max_hours is not None and dev_max_hours <= 0:
        raise ConfigError(f"dev_max_hours={dev_max_hours}: must be > 0 (or None for all)")
    name = corpus_name(regions)
    outputs = {"pool": data_dir / f"pretrain_{lang}", "dev": data_dir / f"dev_{lang}",
               "train": data_dir / f"train_{lang}", "test": data_dir / f"test_{lang}",
               "text": data_dir / f"pretrain_text_{lang}" / "sentences.txt"}
    options = {"version": CGN_RECIPE.current, "root": str(Path(root).resolve()), "lang": lang,
               "regions": regions, "components": comps, "max_hours": max_hours,
               "text_ratio": text_ratio, "dev_max_hours": dev_max_hours,
               "dev_ratio": dev_ratio, "test_ratio": test_ratio, "seed": seed}
    marker = data_dir / f".cgn_{lang}.done"
    if marker_is_current(marker, options, force, f"CGN '{lang}' in {data_dir}", "data dir"):
        return outputs
    for key in ("pool", "dev", "train", "test"):
        _check_free(outputs[key], force)
    _check_free(outputs["text"].parent, force)

    local = data_dir / "local"
    parts = prepare_cgn(root, local, lang=lang, regions=regions, components=comps,
                        max_hours=max_hours, dev_ratio=dev_ratio, test_ratio=test_ratio,
                        nj=nj, seed=seed, audio_dir=local / "audio" / name)
    train_spk = read_kaldi_map(parts["train"] / "utt2spk")
    text_spks = hold_out_speakers(spk2seconds(parts["train"]), text_ratio, seed)
    by = "`espnet_ext.data.corpora.cgn_recipe.prepare_cgn_recipe`"

    def header(out: Path, what: str) -> str:
        return f"# {out.name}: provenance\n\n{what} (written by {by}).\n\n"

    text_src = write_part(
        parts["train"], local / f"{name}_text_speakers",
        {u for u, s in train_spk.items() if s in text_spks},
        header(local / f"{name}_text_speakers",
               f"The {len(text_spks)} train speakers of `{parts['train'].name}` held out as "
               f"text only (text_ratio {text_ratio}, seed {seed}): their transcripts feed "
               f"`{outputs['text'].parent.name}`, their audio is in no pre-training pool"),
        owner=RECIPE_OWNER)
    pool = write_part(
        parts["train"], outputs["pool"],
        {u for u, s in train_spk.items() if s not in text_spks},
        header(outputs["pool"],
               f"Pre-training pool: the train speakers of `{parts['train'].name}` except the "
               f"{len(text_spks)} held out for text (`{text_src.name}`); nested amounts are "
               "seeded random subsets of it (xling.sh stage 3)"),
        owner=RECIPE_OWNER)
    dev_keep = (set(read_kaldi_map(parts["dev"] / "utt2spk")) if dev_max_hours is None
                else _seeded_at_most(parts["dev"], dev_max_hours, seed))
    write_part(parts["dev"], outputs["dev"], dev_keep, header(
        outputs["dev"], f"Pre-training validation and ASR dev set: `{parts['dev'].name}`"
        + (f", at most {dev_max_hours} h of it (seeded subset, seed {seed})"
           if dev_max_hours is not None else "")), owner=RECIPE_OWNER)
    for key in ("train", "test"):
        write_part(parts[key], outputs[key], set(read_kaldi_map(parts[key] / "utt2spk")),
                    header(outputs[key], f"A copy of `{parts[key].name}` (ASR on {lang})"),
                    owner=RECIPE_OWNER)
    claim_dir(outputs["text"].parent, RECIPE_OWNER)
    # The held-out sets are excluded in full (not only the capped dev_<lang>).
    write_text_corpus(text_src, [pool, parts["dev"], parts["test"]], outputs["text"])
    mark_done(marker, options, outputs=sorted(
        [p.name for k, p in outputs.items() if k != "text"] + [outputs["text"].parent.name]))
    return outputs
