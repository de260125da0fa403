"""Bad input everywhere, property-based (hypothesis).

Every reader of user-supplied files either accepts its input or raises an ``XlingError`` whose
message names the file (and the line or utterance), never another exception type; a reader
never drops or splits a line silently; normalisation is total and idempotent; checkpoint loading
never runs code from the file. Examples are derandomized (profile ``ci`` in tests/conftest.py),
so every run sees the same inputs; ``HYPOTHESIS_PROFILE=explore`` searches fresh ones.
"""

import dataclasses
import io
import os
import pickle
import re
import shlex
import tempfile
import unicodedata
from pathlib import Path

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from espnet_ext.data.kaldi import read_data_dir, read_kaldi_map
from espnet_ext.data.validate import validate_data_dir
from espnet_ext.errors import ConfigError, DataDirError
from espnet_ext.text.normalize import normalize_text
from espnet_ext.upstream.config import UpstreamConfig, config_hash, load_upstream_config

# --- Kaldi data dirs ------------------------------------------------------------------------------

# Characters that make ids and lines go wrong: whitespace of every kind (ASCII and Unicode line
# and paragraph separators, NBSP, form feed), NUL, a BOM, non-ASCII letters, shell metacharacters.
_TRICKY = "\t \u00a0\u2028\u2029\u0085\x0b\x0c\x1c\x00\ufeff\u200bé\u0301ΣßİЖ日|'\"$\\"
_SAFE_ID = st.text(st.sampled_from("ab_-.1é"), min_size=1, max_size=4)
_ID = st.one_of(_SAFE_ID, _SAFE_ID, st.text(st.sampled_from("ab_-.1" + _TRICKY), max_size=4))
_VALUE = st.text(st.sampled_from("xyz /.wav" + _TRICKY), max_size=8)
_EOL = st.sampled_from(["\n", "\r\n", "\r"])
# Bytes that are not UTF-8: a lone continuation byte, a truncated sequence, an encoded
# surrogate, an overlong encoding, Latin-1 text.
_BAD_UTF8 = st.sampled_from([b"\x80", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"caf\xe9", b"\xff"])
_LINE_END = re.compile(r"\r\n|\r|\n")


def _lines_of(content: str):
    """The lines of ``content`` as ESPnet reads them (universal newlines; a final EOL ends one)."""
    lines = _LINE_END.split(content)
    return lines[:-1] if lines and lines[-1] == "" else lines


@st.composite
def kaldi_file(draw):
    """Bytes of a ``key value`` file: well-formed lines mixed with every kind of damage."""
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["ok", "ok", "ok", "key only", "empty", "blank", "raw"]))
        if kind == "ok":
            line = draw(_ID) + draw(st.sampled_from([" ", "\t", "  ", " \t"])) + draw(_VALUE)
        elif kind == "key only":
            line = draw(_ID)
        elif kind == "empty":
            line = ""
        elif kind == "blank":
            line = draw(st.sampled_from([" ", "\t", "\u00a0", "\x1c", " \u2028 "]))
        else:
            line = draw(st.text(max_size=10))
        if lines and draw(st.integers(0, 9)) == 0:
            line = lines[draw(st.integers(0, len(lines) - 1))]  # a duplicated line
        lines.append(line)
    eol = draw(_EOL)
    text = eol.join(lines) + (eol if lines and draw(st.booleans()) else "")
    data = text.encode("utf-8")
    if draw(st.integers(0, 4)) == 0:
        pos = draw(st.integers(0, len(data)))
        data = data[:pos] + draw(_BAD_UTF8) + data[pos:]
    return data


def _fresh_dir(root: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=root))


def _line_named(err: Exception, path: Path) -> int:
    """The line number of a ``<file>:<line>: ...`` message about ``path``."""
    m = re.match(re.escape(str(path)) + r":(\d+): ", str(err))
    assert m, f"message does not start with '{path}:<line>: ': {err}"
    return int(m.group(1))


