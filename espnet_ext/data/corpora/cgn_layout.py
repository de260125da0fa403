"""The layout of a CGN release: where recordings and transcripts are, the speaker metadata, the
release name.
"""

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet_ext.data.corpora.cgn_annotation import decode_cgn
from espnet_ext.data.corpora.items import SkipLog
from espnet_ext.errors import ConfigError, CorpusError
from espnet_ext.fileio import PathLike

logger = logging.getLogger(__name__)

REGIONS = ("nl", "vl")
COMPONENTS = tuple("abcdefghijklmno")
LICENSE = "CGN licence (Dutch Language Institute), not redistributable"
AUDIO_DIR = Path("data/audio/wav")
ORT_DIR = Path("data/annot/text/ort")
SPEAKERS_FILE = Path("data/meta/text/speakers.txt")
LAYOUT_HINT = (
    "expected the CGN 2.0 layout <root>/data/audio/wav/comp-<a-o>/{nl,vl}/<rec>.wav and "
    "<root>/data/annot/text/ort/comp-<a-o>/{nl,vl}/<rec>.ort.gz (pass the directory that holds "
    "data/)"
)

@dataclass(frozen=True)
class Recording:
    """One CGN recording: ``comp-<component>/<region>/<name>``."""

    name: str
    component: str
    region: str
    ort: Path
    wav: Path

    @property
    def key(self) -> str:
        return f"comp-{self.component}/{self.region}/{self.name}"


def check_options(regions: Sequence[str], components: Optional[Sequence[str]]
                  ) -> Tuple[List[str], Optional[List[str]]]:
    """Sorted regions and components (``comp-`` prefix dropped; None: all); ConfigError if bad."""
    regions = sorted(set(regions))
    if not regions or any(r not in REGIONS for r in regions):
        raise ConfigError(f"regions {list(regions)}: choose from {list(REGIONS)} "
                          "(vl = Flanders, nl = the Netherlands)")
    if components is None:
        return regions, None
    comps = sorted({c[len("comp-"):] if c.startswith("comp-") else c for c in components})
    bad = [c for c in comps if c not in COMPONENTS]
    if bad or not comps:
        raise ConfigError(f"components {list(components)}: each must be a letter a-o "
                          "(or comp-a ... comp-o)")
    return regions, comps


def _ort_stem(path: Path) -> str:
    return path.name[: -len(".ort.gz")] if path.name.endswith(".ort.gz") else path.stem


def check_layout(root: PathLike, regions: Sequence[str] = ("vl",),
                 components: Optional[Sequence[str]] = None) -> Path:
    """Check that ``root`` is a CGN release holding audio and transcripts for ``regions``.

    Raises:
        CorpusError: names every missing directory or file pattern, and the expected layout.
        ConfigError: an unknown region or component.
    """
    root = Path(root)
    regions, comps = check_options(regions, components)
    if not root.is_dir():
        raise CorpusError(f"CGN root {root}: not a directory; {LAYOUT_HINT}")
    if (root / "audio" / "wav").is_dir() or (root / "annot").is_dir():
        raise CorpusError(f"CGN root {root}: looks like the data/ directory itself; pass its "
                          f"parent {root.parent}")
    pattern = "comp-*" if comps is None else (
        f"comp-{comps[0]}" if len(comps) == 1 else f"comp-[{''.join(comps)}]")
    missing = [str(d) for d in (AUDIO_DIR, ORT_DIR) if not (root / d).is_dir()]
    for region in regions:
        if str(ORT_DIR) not in missing:
            orts = [p for ext in ("*.ort.gz", "*.ort")
                    for p in root.glob(f"{ORT_DIR}/{pattern}/{region}/{ext}")]
            if not orts:
                missing.append(f"{ORT_DIR}/{pattern}/{region}/*.ort.gz")
        if str(AUDIO_DIR) not in missing:
            if not any(root.glob(f"{AUDIO_DIR}/{pattern}/{region}/*.wav")):
                missing.append(f"{AUDIO_DIR}/{pattern}/{region}/*.wav")
    if missing:
        raise CorpusError(f"CGN root {root}: missing {', '.join(missing)}; {LAYOUT_HINT}")
    return root


