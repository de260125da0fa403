"""CGN preparer on a tiny fixture in the real CGN 2.0 layout (generated audio, latin-1 .ort.gz;
built by tests/data/cgn_fixture.py)."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from espnet_ext.data.corpora import cgn
from espnet_ext.data.corpora.cgn_annotation import (
    Interval, clean_cgn_text, parse_textgrid, read_ort,
)
from espnet_ext.data.corpora.cgn_layout import check_layout
from espnet_ext.data.corpora.cgn_recipe import hold_out_speakers, prepare_cgn_recipe
from espnet_ext.data.corpora.cgn_segments import Segment, cap_hours, _overlaps
from espnet_ext.data.corpora.cgn_splits import SPLITS, assign_speakers, split_by_speaker
from espnet_ext.data.corpora.items import SkipLog
from espnet_ext.data.kaldi import read_data_dir, read_kaldi_map
from espnet_ext.data.validate import validate_data_dir
from espnet_ext.errors import ConfigError, CorpusError, DataDirError
from tests.data.cgn_fixture import (
    EXPECTED, REC1, build_cgn_root, ort, textgrid, textgrid_long, wav,
)


@pytest.fixture
def cgn_root(tmp_path: Path) -> Path:
    return build_cgn_root(tmp_path / "CGN_2.0.3")


def skipped(data_dir: Path) -> dict:
    return json.loads((data_dir / "skipped.json").read_text(encoding="utf-8"))


def test_clean_cgn_text_rules():
    assert clean_cgn_text("Dag mevrouw*v , ik ben hier*x .") == ("Dag mevrouw , ik ben hier .",
                                                                       "")
    assert clean_cgn_text("zeg*a gesloten")[0] == "zeg gesloten"  # fragment kept
    assert clean_cgn_text("ja*d nee*z nieuw*n oei*t mis*u")[0] == "ja nee nieuw oei mis"
    assert clean_cgn_text("ggg dat is grappig ggg .")[0] == "dat is grappig ."
    assert clean_cgn_text("ggg .") == (None, "no_speech")
    assert clean_cgn_text("Xxx en toen .") == (None, "unintelligible")
    assert clean_cgn_text("achten-xxx-tig") == (None, "unintelligible")
    assert clean_cgn_text("uh ja uhm .")[0] == "uh ja uhm ."
    assert clean_cgn_text("Uh ja uhm .", drop_filled_pauses=True)[0] == "ja ."


def test_parse_textgrid_short_and_long_formats_agree():
    short = parse_textgrid(textgrid(6.0, REC1))
    long = parse_textgrid(textgrid_long(6.0, REC1))
    assert short == long
    assert [t.name for t in short] == ["V40001", "V40002", "BACKGROUND"]
    assert short[0].intervals[4] == Interval(3.5, 5.0, "Het café is zeg*a gesloten .")
    quoted = parse_textgrid(textgrid(1.0, [("V40001", [(0, 1.0, 'hij zei "ja"')])]))
    assert quoted[0].intervals[0].text == 'hij zei "ja"'


def test_parse_textgrid_garbage_and_truncation_raise_naming_the_file():
    with pytest.raises(CorpusError, match=r"x\.ort: not a Praat text file"):
        parse_textgrid('"hello" "world"', "x.ort")
    full = textgrid(6.0, REC1)
    with pytest.raises(CorpusError, match=r"x\.ort: ends early"):
        parse_textgrid(full[:full.index('"Het')], "x.ort")
    with pytest.raises(CorpusError, match=r"x\.ort:\d+: string never closed"):
        parse_textgrid(full[:full.index("zeg*a")], "x.ort")
    with pytest.raises(CorpusError, match=r"x\.ort:1: unexpected '\{'"):
        parse_textgrid("{binary}", "x.ort")


def test_prepare_cgn_writes_valid_flemish_dir_with_normalised_text(cgn_root, tmp_path):
    out = cgn.prepare_cgn(cgn_root, tmp_path / "out", nj=1)
    d = out["all"]
    assert d == tmp_path / "out/cgn_vl"
    stats = validate_data_dir(d)
    assert stats.languages == ["nl"] and stats.num_speakers == 4
    text = read_kaldi_map(d / "text")
    assert text == {u: t for u, (t, _, _) in EXPECTED.items()}  # nl recording not included
    assert read_kaldi_map(d / "text.ort")["cgn_V40001_fv400001_00003500"] == (
        "Het café is zeg*a gesloten .")  # latin-1 decoded, as written in CGN
    assert read_kaldi_map(d / "spk2gender") == {"cgn_V40001": "f", "cgn_V40002": "m",
                                                "cgn_V40003": "m", "cgn_V40004": "f"}
    # Each chunk is its own 16 kHz mono WAV exactly as long as its interval.
    durs = read_kaldi_map(d / "utt2dur")
    for utt, path in read_kaldi_map(d / "wav.scp").items():
        _, start, end = EXPECTED[utt]
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert info.frames / 16000 == pytest.approx(end - start, abs=1e-3)
        assert float(durs[utt]) == pytest.approx(end - start, abs=1e-3)
    assert Path(path).parent == (tmp_path / "out/audio/cgn_vl").resolve()
    assert skipped(d) == {"no_speech": 1, "overlapping_speech": 2, "too_short": 1,
                          "unintelligible": 1}
    listing = (d / "skipped.txt").read_text(encoding="utf-8")
    assert "unintelligible\tcomp-o/vl/fv400001:cgn_V40001:2.000-3.500 (xxx .)" in listing
    assert "overlapping_speech\tcomp-o/vl/fv400002:cgn_V40003:2.600-4.000" in listing
    prov = (d / "PROVENANCE.md").read_text(encoding="utf-8")
    assert "CGN licence (Dutch Language Institute), not redistributable" in prov
    assert "CGN release 2.0.3 (from the directory name)" in prov
    assert str(cgn_root.resolve()) in prov and "Debian package" not in prov
    assert "Regions: vl; components: comp-o" in prov and "unintelligible: 1" in prov


def test_prepare_cgn_regions_select_recordings(cgn_root, tmp_path):
    (cgn_root / "data/meta/text/speakers.txt").unlink()  # metadata only: optional
    (cgn_root / "VERSION").write_text("CGN 2.0.3\n", encoding="utf-8")
    out = cgn.prepare_cgn(cgn_root, tmp_path / "out", regions=("vl", "nl"), nj=2)
    assert out["all"].name == "cgn_nl_vl"
    text = read_kaldi_map(out["all"] / "text")
    assert text["cgn_N00001_fn000001_00000500"] == "goedenavond dames en heren"
    assert len(text) == len(EXPECTED) + 1
    assert not (out["all"] / "spk2gender").exists()
    prov = (out["all"] / "PROVENANCE.md").read_text(encoding="utf-8")
    assert "speakers.txt not found" in prov and "CGN release CGN 2.0.3 (from VERSION)" in prov
    assert "Regions: nl, vl; components: comp-k, comp-o" in prov
    with pytest.raises(ConfigError, match="choose from"):
        cgn.prepare_cgn(cgn_root, tmp_path / "out", regions=("be",))


def test_split_is_speaker_disjoint_seeded_and_feeds_the_text_corpus(cgn_root, tmp_path):
    out = cgn.prepare_cgn(cgn_root, tmp_path / "out", nj=1, seed=3)
    spk = {s: set(read_kaldi_map(out[s] / "utt2spk").values()) for s in SPLITS}
    assert all(spk.values())
    assert not spk["train"] & spk["dev"] and not spk["train"] & spk["test"]
    assert not spk["dev"] & spk["test"]
    assert set().union(*spk.values()) == set(read_kaldi_map(out["all"] / "utt2spk").values())
    for s in SPLITS:
        validate_data_dir(out[s])
        assert "split by speaker (seed 3" in (out[s] / "PROVENANCE.md").read_text()
        assert set(read_kaldi_map(out[s] / "utt2dur")) == set(read_kaldi_map(out[s] / "text"))
    again = split_by_speaker(out["all"], seed=3)
    assert {s: set(read_kaldi_map(again[s] / "utt2spk").values()) for s in SPLITS} == spk
    assert out["text"] == tmp_path / "out/cgn_vl_text/sentences.txt"
    sentences = out["text"].read_text(encoding="utf-8").splitlines()
    assert sentences == sorted(set(sentences), key=sentences.index)  # no duplicates
    assert set(sentences) == {u.text for u in read_data_dir(out["train"])}


def test_assign_speakers_needs_three_and_checks_ratios():
    spk = {f"s{i}": 10.0 + i for i in range(20)}
    a = assign_speakers(spk, seed=1)
    assert a == assign_speakers(spk, seed=1) and set(a.values()) == set(SPLITS)
    held = sum(spk[s] for s, part in a.items() if part == "test")
    assert held <= 0.1 * sum(spk.values()) + max(spk.values())
    assert set(assign_speakers({"a": 1.0, "b": 1.0, "c": 50.0}).values()) == set(SPLITS)
    with pytest.raises(CorpusError, match="at least 3"):
        assign_speakers({"a": 1.0, "b": 2.0})
    with pytest.raises(ConfigError, match="dev_ratio"):
        assign_speakers(spk, dev_ratio=0.6, test_ratio=0.5)


def test_prepare_cgn_rerun_keeps_cut_segments(cgn_root, tmp_path):
    out = cgn.prepare_cgn(cgn_root, tmp_path / "out", nj=1)
    seg = Path(read_kaldi_map(out["all"] / "wav.scp")["cgn_V40001_fv400001_00000300"])
    before = seg.stat().st_mtime_ns
    assert cgn.prepare_cgn(cgn_root, tmp_path / "out", nj=1) == out
    assert seg.stat().st_mtime_ns == before
    assert not list(seg.parent.glob(".*.tmp"))  # atomic writes leave no temp files


def test_malformed_recordings_are_skipped_with_reasons(cgn_root, tmp_path):
    audio, annot = cgn_root / "data/audio/wav/comp-o/vl", cgn_root / "data/annot/text/ort/comp-o/vl"
    wav(audio / "fv400003.wav", 4.0)
    (annot / "fv400003.ort.gz").write_bytes(b"this is not gzip")
    wav(audio / "fv400004.wav", 4.0)
    ort(annot / "fv400004.ort.gz", textgrid(9.0, [("V40005", [
        (0, 1.0, ""), (1.0, 2.5, "eerste zin ."), (2.0, 3.0, "tweede zin ."),  # out of order
        (3.0, 9.0, "voorbij het einde ."),  # the audio lasts 4 s
    ])]))
    wav(audio / "fv400005.wav", 1.0)  # no transcript
    ort(annot / "fv400006.ort.gz", textgrid(1.0, [("V40006", [(0, 1.0, "geen audio")])]))
    ort(annot / "fv400007.ort.gz", textgrid(2.0, [("Spreker1", [(0, 2.0, "wie is dit")])]))
    wav(audio / "fv400007.wav", 2.0)
    out = cgn.prepare_cgn(cgn_root, tmp_path / "out", nj=1)
    counts = skipped(out["all"])
    assert counts["unreadable_annotation"] == 1 and counts["interval_out_of_order"] == 1
    assert counts["past_audio_end"] == 1 and counts["no_transcript"] == 1
    assert counts["no_audio"] == 1 and counts["unknown_tier"] == 1
    listing = (out["all"] / "skipped.txt").read_text(encoding="utf-8")
    assert "unreadable_annotation\tcomp-o/vl/fv400003" in listing
    assert "interval_out_of_order\tcomp-o/vl/fv400004:cgn_V40005:2.000-3.000" in listing
    assert "unknown_tier\tcomp-o/vl/fv400007:Spreker1" in listing
    text = read_kaldi_map(out["all"] / "text")
    assert text["cgn_V40005_fv400004_00001000"] == "eerste zin"
    with pytest.raises(CorpusError, match=r"fv400003\.ort\.gz: cannot read the transcript"):
        read_ort(annot / "fv400003.ort.gz")


def test_missing_layout_raises_naming_what_is_missing(cgn_root, tmp_path):
    with pytest.raises(CorpusError, match=r"missing data/annot/text/ort/comp-k/vl/\*\.ort\.gz, "
                                          r"data/audio/wav/comp-k/vl/\*\.wav; expected the CGN 2"):
        cgn.prepare_cgn(cgn_root, tmp_path / "out", components=["k"])
    with pytest.raises(CorpusError, match="looks like the data/ directory itself"):
        cgn.prepare_cgn(cgn_root / "data", tmp_path / "out")
    shutil.rmtree(cgn_root / "data/annot/text/ort/comp-o/vl")
    with pytest.raises(CorpusError, match=r"missing data/annot/text/ort/comp-\*/vl/\*\.ort\.gz;"):
        cgn.prepare_cgn(cgn_root, tmp_path / "out")
    shutil.rmtree(cgn_root / "data/annot")
    with pytest.raises(CorpusError, match=r"CGN root .*: missing data/annot/text/ort;"):
        cgn.prepare_cgn(cgn_root, tmp_path / "out")
    with pytest.raises(CorpusError, match="not a directory"):
        cgn.prepare_cgn(tmp_path / "nowhere", tmp_path / "out")
    with pytest.raises(ConfigError, match="letter a-o"):
        check_layout(cgn_root, components=["z"])


def test_nothing_usable_raises(cgn_root, tmp_path):
    for f in (cgn_root / "data/annot/text/ort/comp-o/vl").glob("*.ort.gz"):
        f.write_bytes(b"corrupt")
    with pytest.raises(CorpusError, match=r"no usable utterance left .*unreadable_annotation"):
        cgn.prepare_cgn(cgn_root, tmp_path / "out", nj=1)


def test_cap_hours_keeps_whole_recordings_in_seeded_order():
    def segs(rec, n):
        return [Segment(f"s_{rec}_{i}", "s", rec, i, i + 1.0, "t", "t") for i in range(n)]
    by_rec = {"r1": segs("r1", 3), "r2": segs("r2", 3), "r3": segs("r3", 3)}
    skips = SkipLog("t")
    kept = cap_hours(by_rec, 4.5 / 3600, seed=1, skips=skips)
    assert sum(len(v) for v in kept.values()) == 4
    assert sorted(len(v) for v in kept.values()) == [1, 3]
    assert skips.counts() == {"over_max_hours": 2}
    assert kept == cap_hours(by_rec, 4.5 / 3600, seed=1, skips=SkipLog("t"))
    assert cap_hours(by_rec, None, 1, skips) is by_rec


def test_overlap_search_matches_brute_force():
    rng = np.random.default_rng(0)
    cuts = np.sort(rng.uniform(0, 100, 80))
    starts, ends = list(cuts[0::2]), list(cuts[1::2])  # a tier: sorted, disjoint intervals
    for s in rng.uniform(-5, 105, 300):
        e = s + rng.uniform(0.01, 8)
        brute = any(min(e, b) - max(s, a) > 0.05 for a, b in zip(starts, ends))
        assert _overlaps(s, e, starts, ends) == brute


def test_overlapping_speech_kept_on_request(cgn_root, tmp_path):
    out = cgn.prepare_cgn(cgn_root, tmp_path / "out", drop_overlaps=False, nj=1)
    text = read_kaldi_map(out["all"] / "text")
    assert text["cgn_V40003_fv400002_00002600"] == "een twee drie"
    assert text["cgn_V40004_fv400002_00003500"] == "vier"
    assert "overlapping_speech" not in skipped(out["all"])


def test_hold_out_speakers_is_seeded_and_leaves_the_pool_speakers():
    spk = {f"s{i}": 10.0 + i for i in range(20)}
    held = hold_out_speakers(spk, 0.1, seed=1)
    assert held == hold_out_speakers(spk, 0.1, seed=1) != hold_out_speakers(spk, 0.1, 2)
    assert 0 < sum(spk[s] for s in held) <= 0.1 * sum(spk.values())
    assert hold_out_speakers({"a": 1.0, "b": 99.0}, 0.01) in ({"a"}, {"b"})  # >= 1 each
    with pytest.raises(CorpusError, match="at least 2"):
        hold_out_speakers({"a": 1.0}, 0.1)
    with pytest.raises(ConfigError, match="text_ratio"):
        hold_out_speakers(spk, 1.0)


def test_prepare_cgn_recipe_marker_options_and_foreign_dirs(cgn_root, tmp_path):
    data = tmp_path / "data"
    foreign = data / "train_nl"
    foreign.mkdir(parents=True)
    (foreign / "wav.scp").write_text("u1 /my/own.wav\n")
    with pytest.raises(DataDirError, match=r"train_nl: holds data that this preparation \(CGN\)"):
        prepare_cgn_recipe(cgn_root, data, nj=1)
    assert (foreign / "wav.scp").read_text() == "u1 /my/own.wav\n"
    shutil.rmtree(foreign)
    out = prepare_cgn_recipe(cgn_root, data, nj=1, dev_max_hours=0.0001)
    assert set(out) == {"pool", "dev", "train", "test", "text"}
    assert len(read_kaldi_map(out["dev"] / "utt2spk")) == 1  # capped, at least one utterance
    stamp = (data / ".cgn_nl.done").stat().st_mtime_ns
    assert prepare_cgn_recipe(cgn_root, data, nj=1, dev_max_hours=0.0001) == out
    assert (data / ".cgn_nl.done").stat().st_mtime_ns == stamp
    with pytest.raises(ConfigError, match=r"other options.*text_ratio.*--force"):
        prepare_cgn_recipe(cgn_root, data, nj=1, dev_max_hours=0.0001, text_ratio=0.3)
    prepare_cgn_recipe(cgn_root, data, nj=1, text_ratio=0.3, force=True)
    assert json.loads((data / ".cgn_nl.done").read_text())["options"]["text_ratio"] == 0.3