@settings(max_examples=250)
@given(data=kaldi_file(), allow_empty=st.booleans())
@example(data="a hello\u2028world\nb x\n".encode(), allow_empty=True)  # found: split at U+2028
@example(data=b"a x\x85b\n", allow_empty=True)
@example(data=b"a x\r\nb y\r\n", allow_empty=False)
@example(data=b"a x\n\nb y\n", allow_empty=False)
@example(data=b"a x\nb \xe9t\xe9\n", allow_empty=False)
def test_read_kaldi_map_accepts_as_espnet_reads_or_names_the_line(tmp_path, data, allow_empty):
    from espnet2.fileio.read_text import read_2columns_text

    path = _fresh_dir(tmp_path) / "text"
    path.write_bytes(data)
    try:
        content = data.decode("utf-8")
    except UnicodeDecodeError as e:
        with pytest.raises(DataDirError) as err:
            read_kaldi_map(path, allow_empty_value=allow_empty)
        bad_line = len(_LINE_END.split(data[: e.start].decode("utf-8")))
        assert _line_named(err.value, path) == bad_line and "UTF-8" in str(err.value)
        return
    lines = _lines_of(content)
    # The contract, per line in file order: a line needs a key; a value unless allowed empty;
    # keys are unique. The first line breaking it is the one reported.
    seen, first_bad = set(), None
    for i, line in enumerate(lines, start=1):
        fields = line.split(maxsplit=1)
        if not fields or (len(fields) == 1 and not allow_empty) or fields[0] in seen:
            first_bad = i
            break
        seen.add(fields[0])
    try:
        got = read_kaldi_map(path, allow_empty_value=allow_empty)
    except DataDirError as err:
        assert first_bad is not None, f"rejected a well-formed file: {err}"
        assert _line_named(err, path) == first_bad, str(err)
        return
    assert first_bad is None, f"accepted bad line {first_bad}: {lines[first_bad - 1]!r}"
    # No line dropped, split or merged: one entry per line, and exactly what ESPnet reads.
    assert len(got) == len(lines)
    assert got == read_2columns_text(path)


@st.composite
def data_dir_files(draw):
    """wav.scp, text, utt2spk (and maybe spk2utt, utt2lang) of a dir: consistent, or damaged.

    Returns ``(clean, {file name: bytes})``; ``clean`` dirs are consistent and must be accepted.
    """
    clean = draw(st.integers(0, 3)) > 0  # sorted unique safe ids; damage may still follow
    if clean:
        ids = sorted(set(draw(st.lists(_SAFE_ID, min_size=1, max_size=5))))
    else:
        ids = draw(st.lists(_ID, max_size=5))
    spk = {u: draw(st.sampled_from(["s1", "s2"])) for u in ids}
    files = {
        "wav.scp": [f"{u} /nonexistent/{i}.wav" for i, u in enumerate(ids)],
        "text": [f"{u} {draw(st.sampled_from(['hola', 'buenos dias', 'é ß']))}" for u in ids],
        "utt2spk": [f"{u} {spk[u]}" for u in ids],
    }
    if draw(st.booleans()):
        files["utt2lang"] = [f"{u} es" for u in ids]
    if draw(st.booleans()):
        files["spk2utt"] = [f"{s} {' '.join(sorted(u for u in ids if spk[u] == s))}"
                            for s in sorted(set(spk.values()))]
    damages = draw(st.integers(0, 3))
    clean = clean and damages == 0
    for _ in range(damages):
        name = draw(st.sampled_from(sorted(files)))
        lines = files[name]
        damage = draw(st.sampled_from(["shuffle", "drop", "dup", "empty", "no value",
                                       "blank text", "replace", "nul"]))
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        if damage == "shuffle":
            files[name] = draw(st.permutations(lines))
        elif damage == "drop" and lines:
            del lines[i]
        elif damage == "dup" and lines:
            lines.insert(i, lines[i])
        elif damage == "empty":
            lines.insert(i, "")
        elif damage == "no value" and lines:
            lines[i] = lines[i].split(" ")[0]
        elif damage == "blank text" and lines:
            lines[i] = lines[i].split(" ")[0] + " \t"
        elif damage == "replace" and lines:
            lines[i] = draw(st.text(max_size=12))
        elif damage == "nul" and lines:
            lines[i] = lines[i] + "\x00"
    eol = draw(_EOL)  # LF, CRLF or CR: ESPnet reads all three
    out = {name: (eol.join(lines) + eol).encode("utf-8") for name, lines in files.items()}
    if not clean and draw(st.integers(0, 5)) == 0:
        name = draw(st.sampled_from(sorted(out)))
        out[name] = out[name] + draw(_BAD_UTF8)
    return clean, out


