"""Offline corpus preparers on tiny fixtures laid out like the real Debian packages."""

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from espnet_ext.data.corpora import asterisk, festvox_ru, fillets
from espnet_ext.data.corpora.items import SkipLog
from espnet_ext.data.corpora.offline import (
    DONE_MARKER, prepare_offline_corpus, split_by_text, subsample,
)
from espnet_ext.data.kaldi import Utterance, read_data_dir, read_kaldi_map
from espnet_ext.data.validate import validate_data_dir
from espnet_ext.errors import ConfigError, CorpusError, DataDirError

REPO = Path(__file__).resolve().parents[2]


def tone(path: Path, sr: int, channels: int = 1, seconds: float = 0.3, freq: float = 300.0,
         fmt: str = "WAV", subtype: str = "PCM_16") -> Path:
    t = np.arange(int(sr * seconds)) / sr
    x = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    if channels > 1:
        x = np.stack([x] * channels, axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x, sr, format=fmt, subtype=subtype)
    return path


def ogg(path: Path, freq: float = 300.0) -> Path:
    return tone(path, 22050, channels=2, freq=freq, fmt="OGG", subtype="VORBIS")


NL_LUA = '''
-- a comment with dialogId("fake", "font_small", "not a dialog")
dialogId("lvl-m-a", "font_small", "What kind of ship?")
dialogStr("Wat is dit voor raar schip?")

dialogId("lvl-v-b", "font_big",
"A \\"quoted\\" word.")
dialogStr(
"Een \\"geciteerd\\" woord.")

dialogId("lvl-v-c", "font_big", "Same text.")
dialogStr("Wat is dit voor raar schip?")

dialogId("lvl-m-broken", "font_small", "unterminated)
dialogStr("Kapot")

dialogId("lvl-x-sfx", "", "")

dialogId("lvl-m-noaudio", "font_small", "No audio.")
dialogStr("Geen geluid.")

dialogId("lvl-m-corrupt", "font_small", "Corrupt.")
dialogStr("Kapotte ogg.")

dialogId("lvl-m-punct", "font_small", "...")
dialogStr("...")
'''

SHARE_LUA = '''
dialogId("sp-shout_small_00", "font_small", "Yippee!")
dialogStr("Joepie!")
dialogId("sp-shout_big_00", "font_big", "Great!")
dialogStr("Geweldig!")
'''


@pytest.fixture
def game_dir(tmp_path: Path) -> Path:
    root = tmp_path / "usr/share/games/fillets-ng"
    (root / "script/lvl").mkdir(parents=True)
    (root / "script/lvl/dialogs_nl.lua").write_text(NL_LUA, encoding="utf-8")
    (root / "script/lvl/demo_dialogs_nl.lua").write_text(
        'dialogId("demo-0", "font_poster", "Poster")\ndialogStr("Een poster lezen")\n',
        encoding="utf-8")
    (root / "script/share").mkdir(parents=True)
    (root / "script/share/shout_dialogs_nl.lua").write_text(SHARE_LUA, encoding="utf-8")
    snd = root / "sound/lvl/nl"
    for i, name in enumerate(["lvl-m-a", "lvl-v-b", "lvl-v-c", "lvl-x-sfx", "demo-0",
                              "lvl-m-punct", "orphan"]):
        ogg(snd / f"{name}.ogg", freq=200 + 50 * i)
    (snd / "lvl-m-corrupt.ogg").write_bytes(b"OggS this is not vorbis")
    ogg(root / "sound/share/border/nl/sp-shout_small_00.ogg")
    ogg(root / "sound/share/border/nl/sp-shout_big_00.ogg", freq=500)
    return root


