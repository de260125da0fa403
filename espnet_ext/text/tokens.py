"""Token lists per language: characters or sentencepiece BPE, in ESPnet's token-list format.

The list is written by ESPnet's own ``tokenize_text`` (so ``<blank>``, ``<unk>`` and
``<sos/eos>`` sit where ``asr_train`` expects them); we only add the sentencepiece training that
ESPnet's recipes do in shell (``spm_train``), because the pip package ships no such entry point.
"""

import logging
from pathlib import Path
from typing import Optional

import sentencepiece as spm

from espnet_ext.data.kaldi import read_kaldi_map
from espnet_ext.errors import DataDirError
from espnet_ext.fileio import PathLike, atomic_write_text

logger = logging.getLogger(__name__)

TOKEN_TYPES = ("char", "bpe")


def build_token_list(
    text_file: PathLike,
    out_dir: PathLike,
    token_type: str = "char",
    nbpe: int = 100,
) -> Path:
    """Build ``out_dir/tokens.txt`` (and ``bpe.model`` for BPE) from a Kaldi ``text`` file.

    Args:
        text_file: ``utt transcript`` lines of the training set.
        out_dir: output directory, e.g. ``data/token_list/es_char``.
        token_type: "char" or "bpe".
        nbpe: BPE vocabulary size; lowered automatically (with a log line) if the text is too
            small for it, since sentencepiece refuses vocabularies larger than its pieces.

    Returns:
        Path of the token list.

    Raises:
        DataDirError: unknown token type or empty text.
    """
    from espnet2.bin.tokenize_text import tokenize

    if token_type not in TOKEN_TYPES:
        raise DataDirError(f"token_type '{token_type}' is not one of {TOKEN_TYPES}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    texts = list(read_kaldi_map(text_file).values())
    if not texts:
        raise DataDirError(f"{text_file}: no transcripts to build a token list from")
    plain = out_dir / "train.txt"
    atomic_write_text(plain, "".join(t + "\n" for t in texts))

    bpemodel: Optional[str] = None
    if token_type == "bpe":
        bpemodel = str(_train_bpe(plain, out_dir, nbpe))

    tokens = out_dir / "tokens.txt"
    tmp = out_dir / ".tokens.txt.tmp"
    tokenize(
        input=str(plain),
        output=str(tmp),
        field=None,
        delimiter=None,
        token_type=token_type,
        space_symbol="<space>",
        non_linguistic_symbols=None,
        bpemodel=bpemodel,
        log_level="WARNING",
        write_vocabulary=True,
        vocabulary_size=0,
        remove_non_linguistic_symbols=False,
        cutoff=0,
        add_symbol=["<blank>:0", "<unk>:1", "<sos/eos>:-1"],
        cleaner=None,
        g2p=None,
        add_nonsplit_symbol=[],
    )
    tmp.replace(tokens)
    n = sum(1 for _ in tokens.open(encoding="utf-8"))
    logger.info("%s: %d tokens (%s) from %d sentences", tokens, n, token_type, len(texts))
    return tokens


def _train_bpe(plain: Path, out_dir: Path, nbpe: int) -> Path:
    """Train a sentencepiece BPE model, shrinking the vocabulary if the text cannot fill it."""
    prefix = out_dir / "bpe"
    vocab = nbpe
    while True:
        try:
            spm.SentencePieceTrainer.train(
                input=str(plain),
                model_prefix=str(prefix),
                vocab_size=vocab,
                model_type="bpe",
                character_coverage=1.0,
                input_sentence_size=10_000_000,
                # no sampling/shuffling and one thread: identical models on reruns
                shuffle_input_sentence=False,
                num_threads=1,
                minloglevel=2,
            )
            break
        except RuntimeError as e:
            # "Vocabulary size too high (N). Please set it to a value <= M."
            msg = str(e)
            if "<=" not in msg or vocab <= 10:
                raise
            new_vocab = int(msg.rsplit("<=", 1)[1].strip().rstrip(".").split()[0])
            logger.warning("nbpe %d too large for %s; using %d", vocab, plain, new_vocab)
            vocab = new_vocab
    return prefix.with_suffix(".model")