def _write_dir(root: Path, files) -> Path:
    d = _fresh_dir(root)
    for name, data in files.items():
        (d / name).write_bytes(data)
    return d


@settings(max_examples=200)
@given(case=data_dir_files())
def test_validator_accepts_consistent_dirs_or_names_the_file(tmp_path, case):
    from espnet2.fileio.read_text import read_2columns_text

    clean, files = case
    d = _write_dir(tmp_path, files)
    try:
        stats = validate_data_dir(d, check_audio=False)  # no audio read: no wav.scp pipe is run
    except DataDirError as err:
        assert not clean, f"rejected a consistent dir: {err}"
        msg = str(err)
        assert msg.startswith(str(d)), msg
        named = msg[len(str(d)):].lstrip("/").split(":")[0]
        assert named == "" or named in files, f"names no file of the dir: {msg}"
        return
    # Accepted: ESPnet reads every file with the same, sorted, unique ids, each line used once.
    read = {name: read_2columns_text(d / name) for name in files if name != "spk2utt"}
    ids = list(read["wav.scp"])
    assert ids == sorted(ids)
    assert all(list(m) == ids for m in read.values())
    assert stats.num_utts == len(ids) == len(_lines_of(files["wav.scp"].decode()))
    assert all(t.strip() for t in read["text"].values())
    assert stats.num_speakers == len(set(read["utt2spk"].values()))


@settings(max_examples=120)
@given(case=data_dir_files())
def test_read_data_dir_uses_every_line_or_names_the_file(tmp_path, case):
    clean, files = case
    d = _write_dir(tmp_path, files)
    try:
        utts = read_data_dir(d)
    except DataDirError as err:
        assert not clean, f"rejected a consistent dir: {err}"
        assert str(err).startswith(str(d)), str(err)
        return
    # Nothing silently dropped: every line of text/utt2spk(/utt2lang) went into an utterance.
    wav = read_kaldi_map(d / "wav.scp")
    assert [u.utt_id for u in utts] == sorted(wav)
    for name in ("text", "utt2spk", "utt2lang"):
        if name in files:
            assert set(read_kaldi_map(d / name)) == set(wav), name


@st.composite
def damaged_audio_dir(draw):
    """A one-utterance data dir whose 16 kHz WAV (int16 or float32, with or without utt2dur)
    is intact or damaged in one way: cut mid-data, a NaN or inf sample, 0 bytes, or an utt2dur
    that disagrees with the audio."""
    import numpy as np

    n = draw(st.integers(1600, 8000))
    float_wav = draw(st.booleans())
    damage = draw(st.sampled_from(["none", "none", "cut", "nan", "inf", "zero bytes",
                                   "utt2dur off"]))
    if damage in ("nan", "inf") and not float_wav:
        damage = "none"  # int16 has no non-finite samples
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    samples = (0.1 * rng.standard_normal(n)).astype(np.float32)
    if damage in ("nan", "inf"):
        samples[draw(st.integers(0, n - 1))] = np.nan if damage == "nan" else -np.inf
    return damage, samples if float_wav else (samples * 32767).astype(np.int16), \
        draw(st.booleans()) or damage == "utt2dur off"