def find_recordings(root: PathLike, regions: Sequence[str], components: Optional[Sequence[str]],
                    skips: SkipLog) -> List[Recording]:
    """Pair every transcript with its audio (``no_audio`` / ``no_transcript`` otherwise).

    Returns:
        recordings sorted by component, region and name.
    """
    root = Path(root)
    regions, comps = check_options(regions, components)
    recs = []
    comp_names = sorted({p.name for d in (ORT_DIR, AUDIO_DIR) for p in (root / d).glob("comp-?")})
    for comp_name in comp_names:
        comp = comp_name[-1]
        if comp not in COMPONENTS or (comps is not None and comp not in comps):
            continue
        for region in regions:
            orts: Dict[str, Path] = {}
            for p in sorted((root / ORT_DIR / comp_name / region).glob("*.ort*")):
                if p.name.endswith((".ort", ".ort.gz")):
                    orts.setdefault(_ort_stem(p), p)  # .ort sorts before .ort.gz: .ort wins
            wavs = {p.stem: p for p in (root / AUDIO_DIR / comp_name / region).glob("*.wav")}
            for name, ort in sorted(orts.items()):
                if name not in wavs:
                    skips.add("no_audio", f"{comp_name}/{region}/{name}")
                    continue
                recs.append(Recording(name, comp, region, ort, wavs[name]))
            for name in sorted(set(wavs) - set(orts)):
                skips.add("no_transcript", f"{comp_name}/{region}/{name}")
    return recs


def read_speakers(root: PathLike) -> Dict[str, Dict[str, str]]:
    """Read ``data/meta/text/speakers.txt`` (tab-separated, header row; ISO-8859-1).

    Returns:
        speaker id -> {column: value}; empty if the file is absent (it is metadata only).

    Raises:
        CorpusError: the file has no ``ID`` column.
    """
    path = Path(root) / SPEAKERS_FILE
    if not path.is_file():
        logger.warning("%s not found: no speaker metadata (spk2gender is not written)", path)
        return {}
    lines = decode_cgn(path.read_bytes()).splitlines()
    header = [h.strip() for h in lines[0].split("\t")] if lines else []
    id_col = next((i for i, h in enumerate(header) if h.lower() in ("id", "speakerid")), None)
    if id_col is None:
        raise CorpusError(f"{path}:1: expected a tab-separated header with an 'ID' column, got "
                          f"{header[:6]}; copy the file again from the CGN release")
    out = {}
    for line in lines[1:]:
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) > id_col and fields[id_col]:
            out[fields[id_col]] = dict(zip(header, fields))
    return out


def speaker_gender(meta: Dict[str, str]) -> Optional[str]:
    """``m``, ``f`` or None from a speaker's metadata row."""
    # CGN codes sex as sex1 (male) / sex2 (female); some copies write m/f.
    value = meta.get("sex", meta.get("gender", "")).strip().lower()
    return {"sex1": "m", "m": "m", "male": "m", "sex2": "f", "f": "f", "female": "f"}.get(value)


def read_release(root: PathLike) -> str:
    """The CGN release, from a version file at ``root`` or the directory name ("unknown")."""
    root = Path(root)
    for name in ("VERSION", "version", "version.txt", "VERSION.txt", "release.txt"):
        f = root / name
        if f.is_file():
            first = next((ln.strip() for ln in decode_cgn(f.read_bytes()).splitlines()
                          if ln.strip()), "")
            if first:
                return f"{first[:80]} (from {f.name})"
    m = re.search(r"\d+(?:\.\d+)+", root.resolve().name)
    if m:
        return f"{m.group(0)} (from the directory name)"
    return "unknown (no version file, no version in the directory name)"
