"""Tiny local copies of Common Voice, FLEURS and MLS in each corpus' real on-disk layout, shared
by tests/data/test_external_corpora.py and tests/recipe/test_cgn_recipe.py."""

import hashlib
from pathlib import Path

import numpy as np
import soundfile as sf


def tone(path: Path, sr: int, freq: float = 300.0, fmt: str = "WAV", subtype=None) -> Path:
    t = np.arange(int(sr * 0.3)) / sr
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), sr,
             format=fmt, subtype=subtype)
    return path


# --- Common Voice --------------------------------------------------------------------------

CV_HEADER = ("client_id\tpath\tsentence_id\tsentence\tsentence_domain\tup_votes\tdown_votes\t"
             "age\tgender\taccents\tvariant\tlocale\tsegment")


def client(name: str) -> str:
    return hashlib.sha512(name.encode()).hexdigest()  # 128 hex digits, as in the releases


def cv_row(who: str, clip: str, sentence: str) -> str:
    return "\t".join([client(who), clip, "abc123", sentence, "", "2", "0", "twenties",
                      "female_feminine", "", "", "ro", ""])


def build_common_voice_root(root: Path) -> Path:
    """A Common Voice language folder (Romanian) at ``root``: train/dev/test/validated.tsv
    and MP3 clips, with one malformed row, one empty sentence, one missing clip and a clip listed
    in both train and test."""
    rows = {
        "train": [
            cv_row("a", "common_voice_ro_1.mp3", "Bună ziua, lume!"),
            cv_row("a", "common_voice_ro_2.mp3", 'Ea a spus "da" și a plecat.'),
            "\t".join([client("b"), "common_voice_ro_3.mp3", "Prea puține coloane"]),
            cv_row("b", "common_voice_ro_4.mp3", "Fișierul lipsește."),
            cv_row("b", "common_voice_ro_5.mp3", "  "),
            cv_row("c", "common_voice_ro_9.mp3", "Și în test."),
        ],
        "dev": [cv_row("c", "common_voice_ro_6.mp3", "O propoziție de dezvoltare.")],
        "test": [cv_row("d", "common_voice_ro_7.mp3", "O propoziție de test."),
                 cv_row("c", "common_voice_ro_9.mp3", "Și în test.")],
    }
    root.mkdir(parents=True)
    for split, lines in rows.items():
        (root / f"{split}.tsv").write_text("\n".join([CV_HEADER] + lines) + "\n", "utf-8")
    (root / "validated.tsv").write_text(
        "\n".join([CV_HEADER] + rows["train"] + rows["dev"] + rows["test"]) + "\n", "utf-8")
    for i in (1, 2, 3, 5, 6, 7, 9):
        tone(root / "clips" / f"common_voice_ro_{i}.mp3", 48000, 200 + 30 * i, fmt="MP3")
    return root


# --- FLEURS --------------------------------------------------------------------------------

def fleurs_row(sid: int, file_name: str, raw: str, n_cols: int = 7) -> str:
    cols = [str(sid), file_name, raw, "NORMALISED COLUMN IS NOT USED", "x | y", "4800", "FEMALE"]
    return "\t".join(cols[:n_cols])


def build_fleurs_root(root: Path) -> Path:
    """A FLEURS language folder (Swahili) at ``root``: {train,dev,test}.tsv and
    audio/<split>/*.wav, with one malformed row and one row whose audio is missing."""
    rows = {
        "train": [fleurs_row(1822, "10004088536354799741.wav", 'Habari ya "dunia".'),
                  fleurs_row(1822, "10011458478546381113.wav", "Habari ya dunia!"),
                  fleurs_row(1823, "10020000000000000001.wav", "Safu chache", n_cols=5),
                  fleurs_row(1824, "10030000000000000002.wav", "Hakuna sauti.")],
        "dev": [fleurs_row(1900, "2000000000000000001.wav", "Mji mkuu wa Kenya.")],
        "test": [fleurs_row(1901, "3000000000000000001.wav", "Ziwa Viktoria, ni kubwa.")],
    }
    for split, lines in rows.items():
        root.mkdir(parents=True, exist_ok=True)
        (root / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        for line in lines:
            name = line.split("\t")[1]
            if name not in ("10030000000000000002.wav",):  # the row whose audio is missing
                tone(root / "audio" / split / name, 16000, 250, subtype="PCM_16")
    return root


# --- MLS -----------------------------------------------------------------------------------

def build_mls_root(root: Path) -> Path:
    """An MLS language folder at ``root``: <split>/transcripts.txt and FLAC/Opus audio,
    with malformed rows and one missing file."""
    lines = {
        "train": ["1234_5678_000001\tdit is een test", "1234_5678_000002\tnog een zin",
                  "4321_8765_000003", "badid\ttekst", "1234_5678_000009\tgeen audio"],
        "dev": ["2222_3333_000001\tde ontwikkelset"],
        "test": ["4444_5555_000001\tde testset"],
    }
    for split, rows in lines.items():
        (root / split / "audio").mkdir(parents=True)
        (root / split / "transcripts.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
        for row in rows:
            uid = row.split("\t")[0]
            if uid.count("_") != 2 or uid.endswith("9") or "\t" not in row:
                continue
            spk, book, _ = uid.split("_")
            if uid == "1234_5678_000002":  # the Opus variant, 48 kHz Ogg Opus
                tone(root / split / "audio" / spk / book / f"{uid}.opus", 48000, fmt="OGG",
                     subtype="OPUS")
            else:
                tone(root / split / "audio" / spk / book / f"{uid}.flac", 16000, fmt="FLAC")
    return root