@settings(max_examples=40, deadline=None)
@given(case=damaged_audio_dir())
def test_validator_rejects_damaged_audio_naming_the_utterance(tmp_path, case):
    import soundfile as sf

    damage, samples, with_utt2dur = case
    d = _fresh_dir(tmp_path)
    wav = d / "a.wav"
    sf.write(wav, samples, 16000, subtype="FLOAT" if samples.dtype.kind == "f" else "PCM_16")
    if damage == "cut":
        data = wav.read_bytes()
        wav.write_bytes(data[:len(data) - (len(data) - 44) // 2])
    elif damage == "zero bytes":
        wav.write_bytes(b"")
    files = {"wav.scp": f"u1 {wav}\n", "text": "u1 hola\n", "utt2spk": "u1 s1\n"}
    if with_utt2dur:
        dur = len(samples) / 16000 + (1.0 if damage == "utt2dur off" else 0.0)
        files["utt2dur"] = f"u1 {dur:.3f}\n"
    for name, text in files.items():
        (d / name).write_text(text)
    try:
        validate_data_dir(d)
    except DataDirError as err:
        assert damage != "none", f"rejected intact audio: {err}"
        assert str(err).startswith(str(d)) and "u1" in str(err), str(err)
        return
    assert damage == "none", f"accepted audio with damage '{damage}'"


@st.composite
def one_line_more_or_less(draw):
    """A consistent dir, then one utterance's line removed from, or an extra one added to, one
    file (kept sorted): the dir is inconsistent in exactly one place."""
    ids = sorted(set(draw(st.lists(_SAFE_ID, min_size=1, max_size=5))))
    files = {"wav.scp": [f"{u} /nonexistent/{u}.wav" for u in ids],
             "text": [f"{u} hola" for u in ids], "utt2spk": [f"{u} s1" for u in ids],
             "utt2lang": [f"{u} es" for u in ids]}
    name = draw(st.sampled_from(sorted(files)))
    if draw(st.booleans()):
        del files[name][draw(st.integers(0, len(ids) - 1))]
    else:
        extra = draw(_SAFE_ID.filter(lambda u: u not in ids))
        files[name] = sorted(files[name] + [f"{extra} {files[name][0].split(' ', 1)[1]}"])
    return name, {n: "".join(f"{line}\n" for line in lines).encode() for n, lines in files.items()}


@settings(max_examples=60)
@given(case=one_line_more_or_less())
@example(case=("text", {"wav.scp": b"1 /w.wav\n", "text": b"", "utt2spk": b"1 s1\n",
                        "utt2lang": b"1 es\n"}))  # found: read_data_dir gave it an empty text
def test_one_utterance_missing_or_extra_in_one_file_is_never_dropped(tmp_path, case):
    name, files = case
    d = _write_dir(tmp_path, files)
    for read in (lambda: validate_data_dir(d, check_audio=False), lambda: read_data_dir(d)):
        with pytest.raises(DataDirError) as err:
            read()
        msg = str(err.value)
        assert msg.startswith(f"{d / name}:") or msg.startswith(f"{d / 'wav.scp'}:") or (
            name == "wav.scp" and msg.startswith(str(d))), msg


# --- transcripts ----------------------------------------------------------------------------------

# Letters, combining marks that compose with them, format characters, apostrophes and quotes,
# punctuation and symbols, case oddities (dotted I, final sigma, titlecase digraph, sharp s).
_TEXT_PIECES = st.sampled_from(list(
    "aeouAEOUɪ ÉéŒ" "\u0301\u0300\u0308\u0327\u0303\u0345"
    "\u200b\u00ad\ufeff\u200d" "'’‘`´ʼ＇" ".,;-–—!?\"«»/+*" "İıΣςßẞǅ" "\t\n\u00a0\u2028"
    "0١" "вОл"))


# Letter, then what the rules delete or keep between it and a following combining mark.
_CLUSTERS = st.lists(st.tuples(
    st.sampled_from(list("aeoucAEÖIİ")),
    st.sampled_from(["", "\u200b", "\u00ad", "\ufeff", "'", "''", "’", ".", " ", "+"]),
    st.sampled_from(["", "\u0308", "\u0301", "\u0327", "\u0303", "\u030a", "\u0345"]),
).map("".join), max_size=4).map("".join)


@settings(max_examples=400)
@given(text=st.one_of(st.text(max_size=30), st.text(_TEXT_PIECES, max_size=12), _CLUSTERS),
       lang=st.sampled_from(["nl", "ru", "es", "fr", "xx"]))
@example(text="e\u200b\u0308", lang="es")  # found: format char between letter and mark
@example(text="e''\u0308", lang="es")  # found: dropped apostrophes between letter and mark
@example(text="'T IS ''t", lang="nl")
@example(text="+Окна вол+ос", lang="ru")
def test_normalize_text_is_total_idempotent_and_clean(text, lang):
    out = normalize_text(text, lang)
    assert normalize_text(out, lang) == out, (ascii(text), ascii(out))
    assert out == out.strip() and "  " not in out, ascii(out)
    assert unicodedata.is_normalized("NFC", out), ascii(out)
    for c in out:
        assert c == c.lower(), f"{c!r} has a lowercase form in {out!r}"
        cat = unicodedata.category(c)
        # rules 1, 7, 8: no control or format characters, no punctuation or symbols but the
        # apostrophe, no whitespace but single spaces
        assert c in " '" or (cat[0] not in "PSZ" and cat not in ("Cc", "Cf")), (ascii(out), c)


# --- upstream configs -----------------------------------------------------------------------------

_VALID_KEYS = [f.name for f in dataclasses.fields(UpstreamConfig)]
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False),
                     st.text(max_size=6))
