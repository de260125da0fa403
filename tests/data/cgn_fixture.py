"""A tiny CGN release in the real CGN 2.0 layout (generated audio, latin-1 .ort.gz), shared by
tests/data/test_cgn.py and tests/recipe/test_cgn_recipe.py."""

import gzip
from pathlib import Path

import numpy as np
import soundfile as sf

Tiers = list  # [(tier name, [(start, end, text), ...]), ...]


def textgrid(xmax: float, tiers: Tiers) -> str:
    """A TextGrid in Praat's short text format, as CGN's .ort files are written."""
    lines = ['File type = "ooTextFile short"', '"TextGrid"', "", "0", str(xmax), "<exists>",
             str(len(tiers))]
    for name, intervals in tiers:
        lines += ['"IntervalTier"', f'"{name}"', "0", str(xmax), str(len(intervals))]
        for start, end, text in intervals:
            lines += [str(start), str(end), '"' + text.replace('"', '""') + '"']
    return "\n".join(lines) + "\n"


def textgrid_long(xmax: float, tiers: Tiers) -> str:
    """The same in Praat's long text format."""
    lines = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "xmin = 0",
             f"xmax = {xmax}", "tiers? <exists>", f"size = {len(tiers)}", "item []:"]
    for i, (name, intervals) in enumerate(tiers, start=1):
        lines += [f"    item [{i}]:", '        class = "IntervalTier"', f'        name = "{name}"',
                  "        xmin = 0", f"        xmax = {xmax}",
                  f"        intervals: size = {len(intervals)}"]
        for j, (start, end, text) in enumerate(intervals, start=1):
            lines += [f"        intervals [{j}]:", f"            xmin = {start}",
                      f"            xmax = {end}", f'            text = "{text}"']
    return "\n".join(lines) + "\n"


def wav(path: Path, seconds: float, sr: int = 16000, channels: int = 1) -> Path:
    t = np.arange(int(round(seconds * sr))) / sr
    x = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    if channels > 1:
        x = np.stack([x] * channels, axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x, sr, subtype="PCM_16")
    return path


def ort(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as f:
        f.write(content.encode("iso-8859-1"))  # CGN's encoding: "café" is one byte 0xE9
    return path


REC1 = [  # comp-o/vl/fv400001, 6 s, 16 kHz mono
    ("V40001", [(0, 0.3, ""), (0.3, 1.8, "Dag mevrouw*v , ik ben hier*x ggg ."), (1.8, 2.0, ""),
                (2.0, 3.5, "xxx ."), (3.5, 5.0, "Het café is zeg*a gesloten ."), (5.0, 6.0, "")]),
    ("V40002", [(0, 5.2, ""), (5.2, 5.9, "uh ja ."), (5.9, 6.0, "")]),
    ("BACKGROUND", [(0, 6.0, "muziek")]),
]
REC2 = [  # comp-o/vl/fv400002, 6 s, 22.05 kHz stereo
    ("V40003", [(0, 0.2, ""), (0.2, 2.2, "Goeiendag*d allemaal ."), (2.2, 2.4, "ggg"),
                (2.4, 2.6, "ja"), (2.6, 4.0, "een twee drie"), (4.0, 6.0, "")]),
    ("V40004", [(0, 3.5, ""), (3.5, 4.5, "vier"), (4.5, 5.8, "Vijf*n zes zeven ."),
                (5.8, 6.0, "")]),
    ("COMMENT", [(0, 6.0, "")]),
]
REC3 = [  # comp-k/nl/fn000001, 4 s: Netherlands Dutch, excluded by default
    ("N00001", [(0, 0.5, ""), (0.5, 3.0, "Goedenavond dames en heren ."), (3.0, 4.0, "")]),
]
SPEAKERS = ("regionSpeaker\tID\tsex\tbirthYear\n" "vl\tV40001\tsex2\t1960\n"
            "vl\tV40002\tsex1\t1971\n" "vl\tV40003\tsex1\t1955\n" "vl\tV40004\tsex2\t1980\n"
            "nl\tN00001\tsex1\t1949\n")
# Kept utterances of the vl fixture and their intervals.
EXPECTED = {
    "cgn_V40001_fv400001_00000300": ("dag mevrouw ik ben hier", 0.3, 1.8),
    "cgn_V40001_fv400001_00003500": ("het café is zeg gesloten", 3.5, 5.0),
    "cgn_V40002_fv400001_00005200": ("uh ja", 5.2, 5.9),
    "cgn_V40003_fv400002_00000200": ("goeiendag allemaal", 0.2, 2.2),
    "cgn_V40004_fv400002_00004500": ("vijf zes zeven", 4.5, 5.8),
}


def build_cgn_root(root: Path) -> Path:
    """Write the fixture release at ``root`` (``root`` holds ``data/``): two Flemish recordings
    of comp-o (four speakers), one Netherlands recording of comp-k, and speakers.txt."""
    audio, annot = root / "data/audio/wav", root / "data/annot/text/ort"
    wav(audio / "comp-o/vl/fv400001.wav", 6.0)
    ort(annot / "comp-o/vl/fv400001.ort.gz", textgrid(6.0, REC1))
    wav(audio / "comp-o/vl/fv400002.wav", 6.0, sr=22050, channels=2)
    ort(annot / "comp-o/vl/fv400002.ort.gz", textgrid(6.0, REC2))
    wav(audio / "comp-k/nl/fn000001.wav", 4.0)
    ort(annot / "comp-k/nl/fn000001.ort.gz", textgrid(4.0, REC3))
    meta = root / "data/meta/text/speakers.txt"
    meta.parent.mkdir(parents=True)
    meta.write_bytes(SPEAKERS.encode("iso-8859-1"))
    return root
