"""Upgrades: results, caches and checkpoints name the espnet_ext that wrote them; a reader accepts
the formats it knows (unstamped summaries included) and refuses others naming the writer."""

import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import espnet_ext
from espnet_ext.errors import ConfigError, DataDirError, XlingError
from espnet_ext.evaluation.results import collect_results
from espnet_ext.evaluation.scoring import score_files
from espnet_ext.features.extract import (
    extract_features,
    is_complete,
    make_cache_key,
    read_cache_info,
)
from espnet_ext.data.subset import combine_data_dirs
from espnet_ext.upstream.hub import read_export_info
from espnet_ext.versioning import (
    EXPORTED_UPSTREAM,
    FEATURE_CACHE,
    OFFLINE_CORPUS,
    POOLED_DATA_DIR,
    PROBE_RESULT,
    PROBE_SET,
    SCORE_SUMMARY,
    STEP_MARKERS,
    check,
    stamp,
)
from tests.conftest import REPO_ROOT, make_data_dir

VERSION = espnet_ext.__version__
FUTURE = {"espnet_ext_version": "9.9.9"}


def test_setup_py_reads_the_one_version_source():
    out = subprocess.run([sys.executable, "setup.py", "--version"], cwd=REPO_ROOT, check=True,
                         capture_output=True, text=True).stdout.split()
    assert out[-1] == VERSION


def test_check_accepts_known_formats_and_refuses_others_naming_the_writer():
    assert stamp(SCORE_SUMMARY) == {"espnet_ext_version": VERSION, "format": 1}
    assert check(stamp(SCORE_SUMMARY), SCORE_SUMMARY, "s.json") == 1
    assert check({"wer": 1.0}, SCORE_SUMMARY, "s.json") == 1  # unstamped: before stamping
    with pytest.raises(XlingError, match=re.escape(
            f"s.json: score summary written by espnet_ext 9.9.9 (format 2); this is espnet_ext "
            f"{VERSION}, which reads formats 1: upgrade espnet_ext to read it, or rerun stage 8 "
            "(scoring) with this version")):
        check({**FUTURE, "format": 2}, SCORE_SUMMARY, "s.json")
    with pytest.raises(XlingError, match=r"\(format 0\).*: rerun stage 8 \(scoring\) with this"):
        check({"format": 0}, SCORE_SUMMARY, "s.json")  # older than readable: no "upgrade"
    for bad in (True, "1", 1.0, None):
        with pytest.raises(XlingError, match="expected an integer"):
            check({"format": bad}, SCORE_SUMMARY, "s.json")
    with pytest.raises(ConfigError, match="without a format stamp.*stage 4"):
        check({"method": "apc"}, EXPORTED_UPSTREAM, "up.pt", error=ConfigError)
    with pytest.raises(XlingError, match="not a score summary"):
        check([1, 2], SCORE_SUMMARY, "s.json")


# --- score summaries ------------------------------------------------------------------------------


def _scored_exp(root: Path) -> Path:
    d = root / "asr_fbank_es" / "decode_x" / "test_es"
    d.mkdir(parents=True)
    (d / "ref").write_text("u1 hola mundo\nu2 buenos dias\n", encoding="utf-8")
    (d / "hyp").write_text("u1 hola mundo\nu2 buenas dias\n", encoding="utf-8")
    score_files(d / "ref", d / "hyp", "es", d / "score",
                meta={"upstream": "fbank", "test_set": "test_es"})
    return d / "score" / "summary.json"


def test_summary_is_stamped_and_otherwise_unchanged(tmp_path):
    s = json.loads(_scored_exp(tmp_path).read_text(encoding="utf-8"))
    assert s["espnet_ext_version"] == VERSION and s["format"] == SCORE_SUMMARY.current
    assert s["wer"] == 25.0 and s["meta"]["upstream"] == "fbank"


def test_unstamped_summary_from_before_stamping_is_still_read(tmp_path):
    f = _scored_exp(tmp_path)
    stamped = collect_results(tmp_path)
    s = json.loads(f.read_text(encoding="utf-8"))
    del s["espnet_ext_version"], s["format"]
    f.write_text(json.dumps(s), encoding="utf-8")
    assert collect_results(tmp_path) == stamped


def test_summary_of_a_future_format_is_refused_naming_its_writer(tmp_path):
    f = _scored_exp(tmp_path)
    s = json.loads(f.read_text(encoding="utf-8"))
    f.write_text(json.dumps({**s, **FUTURE, "format": 2}), encoding="utf-8")
    with pytest.raises(XlingError, match=re.escape(str(f)) + r": score summary written by "
                       r"espnet_ext 9\.9\.9 \(format 2\).*rerun stage 8"):
        collect_results(tmp_path)


def test_malformed_summary_is_refused_naming_the_file(tmp_path):
    f = _scored_exp(tmp_path)
    for bad in ({"format": 1}, {"word": 3, "char": {}, "language": "es"}, [1]):
        f.write_text(json.dumps(bad), encoding="utf-8")
        with pytest.raises(XlingError, match=re.escape(str(f))):
            collect_results(tmp_path)


# --- feature caches -------------------------------------------------------------------------------


class _TinyUpstream(torch.nn.Module):
    """Two 3-dim "layers" at a 10 ms hop, cut from the waveform: enough to fill a cache."""

    num_layers = 2
    hidden_sizes = [3, 3]
    downsample_rates = [160, 160]

    def forward(self, wavs, wavs_len):
        t = wavs.size(1) // 160
        hs = wavs[:, : t * 160].reshape(wavs.size(0), t, 160)[:, :, :3]
        lens = torch.full((wavs.size(0),), t, dtype=torch.long)
        return [hs, 2 * hs], [lens, lens]