_YAML_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=6)
_UNKNOWN_KEYS = st.one_of(st.text(max_size=8).filter(lambda k: k not in _VALID_KEYS),
                          st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False))
_BASE = {"upstream": "fbank"}


def _write_yaml(root: Path, content) -> Path:
    f = _fresh_dir(root) / "up.yaml"
    if isinstance(content, bytes):
        f.write_bytes(content)
    else:
        f.write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")
    return f


@settings(max_examples=120)
@given(extra=st.dictionaries(_UNKNOWN_KEYS, _YAML_VALUES, min_size=1, max_size=3))
@example(extra={1: "x", "zzz": 2})  # found: int and str keys made the error itself crash
def test_upstream_config_unknown_keys_are_listed_with_the_valid_ones(tmp_path, extra):
    f = _write_yaml(tmp_path, {**_BASE, **extra})
    with pytest.raises(ConfigError) as err:
        load_upstream_config(f, require_checkpoint=False)
    msg = str(err.value)
    assert msg.startswith(str(f)) and "unknown key" in msg, msg
    assert all(k in msg for k in _VALID_KEYS), msg
    assert all(repr(k) in msg for k in extra), msg


# A value of the wrong type for each key (what the dataclass documents, written independently of
# config.py's checks).
_WRONG = {
    "name": st.one_of(st.integers(), st.lists(st.text(max_size=2), max_size=2), st.booleans()),
    "upstream": st.one_of(st.integers(), st.none(), st.floats(allow_nan=False)),
    "path": st.one_of(st.integers(), st.booleans(), st.lists(st.integers(), max_size=2)),
    "layers": st.one_of(st.text(max_size=4).filter(lambda s: s != "all"), st.just([]),
                        st.lists(st.one_of(st.booleans(), st.floats(), st.text(max_size=2)),
                                 min_size=1, max_size=3), st.integers()),
    "frozen": st.one_of(st.integers(), st.text(max_size=3), st.none()),
    "freeze_steps": st.one_of(st.integers(max_value=-1), st.floats(allow_nan=False),
                              st.booleans(), st.text(max_size=3)),
    "published": st.one_of(st.integers(), st.none()),
    "options": st.one_of(st.lists(st.integers(), max_size=2), st.text(max_size=3),
                         st.integers()),
}


@settings(max_examples=120)
@given(key_value=st.sampled_from(sorted(_WRONG)).flatmap(
    lambda k: st.tuples(st.just(k), _WRONG[k])))
