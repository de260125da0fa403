import unicodedata

import pytest

from espnet_ext.text.normalize import normalize_text


@pytest.mark.parametrize(
    "raw, lang, expected",
    [
        ("Wat is dit voor raar schip?", "nl", "wat is dit voor raar schip"),
        ("Она завела, прядь волнистых вол+ос за ухо.", "ru", "она завела прядь волнистых волос за ухо"),
        ("+Окна многоэтажных домов", "ru", "окна многоэтажных домов"),
        ("вол\u043e\u0301с", "ru", "волос"),
        ("L\u2019agent est occupé.", "fr", "l'agent est occupé"),
        ("dell'interno, 'quoted' word'", "it", "dell'interno quoted word"),
        ("'t Is al laat, 's morgens", "nl", "'t is al laat 's morgens"),
        ("'t Is al laat", "fr", "t is al laat"),
        ("LC-10 Lemura... (zie) [x] “quote” — «ok» – fin…", "nl", "lc 10 lemura zie x quote ok fin"),
        ("C:\\WINDOWS\\CONFIG", "cs", "c windows config"),
        ("BLAHOPŘEJEME!!!", "cs", "blahopřejeme"),
        ("  tabs\tand\nnewlines  ", "es", "tabs and newlines"),
        ("2 para bloquear, 3", "es", "2 para bloquear 3"),
        ("...", "es", ""),
        ("' - '", "fr", ""),
        ("\ufeffHola", "es", "hola"),
    ],
)
def test_normalize_text_rules(raw, lang, expected):
    assert normalize_text(raw, lang) == expected


def test_normalize_text_nfc_composes_decomposed_accents():
    decomposed = unicodedata.normalize("NFD", "Activé Přejeme")
    assert normalize_text(decomposed, "fr") == "activé přejeme"


def test_normalize_text_is_idempotent():
    for raw, lang in [("L’agent, dit: «Bonjour!»", "fr"), ("вол+ос, да", "ru"), ("'t Is", "nl")]:
        once = normalize_text(raw, lang)
        assert normalize_text(once, lang) == once


def test_plus_is_stress_only_in_russian():
    assert normalize_text("1+1", "es") == "1 1"
    assert normalize_text("a+b", "es") == "a b"