@pytest.fixture
def cache(tmp_path):
    data = make_data_dir(tmp_path / "test_es", {"a": "hola", "b": "adios"})
    key = make_cache_key("tiny", data, None, "float32")
    out = extract_features(_TinyUpstream(), data, tmp_path / "cache", key,
                           upstream_name="tiny", progress=False)
    return data, key, out


def _rewrite(cache_dir: Path, **fields) -> None:
    info = json.loads((cache_dir / "cache.json").read_text())
    info.update(fields)
    for k in [k for k, v in fields.items() if v is None]:
        del info[k]
    (cache_dir / "cache.json").write_text(json.dumps(info))


def test_cache_is_stamped_and_an_old_one_is_read(cache):
    data, key, out = cache
    info = read_cache_info(out)
    assert info["espnet_ext_version"] == VERSION and info["format"] == FEATURE_CACHE.current
    _rewrite(out, espnet_ext_version=None)  # today's caches: "format": 1, no version
    assert read_cache_info(out)["num_layers"] == 2 and is_complete(out, key)
    _rewrite(out, format=None)  # none was ever written without "format"; same layout if so
    assert read_cache_info(out)["num_layers"] == 2 and is_complete(out, key)


def test_cache_of_a_future_format_is_refused_on_read_and_rebuilt_not_reused(cache, tmp_path,
                                                                          caplog):
    data, key, out = cache
    _rewrite(out, format=2, **FUTURE)
    with pytest.raises(DataDirError, match=re.escape(str(out / "cache.json")) + r": feature "
                       r"cache written by espnet_ext 9\.9\.9 \(format 2\).*rerun stage 5"):
        read_cache_info(out)
    with caplog.at_level(logging.INFO):
        assert not is_complete(out, key)
        again = extract_features(_TinyUpstream(), data, tmp_path / "cache", key,
                                 upstream_name="tiny", progress=False)
    assert again == out and "Stale feature cache, not reused" in caplog.text
    assert "espnet_ext 9.9.9" in caplog.text and "Reusing" not in caplog.text
    assert read_cache_info(out)["format"] == FEATURE_CACHE.current


def test_unreadable_cache_json_is_stale_not_a_crash(cache):
    data, key, out = cache
    (out / "cache.json").write_text("{not json")
    assert not is_complete(out, key)
    with pytest.raises(DataDirError, match="unreadable feature cache info"):
        read_cache_info(out)


# --- exported upstream checkpoints ----------------------------------------------------------------


def _export(path: Path, **block) -> Path:
    torch.save({"xling": {**stamp(EXPORTED_UPSTREAM), "method": "apc", **block},
                "model": {"w": torch.zeros(2)}}, path)
    return path


def test_exported_checkpoint_of_a_known_format_is_read(tmp_path):
    info = read_export_info(_export(tmp_path / "new.pt"), "apc", "xling_apc")
    assert info["format_version"] == 1 and info["espnet_ext_version"] == VERSION
    old = _export(tmp_path / "old.pt", espnet_ext_version="0.0.1")  # an older writer, format 1
    assert read_export_info(old, "apc", "xling_apc")["espnet_ext_version"] == "0.0.1"


def test_exported_checkpoint_of_a_future_format_is_refused_naming_its_writer(tmp_path):
    f = _export(tmp_path / "future.pt", format_version=2, **FUTURE)
    with pytest.raises(ConfigError, match=re.escape(str(f)) + r".*written by espnet_ext 9\.9\.9 "
                       r"\(export format 2\).*reads export formats 1: upgrade espnet_ext.*stage 4"):
        read_export_info(f, "apc", "xling_apc")
    f = _export(tmp_path / "unstamped.pt")
    state = torch.load(f, weights_only=True)
    del state["xling"]["format_version"]
    torch.save(state, f)
    with pytest.raises(ConfigError, match="without a format stamp"):
        read_export_info(f, "apc", "xling_apc")


# --- step markers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", STEP_MARKERS, ids=lambda f: f.what)
def test_step_marker_versions_are_registered_and_others_refused(fmt):
    assert fmt.key == "version" and fmt.current in fmt.readable
    assert check({"version": fmt.current}, fmt, ".done") == fmt.current
    with pytest.raises(XlingError, match=rf"\.done: {fmt.what} .*\(marker version "
                                         rf"{fmt.current + 1}\)"):
        check({"version": fmt.current + 1}, fmt, ".done")


def test_step_markers_record_their_registered_version():
    from espnet_ext.analysis import probe, probe_speech
    from espnet_ext.data.corpora import offline

    assert probe_speech.PROBE_SET_VERSION == PROBE_SET.current
    assert probe.PROBE_VERSION == PROBE_RESULT.current
    assert offline.MARKER_VERSION == OFFLINE_CORPUS.current


def test_pooled_dir_marker_of_another_version_is_redone(tmp_path):
    a = make_data_dir(tmp_path / "a", {"x": "hola"}, spk="spka")
    b = make_data_dir(tmp_path / "b", {"y": "adios"}, spk="spkb")
    out = combine_data_dirs([a, b], tmp_path / "pool")
    marker = out / ".done"
    record = json.loads(marker.read_text(encoding="utf-8"))
    assert record["version"] == POOLED_DATA_DIR.current
    marker.write_text(json.dumps({**record, "version": POOLED_DATA_DIR.current + 1}),
                      encoding="utf-8")
    (out / "utt2idx").unlink()
    combine_data_dirs([a, b], out)
    assert json.loads(marker.read_text(encoding="utf-8")) == record
    assert (out / "utt2idx").is_file()  # redone, not skipped