def test_upstream_config_wrong_types_name_the_key(tmp_path, key_value):
    key, value = key_value
    f = _write_yaml(tmp_path, {"upstream": "wav2vec2_local", "path": "/x.pt", key: value})
    with pytest.raises(ConfigError) as err:
        load_upstream_config(f, require_checkpoint=False)
    assert str(err.value).startswith(str(f)) and repr(key) in str(err.value), str(err.value)


@settings(max_examples=150)
@given(content=st.one_of(
    st.dictionaries(st.one_of(st.sampled_from(_VALID_KEYS), st.text(max_size=5)),
                    st.one_of(st.sampled_from(["fbank", "wav2vec2_local", "all", "", "/x.pt",
                                               [0, 2], 3]), _YAML_VALUES),
                    max_size=4),
    st.binary(max_size=40),
    st.text(max_size=40).map(lambda s: s.encode("utf-8"))))
@example(content=b"upstream: fbank\nname: \xe9t\xe9\n")  # found: UnicodeDecodeError escaped
@example(content={"upstream": "fbank", "path": ""})  # found: accepted, then config_hash crashed
def test_upstream_config_any_file_loads_typed_or_raises_naming_it(tmp_path, content,
                                                                  monkeypatch):
    monkeypatch.delenv("XLING_CKPT_DIR", raising=False)
    f = _write_yaml(tmp_path, content)
    try:
        cfg = load_upstream_config(f, require_checkpoint=False)
    except ConfigError as err:
        assert str(f) in str(err), str(err)
        return
    # Accepted: every field has its documented type.
    assert isinstance(cfg.name, str) and isinstance(cfg.upstream, str)
    assert isinstance(cfg.frozen, bool) and isinstance(cfg.options, dict)
    assert type(cfg.freeze_steps) is int and cfg.freeze_steps >= 0
    assert cfg.layers == "all" or (cfg.layers and all(type(i) is int for i in cfg.layers))
    assert (cfg.path is None) == (cfg.upstream == "fbank")
    if cfg.upstream == "fbank":
        assert len(config_hash(cfg)) == 64  # usable as it is (no checkpoint to hash)


# --- checkpoints ----------------------------------------------------------------------------------


