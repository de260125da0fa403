"""build_text_corpus on fake package files in their real layouts (no Debian packages needed)."""

import gzip
from pathlib import Path

import pytest

from espnet_ext.errors import ConfigError, CorpusError
from espnet_ext.text.corpus import (
    TextSource, build_text_corpus, default_sources, match_key, reject_reason,
)

HTML = """<!DOCTYPE html><html lang="nl"><head><title>Objecten positioneren</title>
<script>var x = "Dit is geen tekst die wij willen hebben.";</script></head><body>
<nav><p>Inhoud van de navigatie die we niet willen zien.</p></nav>
<h1>Objecten positioneren</h1>
<p>Een object, zoals een afbeelding of frame, wordt in een document geplaatst met behulp van
een <span class="emph">anker</span>. Het anker bepaalt de positie van het object!</p>
<p>Kies <code>Opmaak - Anker</code> om het anker van het object te wijzigen.</p>
<p>Open the file and click on the button to continue with the wizard.</p>
<p>Gebruik het bestand /etc/fstab voor de instellingen van de schijven.</p>
<pre>Dit is een voorbeeld van code die we niet willen.</pre>
<p>Dit is een zin die ook in de testset staat.</p>
<p>Een object, zoals een afbeelding of frame, wordt in een document geplaatst met behulp van
een anker.</p>
</body></html>
"""

MAN = r""".\" -*- coding: UTF-8 -*-
.TH CHMOD 1 "September 2022" "GNU coreutils 9.1" "Opdrachten voor gebruikers"
.SH NAAM
chmod \- toegangsrechten veranderen
.SH BESCHRIJVING
Deze handleiding documenteert de GNU versie van \fBchmod\fP. Het programma verandert
de toegangsrechten van elk bestand volgens \fImodus\fP en de ge\(:installeerde regels.
.PP
.nf
Dit staat in een voorbeeld en moet weg.
.fi
.TP
\fB\-R\fR, \fB\-\-recursive\fR
werk recursief op bestanden en mappen
"""

LUA = r"""
dialogId("let-m-divna", "font_small", "What kind of strange ship is that?")
dialogStr("Wat is dit voor raar schip?")
dialogId("let-v-oko", "font_big", "Can you see that eye?")
dialogStr("Zie je dat oog? De stille getuige... Iemand vertrouwde op \"dit\" vliegtuig.")
"""

@pytest.fixture
def sources(tmp_path: Path):
    root = tmp_path / "root"
    html = root / "usr/share/libreoffice/help/nl/text/swriter/guide/anchor_object.html"
    html.parent.mkdir(parents=True)
    html.write_text(HTML, encoding="utf-8")
    man = root / "usr/share/man/nl/man1/chmod.1.gz"
    man.parent.mkdir(parents=True)
    man.write_bytes(gzip.compress(MAN.encode("utf-8")))
    lua = root / "usr/share/games/fillets-ng/script/airplane/dialogs_nl.lua"
    lua.parent.mkdir(parents=True)
    lua.write_text(LUA, encoding="utf-8")
    return [
        TextSource("libreoffice-help-nl", "html", str(root / "usr/share/libreoffice/help/nl"),
                   ("text/**/*.html",)),
        TextSource("manpages-nl", "man", str(root / "usr/share/man/nl"), ("man*/*",)),
        TextSource("fillets-ng-data", "lua", str(root / "usr/share/games/fillets-ng/script"),
                   ("*/*dialogs_nl.lua",)),
    ]


@pytest.fixture
def test_text(tmp_path: Path) -> Path:
    f = tmp_path / "test_nl" / "text"
    f.parent.mkdir()
    f.write_text("fillets_nl_x_1 dit is een zin die ook in de testset staat\n", encoding="utf-8")
    return f


def _lines(path) -> list:
    return Path(path).read_text(encoding="utf-8").splitlines()


def test_build_text_corpus_extracts_filters_dedups_and_excludes(tmp_path, sources, test_text):
    out = tmp_path / "corpus" / "text.txt"
    stats = build_text_corpus(out, "nl", sources=sources, exclude_text_files=[test_text], seed=1)
    lines = _lines(out)
    keys = {match_key(x) for x in lines}
    assert stats.num_sentences == len(lines) == len(keys)  # deduplicated
    expected = {
        "een object zoals een afbeelding of frame wordt in een document geplaatst met behulp "
        "van een anker",
        "het anker bepaalt de positie van het object",
        "deze handleiding documenteert de gnu versie van chmod",
        "het programma verandert de toegangsrechten van elk bestand volgens modus en de "
        "geïnstalleerde regels",
        "wat is dit voor raar schip",
        "zie je dat oog",
        "iemand vertrouwde op dit vliegtuig",
    }
    assert expected <= keys
    # Excluded: test sentence; script/nav/pre/nofill; inline code; English; paths; options.
    joined = "\n".join(lines)
    for bad in ("testset", "navigatie", "voorbeeld", "opmaak", "click", "fstab", "recursief",
                "niet willen"):
        assert bad not in joined, bad
    by_pkg = {s.package: s for s in stats.sources}
    assert by_pkg["libreoffice-help-nl"].excluded == 1
    assert by_pkg["libreoffice-help-nl"].duplicates == 1
    assert sum(s.kept for s in stats.sources) == len(lines)
    prov = (tmp_path / "corpus" / "provenance.txt").read_text(encoding="utf-8")
    assert "fillets-ng-data" in prov and "excluded 1 distinct transcripts" in prov


def test_build_text_corpus_is_deterministic_and_skips_when_done(tmp_path, sources):
    a, b = tmp_path / "a" / "t.txt", tmp_path / "b" / "t.txt"
    build_text_corpus(a, sources=sources, seed=3)
    build_text_corpus(b, sources=sources, seed=3)
    assert a.read_bytes() == b.read_bytes()
    mtime = a.stat().st_mtime_ns
    assert build_text_corpus(a, sources=sources, seed=3).skipped
    assert a.stat().st_mtime_ns == mtime
    capped = build_text_corpus(a, sources=sources, seed=3, max_sentences=2)
    assert not capped.skipped and len(_lines(a)) == 2 == capped.num_sentences


def test_missing_package_raises_naming_it(tmp_path):
    src = TextSource("manpages-nl", "man", str(tmp_path / "nothing"), ("man*/*",))
    with pytest.raises(CorpusError, match="apt-get install -y manpages-nl"):
        build_text_corpus(tmp_path / "t.txt", sources=[src])


def test_unknown_source_name_and_language_raise(tmp_path):
    with pytest.raises(ConfigError, match="unknown text source 'nope'"):
        build_text_corpus(tmp_path / "t.txt", sources=["nope"])
    with pytest.raises(ConfigError, match="no stop-word list"):
        build_text_corpus(tmp_path / "t.txt", lang="xx")
    assert {s.package for s in default_sources("nl")} >= {"manpages-nl", "fillets-ng-data"}


@pytest.mark.parametrize("sentence,reason", [
    ("Dit is een gewone Nederlandse zin.", None),
    ("Dit is kort", "no_sentence_end"),
    ("dit begint met een kleine letter.", "not_capitalised"),
    ("Twee woorden.", "length"),
    ("Gebruik de optie --force om het te doen.", "code"),
    ("Open het bestand config.txt in de map.", "code"),
    ("This is an English sentence in the help.", "language"),
    ("Zet 1 2 3 4 5 6 7 8 9 10 11 12 in de tabel.", "not_alphabetic"),
])
def test_reject_reason(sentence, reason):
    assert reject_reason(sentence, "nl") == reason