@pytest.fixture
def asterisk_root(tmp_path: Path) -> Path:
    """<root>/asterisk/sounds/... and <root>/doc/asterisk-core-sounds-<lang>/..."""
    root = tmp_path / "usr/share"
    for lang, voice, lines in [
        ("es", "es_MX_f_Test", [
            "\ufeff; Core Asterisk Sounds in Spanish", "",
            "agent-loginok: Agente conectado", "auth-thankyou: Gracias",
            "beep: [tono simple]", "digits/1: uno", "digits/2: dos",
            "conf-muted: Modo mudo. (You are muted.)", "letters/dash: guion [-]",
            "vm-temp: Sus saludos [temporales] estan en uso", "this line has no colon",
            "missing-audio: No hay audio",
        ]),
        ("ru", "ru_RU_f_Test", ["; comment", "vm-goodbye: До свидания.", "vm-yes: Да.",
                                "vm-no: Нет.", "beep: [beep tone]"]),
    ]:
        vdir = root / "asterisk/sounds" / voice
        for i, line in enumerate(lines):
            name = line.split(":")[0]
            if ":" in line and not line.startswith(("\ufeff", ";")) and name != "missing-audio":
                tone(vdir / f"{name}.wav", 8000, freq=300 + 40 * i)
        tone(vdir / "no-text.wav", 8000)
        os.symlink(voice, root / "asterisk/sounds" / lang)
        doc = root / f"doc/asterisk-core-sounds-{lang}"
        doc.mkdir(parents=True)
        with gzip.open(doc / f"core-sounds-{lang}.txt.gz", "wt", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        (doc / "copyright").write_text("Files: *\nLicense: CC-BY-SA-3.0\n", encoding="utf-8")
    return root


@pytest.fixture
def festvox_dir(tmp_path: Path) -> Path:
    vdir = tmp_path / "usr/share/festival/voices/russian/msu_ru_nsh_clunits"
    lines = [
        '( ru_0001 "Она завела, прядь волнистых вол+ос за ухо." )',
        '( ru_0002 "+Окна многоэтажных домов." )',
        '( ru_0003 "Со спокойным мужеством." )',
        '( ru_0004 "Нет записи." )',
        "( ru_0005 broken line",
    ]
    (vdir / "etc").mkdir(parents=True)
    (vdir / "etc/txt.done.data").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for i in (1, 2, 3):
        tone(vdir / f"wav/ru_000{i}.wav", 16000, freq=250 + 30 * i)
    doc = tmp_path / "usr/share/doc/festvox-ru"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(
        "Format: x\n\nFiles: *\nCopyright: 2005 N. Shmyrev\nLicense: BSD-like\n text\n\n"
        "Files: debian/*\nLicense: GPL-3\n", encoding="utf-8")
    return vdir


def skipped(data_dir: Path) -> dict:
    return json.loads((data_dir / "skipped.json").read_text(encoding="utf-8"))


# --- fillets -------------------------------------------------------------------------------

def test_parse_dialogs_handles_multiline_escapes_and_malformed_calls(game_dir):
    skips = SkipLog("t")
    dialogs = fillets.parse_dialogs(game_dir / "script/lvl/dialogs_nl.lua", skips)
    by_id = {d.dialog_id: d for d in dialogs}
    assert "fake" not in by_id  # inside a comment
    assert by_id["lvl-v-b"].translation == 'Een "geciteerd" woord.'
    assert by_id["lvl-x-sfx"].translation is None
    assert "lvl-m-broken" not in by_id
    assert skips.counts()["malformed_lua"] >= 1
    assert any("dialogs_nl.lua:15" in name for name in skips.items["malformed_lua"])


def test_prepare_fillets_writes_valid_dir_and_counts_skips_by_reason(game_dir, tmp_path):
    out = fillets.prepare_fillets(game_dir, tmp_path / "out", "nl", tmp_path / "audio", nj=1)
    d = out["all"]
    stats = validate_data_dir(d)  # 16 kHz mono
    text = read_kaldi_map(d / "text")
    assert text["fillets_nl_font_small_lvl_lvl-m-a"] == "wat is dit voor raar schip"
    assert text["fillets_nl_font_big_lvl_lvl-v-b"] == "een geciteerd woord"
    assert "fillets_nl_font_poster_lvl_demo-0" in text  # demo_dialogs_nl.lua
    assert "fillets_nl_font_small_share_sp-shout_small_00" in text  # sound/share/border/nl
    assert stats.num_utts == 6 and stats.num_speakers == 3
    counts = skipped(d)
    assert counts["no_audio"] == 1  # lvl-m-noaudio
    assert counts["no_transcript"] == 2  # lvl-x-sfx (sound effect) and orphan.ogg
    assert counts["unreadable_audio"] == 1
    assert counts["empty_after_normalization"] == 1  # "..."
    assert counts["malformed_lua"] >= 1
    listing = (d / "skipped.txt").read_text(encoding="utf-8")
    assert "unreadable_audio\tlvl/lvl-m-corrupt" in listing
    assert "no_audio\tlvl/lvl-m-noaudio" in listing
    assert "GPL-2+" in (d / "PROVENANCE.md").read_text(encoding="utf-8")
    info = sf.info(read_kaldi_map(d / "wav.scp")["fillets_nl_font_small_lvl_lvl-m-a"])
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")


def test_prepare_fillets_reuses_converted_audio(game_dir, tmp_path):
    fillets.prepare_fillets(game_dir, tmp_path / "out", "nl", tmp_path / "audio", nj=2)
    wav = tmp_path / "audio/fillets_nl_font_small_lvl_lvl-m-a.wav"
    before = wav.stat().st_mtime_ns
    fillets.prepare_fillets(game_dir, tmp_path / "out", "nl", tmp_path / "audio", nj=1)
    assert wav.stat().st_mtime_ns == before
    assert not list((tmp_path / "audio").glob(".*.tmp"))  # atomic writes leave no temp files


def test_prepare_fillets_missing_voice_package_raises_naming_it(game_dir, tmp_path):
    with pytest.raises(CorpusError, match=r"apt-get install fillets-ng-data`"):
        fillets.prepare_fillets(game_dir, tmp_path / "out", "cs", tmp_path / "audio")
    (game_dir / "script/lvl/dialogs_cs.lua").write_text(NL_LUA, encoding="utf-8")
    with pytest.raises(CorpusError, match=r"apt-get install fillets-ng-data-cs`") as e:
        fillets.prepare_fillets(game_dir, tmp_path / "out", "cs", tmp_path / "audio")
    assert "sound/<level>/cs/<dialog id>.ogg" in str(e.value)
    with pytest.raises(CorpusError, match="fillets-ng-data") as e:
        fillets.prepare_fillets(tmp_path / "nowhere", tmp_path / "out", "nl", tmp_path / "a")
    assert str(tmp_path / "nowhere") in str(e.value)


# --- asterisk ------------------------------------------------------------------------------

def test_prepare_asterisk_upsamples_and_skips_non_speech(asterisk_root, tmp_path):
    out = asterisk.prepare_asterisk(asterisk_root / "asterisk/sounds", tmp_path / "out", "es",
                                    tmp_path / "audio", doc_dir=asterisk_root / "doc", nj=1)
    d = out["all"]
    stats = validate_data_dir(d)
    text = read_kaldi_map(d / "text")
    spk = "asterisk_es_MX_f_Test"
    assert set(read_kaldi_map(d / "utt2spk").values()) == {spk}
    assert text[f"{spk}_digits-1"] == "uno"
    assert text[f"{spk}_agent-loginok"] == "agente conectado"  # first line after BOM/comment
    assert text[f"{spk}_conf-muted"] == "modo mudo"
    assert text[f"{spk}_letters-dash"] == "guion"
    assert stats.num_utts == 6
    counts = skipped(d)
    assert counts == {"malformed_line": 1, "no_audio": 1, "no_transcript": 1, "non_speech": 1,
                      "uncertain_transcript": 1}
    assert "8 kHz" in (d / "PROVENANCE.md").read_text(encoding="utf-8")


def test_find_voice_dir_without_symlink_uses_lang_prefix(asterisk_root):
    sounds = asterisk_root / "asterisk/sounds"
    (sounds / "es").unlink()
    assert asterisk.find_voice_dir(sounds, "es").name == "es_MX_f_Test"
    (sounds / "es_ES_f_Other").mkdir()
    with pytest.raises(CorpusError, match="several 'es' voice directories"):
        asterisk.find_voice_dir(sounds, "es")


def test_prepare_asterisk_missing_package_raises_naming_it(asterisk_root, tmp_path):
    with pytest.raises(CorpusError, match="apt-get install asterisk-core-sounds-fr"):
        asterisk.prepare_asterisk(asterisk_root / "asterisk/sounds", tmp_path / "out", "fr",
                                  tmp_path / "audio", doc_dir=asterisk_root / "doc")


def test_clean_prompt_annotations():
    assert asterisk.clean_prompt("[ascending tones]") == (None, "non_speech")
    assert asterisk.clean_prompt("(10 secondi di silenzio)") == (None, "non_speech")
    assert asterisk.clean_prompt("Пробел [ ]") == ("Пробел", "")
    assert asterisk.clean_prompt("Il [suo] messaggio")[1] == "uncertain_transcript"


# --- festvox-ru ----------------------------------------------------------------------------

def test_prepare_festvox_ru_strips_stress_and_links_audio(festvox_dir, tmp_path):
    cr = tmp_path / "usr/share/doc/festvox-ru/copyright"
    out = festvox_ru.prepare_festvox_ru(festvox_dir, tmp_path / "out", tmp_path / "audio",
                                        nj=1, copyright_file=cr)
    d = out["all"]
    validate_data_dir(d)
    text = read_kaldi_map(d / "text")
    assert text["festvox_msu_ru_nsh_ru_0001"] == "она завела прядь волнистых волос за ухо"
    assert text["festvox_msu_ru_nsh_ru_0002"] == "окна многоэтажных домов"
    wav = read_kaldi_map(d / "wav.scp")["festvox_msu_ru_nsh_ru_0001"]
    assert wav.startswith(str(tmp_path / "audio"))
    assert skipped(d) == {"malformed_line": 1, "no_audio": 1}
    assert "BSD-like" in (d / "PROVENANCE.md").read_text(encoding="utf-8")


def test_prepare_festvox_ru_missing_package_raises(tmp_path):
    with pytest.raises(CorpusError, match="apt-get install festvox-ru"):
        festvox_ru.prepare_festvox_ru(tmp_path / "none", tmp_path / "out", tmp_path / "audio")


# --- split and orchestrator ----------------------------------------------------------------

def _utts(n: int, n_texts: int):
    return [Utterance(f"s_{i:04d}", "s", f"/x/{i}.wav", f"sentence {i % n_texts}", "es")
            for i in range(n)]


def test_split_by_text_shares_no_sentence_and_is_deterministic():
    utts = _utts(400, 150)
    a = split_by_text(utts, 1, 0.1, 0.1)
    assert split_by_text(utts, 1, 0.1, 0.1) == a
    texts = {s: {u.text for u in a[s]} for s in a}
    assert not texts["train"] & texts["test"] and not texts["train"] & texts["dev"]
    assert not texts["dev"] & texts["test"]
    assert sum(len(v) for v in a.values()) == 400
    assert 30 <= len(a["test"]) <= 50 and 30 <= len(a["dev"]) <= 50
    assert split_by_text(utts, 2, 0.1, 0.1) != a


def test_split_by_text_too_few_sentences_raises():
    with pytest.raises(CorpusError, match="distinct sentence"):
        split_by_text(_utts(10, 2), 1, 0.1, 0.1, "es")


def test_subsample_is_deterministic():
    utts = _utts(50, 50)
    assert subsample(utts, 10, 3) == subsample(utts, 10, 3)
    assert len(subsample(utts, 10, 3)) == 10 and subsample(utts, None, 3) == utts


@pytest.fixture
def offline_kwargs(game_dir, asterisk_root, festvox_dir, tmp_path):
    # festvox_ru reads <doc_dir>/festvox-ru/copyright: the same doc root as asterisk's.
    (asterisk_root / "doc/festvox-ru").mkdir(parents=True, exist_ok=True)
    (asterisk_root / "doc/festvox-ru/copyright").write_text("Files: *\nLicense: BSD-like\n")
    return dict(
        out_root=tmp_path / "recipe", languages=("nl", "es", "ru"), seed=3, dev_ratio=0.2,
        test_ratio=0.2, nj=1, game_dir=game_dir,
        asterisk_sounds_dir=asterisk_root / "asterisk/sounds", doc_dir=asterisk_root / "doc",
        festvox_dir=festvox_dir,
    )


def test_prepare_offline_corpus_end_to_end_and_rerun(offline_kwargs, tmp_path):
    out = prepare_offline_corpus(**offline_kwargs)
    data = tmp_path / "recipe/data"
    assert sorted(out) == sorted(f"{s}_{l}" for s in ("train", "dev", "test")
                                 for l in ("nl", "es", "ru"))
    for lang in ("nl", "es", "ru"):
        sets = {s: read_data_dir(out[f"{s}_{lang}"]) for s in ("train", "dev", "test")}
        for s, utts in sets.items():
            stats = validate_data_dir(out[f"{s}_{lang}"])
            assert stats.num_utts > 0 and stats.languages == [lang]
            prov = (out[f"{s}_{lang}"] / "PROVENANCE.md").read_text(encoding="utf-8")
            assert "Debian package" in prov
        train = {u.text for u in sets["train"]}
        assert not train & {u.text for u in sets["test"] + sets["dev"]}
    ru_prov = (out["train_ru"] / "PROVENANCE.md").read_text(encoding="utf-8")
    assert "festvox-ru" in ru_prov and "asterisk-core-sounds-ru" in ru_prov
    assert (data / "local/fillets_nl/wav.scp").exists()
    assert (data / "local/festvox_ru/wav.scp").exists()
    summary = json.loads((data / "summary.json").read_text(encoding="utf-8"))
    assert {r["set"] for r in summary["sets"]} == set(out)
    assert summary["skipped"]["fillets_nl"]["unreadable_audio"] == 1
    assert "| train_nl |" in (data / "summary.md").read_text(encoding="utf-8")

    # Rerun with the same options: nothing is rewritten.
    marker = data / DONE_MARKER
    stamps = {p: p.stat().st_mtime_ns for p in [marker, out["train_es"] / "text"]}
    assert prepare_offline_corpus(**offline_kwargs) == out
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps

    # Other options: a clear error unless forced.
    with pytest.raises(ConfigError, match=r"other options.*seed.*force"):
        prepare_offline_corpus(**{**offline_kwargs, "seed": 4})
    prepare_offline_corpus(**{**offline_kwargs, "seed": 4, "force": True,
                              "languages": ("es",), "max_utts_per_lang": 4})
    assert json.loads(marker.read_text())["options"]["seed"] == 4
    assert sum(validate_data_dir(data / f"{s}_es").num_utts
               for s in ("train", "dev", "test")) == 4


def _tree(root: Path) -> dict:
    """Every file under ``root`` but the marker: relative path -> bytes."""
    return {str(f.relative_to(root)): f.read_bytes() for f in sorted(root.rglob("*"))
            if f.is_file() and f.name != DONE_MARKER}


def test_prepare_offline_corpus_is_incremental_per_language(offline_kwargs, tmp_path):
    data = tmp_path / "recipe/data"
    kwargs = {**offline_kwargs, "languages": ("nl", "es")}
    at_once = prepare_offline_corpus(**kwargs)
    expected = _tree(data)
    summary = json.loads((data / "summary.json").read_text(encoding="utf-8"))
    assert summary["options"]["languages"] == ["nl", "es"]  # SOURCES order
    assert [r["set"] for r in summary["sets"]] == [f"{s}_{l}" for l in ("nl", "es")
                                                   for s in ("train", "dev", "test")]
    shutil.rmtree(data)

    # "es" alone builds only es; "nl" afterwards adds nl: the same bytes as both at once.
    es = prepare_offline_corpus(**{**kwargs, "languages": ("es",)})
    assert sorted(es) == ["dev_es", "test_es", "train_es"]
    assert not list(data.glob("*_nl")) and not (data / "local/fillets_nl").exists()
    assert "_nl" not in (data / "summary.md").read_text(encoding="utf-8")
    es_stamps = {f: f.stat().st_mtime_ns for f in data.rglob("*")
                 if f.is_file() and f.parent.name.endswith("_es")}
    assert len(es_stamps) > 20  # data dirs, source dir and WAVs
    assert prepare_offline_corpus(**{**kwargs, "languages": ("nl",)}) == {
        k: v for k, v in at_once.items() if k.endswith("_nl")}
    assert _tree(data) == expected
    assert {f: f.stat().st_mtime_ns for f in es_stamps} == es_stamps  # es was not rebuilt
    marker = json.loads((data / DONE_MARKER).read_text(encoding="utf-8"))
    assert list(marker["languages"]) == ["nl", "es"]

    # Only built languages asked for (in any order): nothing is rewritten.
    stamps = {f: f.stat().st_mtime_ns for f in data.rglob("*") if f.is_file()}
    assert prepare_offline_corpus(**{**kwargs, "languages": ("es", "nl")}) == at_once
    assert prepare_offline_corpus(**{**kwargs, "languages": ("es",)}) == es
    assert {f: f.stat().st_mtime_ns for f in data.rglob("*") if f.is_file()} == stamps


def test_prepare_offline_corpus_other_shared_options_raise(offline_kwargs, tmp_path):
    data = tmp_path / "recipe/data"
    prepare_offline_corpus(**{**offline_kwargs, "languages": ("es",)})
    # A new language does not excuse other shared options; nothing is built for it.
    for other in ({"seed": 4}, {"max_utts_per_lang": 4}, {"dev_ratio": 0.3}):
        key = next(iter(other))
        with pytest.raises(ConfigError, match=rf"other options.*{key}.*force"):
            prepare_offline_corpus(**{**offline_kwargs, "languages": ("nl",), **other})
    assert not list(data.glob("*_nl"))
    # force rebuilds the requested languages and records only them.
    prepare_offline_corpus(**{**offline_kwargs, "languages": ("nl",), "seed": 4, "force": True})
    marker = json.loads((data / DONE_MARKER).read_text(encoding="utf-8"))
    assert marker["options"]["seed"] == 4 and list(marker["languages"]) == ["nl"]
    summary = json.loads((data / "summary.json").read_text(encoding="utf-8"))
    assert {r["language"] for r in summary["sets"]} == {"nl"}


def test_prepare_offline_corpus_old_marker_format(offline_kwargs, tmp_path):
    data = tmp_path / "recipe/data"
    kwargs = {**offline_kwargs, "languages": ("es",)}
    prepare_offline_corpus(**kwargs)
    marker = data / DONE_MARKER
    new = json.loads(marker.read_text(encoding="utf-8"))
    # Version 1 recorded every option, the language list included, and no per-language rows.
    v1 = {"version": 1, "languages": ["nl", "es"],
          **{k: v for k, v in new["options"].items() if k != "version"}}
    marker.write_text(json.dumps({"options": v1, "outputs": []}))
    prepare_offline_corpus(**kwargs)  # same shared options: a clean rebuild of "es"
    assert json.loads(marker.read_text(encoding="utf-8")) == new
    marker.write_text(json.dumps({"options": {**v1, "seed": 4}, "outputs": []}))
    with pytest.raises(ConfigError, match=r"other options.*seed.*force"):
        prepare_offline_corpus(**kwargs)


def test_prepare_offline_corpus_refuses_foreign_data_dir(offline_kwargs, tmp_path):
    foreign = tmp_path / "recipe/data/train_es"
    foreign.mkdir(parents=True)
    (foreign / "wav.scp").write_text("u1 /my/own.wav\n")
    with pytest.raises(DataDirError, match="did not write"):
        prepare_offline_corpus(**{**offline_kwargs, "languages": ("es",)})
    assert (foreign / "wav.scp").read_text() == "u1 /my/own.wav\n"


def test_prepare_offline_corpus_unknown_language_raises(offline_kwargs):
    with pytest.raises(ConfigError, match="choose from"):
        prepare_offline_corpus(**{**offline_kwargs, "languages": ("xx",)})


def test_cli_reports_missing_package_and_exits_2(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "espnet_ext.bin.prepare_offline_corpus", "--out_root",
         str(tmp_path), "--languages", "es", "--asterisk_sounds_dir", str(tmp_path / "none"),
         "--doc_dir", str(tmp_path / "none")],
        capture_output=True, text=True, env=env, cwd=REPO,
    )
    assert proc.returncode == 2, proc.stderr
    assert "apt-get install asterisk-core-sounds-es" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_prepare_offline_corpus_on_installed_debian_packages(tmp_path):
    missing = [p for p in ("/usr/share/games/fillets-ng/sound",
                           "/usr/share/doc/asterisk-core-sounds-es",
                           festvox_ru.DEFAULT_VOICE_DIR) if not Path(p).exists()]
    if missing:
        pytest.skip(f"Debian corpora not installed: {missing}")
    out = prepare_offline_corpus(tmp_path, languages=("cs", "es", "ru"), max_utts_per_lang=40,
                                 nj=2)
    for path in out.values():
        assert validate_data_dir(path).num_utts > 0