class _RunsCode:
    """Pickles as a call to os.system that creates ``marker``: loading it would run the command."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


_PLAIN = st.recursive(
    st.one_of(st.integers(-5, 5), st.text(max_size=4), st.floats(allow_nan=False), st.none()),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=5)


def _torch_bytes(obj, legacy: bool = False) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=not legacy)
    return buf.getvalue()


def _all_loaders(path: Path, tmp: Path):
    """Each project entry point that reads a checkpoint file, as a zero-argument call."""
    from espnet_ext.pretrain.export import export_upstream
    from espnet_ext.upstream import load_upstream, verify_checkpoint
    from espnet_ext.upstream.hub import read_export_info

    exp = tmp / "exp"
    exp.mkdir(exist_ok=True)
    (exp / "config.yaml").write_text("model: apc\nmodel_conf: {}\nseed: 0\n")
    return {
        "verify_checkpoint": lambda: verify_checkpoint(path),
        "load_upstream": lambda: load_upstream(
            UpstreamConfig(name="t", upstream="apc_local", path=str(path))),
        "read_export_info": lambda: read_export_info(path, "apc", "xling_apc"),
        "export_upstream": lambda: export_upstream(exp, tmp / "o.pt", tmp / "o.yaml",
                                                   model_file=path),
    }


def _assert_refused(path: Path, tmp: Path, marker: Path = None):
    """Every loader raises ConfigError naming ``path`` (and runs nothing); returns the messages."""
    messages = []
    for name, load in _all_loaders(path, tmp).items():
        with pytest.raises(ConfigError) as err:
            load()
        assert str(path) in str(err.value), f"{name}: {err.value}"
        if marker is not None:
            assert not marker.exists(), f"{name} ran code from the checkpoint"
        messages.append(str(err.value))
    return messages


@st.composite
def truncated_checkpoint(draw):
    """A torch.save file (zip or legacy format) of plain data, cut short anywhere."""
    data = _torch_bytes(draw(_PLAIN), legacy=draw(st.booleans()))
    return data[:draw(st.integers(0, len(data) - 1))]


@st.composite
def damaged_checkpoint(draw):
    """A torch.save file (zip or legacy format) of plain data with a few bytes overwritten."""
    data = bytearray(_torch_bytes({"model": {"w": draw(_PLAIN)}}, legacy=draw(st.booleans())))
    for _ in range(draw(st.integers(1, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


@settings(max_examples=40)
@given(data=st.one_of(st.binary(max_size=300), truncated_checkpoint().map(bytearray)))
@example(data=b"hello world")  # found: KeyError escaped torch.load
@example(data=bytearray(b"\x80"))  # found: IndexError escaped (a legacy checkpoint's first byte)
def test_garbage_and_truncated_checkpoints_are_refused_naming_the_file(tmp_path, data):
    d = _fresh_dir(tmp_path)
    path = d / "model.pt"
    path.write_bytes(data)
    messages = _assert_refused(path, d)
    if isinstance(data, bytearray):  # truncated plain data: found, it was called code
        assert not any("arbitrary code" in m for m in messages), messages


@settings(max_examples=40)
@given(data=damaged_checkpoint())
def test_damaged_checkpoint_loads_or_is_refused_naming_the_file(tmp_path, data):
    from espnet_ext.upstream import verify_checkpoint

    path = _fresh_dir(tmp_path) / "model.pt"
    path.write_bytes(data)
    try:
        verify_checkpoint(path)  # a byte in padding or in a tensor's values changes nothing
    except ConfigError as err:
        assert str(path) in str(err), str(err)


@settings(max_examples=40)
@given(plain=_PLAIN, container=st.sampled_from(["zip", "legacy", "pickle"]),
       protocol=st.integers(0, pickle.HIGHEST_PROTOCOL), where=st.sampled_from(["top", "nested"]))
def test_checkpoint_that_runs_code_is_refused_and_never_run(tmp_path, plain, container,
                                                            protocol, where):
    d = _fresh_dir(tmp_path)
    marker = d / "pwned"
    evil = _RunsCode(marker)
    obj = evil if where == "top" else {"model": {"w": plain}, "xling": {"x": [plain, evil]}}
    data = (pickle.dumps(obj, protocol=protocol) if container == "pickle"
            else _torch_bytes(obj, legacy=container == "legacy"))
    path = d / "model.pt"
    path.write_bytes(data)
    _assert_refused(path, d, marker)
    assert not marker.exists()


def test_the_code_running_pickle_does_run_code_when_loaded_unsafely(tmp_path):
    # Control for the test above: its files would create the marker if anything unpickled them.
    import torch

    for i, data in enumerate([pickle.dumps(_RunsCode(tmp_path / "m0")),
                              _torch_bytes({"x": _RunsCode(tmp_path / "m1")})]):
        (tmp_path / "f").write_bytes(data)
        torch.load(tmp_path / "f", weights_only=False) if i else pickle.loads(data)
        assert (tmp_path / f"m{i}").exists()


@settings(max_examples=40)
@given(info=st.dictionaries(st.sampled_from(["format_version", "espnet_ext_version", "method"]),
                            st.one_of(_SCALARS, st.sampled_from([1, 2, "apc", "wav2vec2"])),
                            max_size=3))
def test_export_info_of_plain_checkpoint_is_read_only_when_ours(tmp_path, info):
    from espnet_ext.upstream.hub import read_export_info

    path = _fresh_dir(tmp_path) / "up.pt"
    path.write_bytes(_torch_bytes({"xling": info, "model": {}}))
    try:
        got = read_export_info(path, "apc", "xling_apc")
    except ConfigError as err:
        assert str(path) in str(err), str(err)
        return
    assert type(got["format_version"]) is int and got["format_version"] == 1
    assert got["method"] == "apc"

