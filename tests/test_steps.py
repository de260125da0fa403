"""Step bookkeeping: options-keyed markers (redo or refuse), dir ownership, seeded orders."""

import json
import random

import pytest

from espnet_ext.errors import ConfigError, DataDirError
from espnet_ext.steps import (
    OWNER_FILE,
    REFUSE,
    check_owned,
    claim_dir,
    hash_key,
    is_done,
    item_random,
    mark_done,
    read_marker,
    seeded_order,
    seeded_shuffle,
    sha1_key,
)

OPTIONS = {"seed": 1, "range": (1, 2), "name": "x"}


def test_flat_marker_is_the_sorted_options_and_matches_them_read_back(tmp_path):
    marker = tmp_path / ".done"
    assert not is_done(marker, OPTIONS)
    mark_done(marker, OPTIONS)
    assert marker.read_text(encoding="utf-8") == json.dumps(OPTIONS, indent=1,
                                                          sort_keys=True) + "\n"
    assert is_done(marker, OPTIONS)  # the tuple read back as a list still matches


def test_other_options_redo_and_remove_the_stale_marker(tmp_path):
    marker = tmp_path / ".done"
    mark_done(marker, OPTIONS)
    assert not is_done(marker, {**OPTIONS, "seed": 2}) and not marker.exists()
    marker.write_text("{not json", encoding="utf-8")
    assert not is_done(marker, OPTIONS) and not marker.exists()


def test_a_missing_output_makes_the_marker_stale(tmp_path):
    marker, out = tmp_path / ".out.done", tmp_path / "out.txt"
    mark_done(marker, OPTIONS)
    assert not is_done(marker, OPTIONS, outputs=[out])
    mark_done(marker, OPTIONS)
    out.write_text("x", encoding="utf-8")
    assert is_done(marker, OPTIONS, outputs=[out])


def test_force_redoes_whatever_the_marker_records(tmp_path):
    marker = tmp_path / ".done"
    mark_done(marker, OPTIONS)
    assert not is_done(marker, OPTIONS, force=True) and not marker.exists()


def test_nested_marker_refuses_other_options_naming_them(tmp_path):
    marker = tmp_path / ".corpus_nl.done"
    mark_done(marker, OPTIONS, outputs=["dev_nl", "train_nl"])
    record = json.loads(marker.read_text(encoding="utf-8"))
    assert record == {"options": json.loads(json.dumps(OPTIONS)),
                      "outputs": ["dev_nl", "train_nl"]}
    assert is_done(marker, OPTIONS, on_change=REFUSE, nested=True)
    with pytest.raises(ConfigError, match=r"other options \(differing: \['seed'\].*--force.*"
                                          r"another data root"):
        is_done(marker, {**OPTIONS, "seed": 2}, on_change=REFUSE, nested=True,
                elsewhere="data root")
    assert marker.exists()  # refused: nothing removed
    assert not is_done(marker, {**OPTIONS, "seed": 2}, on_change=REFUSE, nested=True,
                       force=True)
    assert not marker.exists()


def test_unreadable_nested_marker_is_refused_without_force(tmp_path):
    marker = tmp_path / ".corpus_nl.done"
    marker.write_text("[]", encoding="utf-8")
    assert read_marker(marker) == []
    with pytest.raises(ConfigError, match="previous: null"):
        is_done(marker, OPTIONS, on_change=REFUSE, nested=True)


def test_check_owned_refuses_foreign_dirs_and_passes_own_free_or_forced_ones(tmp_path):
    d = tmp_path / "train_nl"
    check_owned(d, "cgn", force=False, who="CGN", elsewhere="data dir")  # free
    d.mkdir()
    (d / "wav.scp").write_text("", encoding="utf-8")
    with pytest.raises(DataDirError, match=rf"did not write \(no \{OWNER_FILE}\).*another "
                                           r"data dir, or pass force"):
        check_owned(d, "cgn", force=False, who="CGN", elsewhere="data dir")
    check_owned(d, "cgn", force=True, who="CGN", elsewhere="data dir")
    claim_dir(d, "fleurs")
    with pytest.raises(DataDirError, match=r"\(written by fleurs\)"):
        check_owned(d, "cgn", force=False, who="CGN", elsewhere="data dir")
    claim_dir(d, "cgn")
    assert (d / OWNER_FILE).read_text(encoding="utf-8") == "cgn\n"
    check_owned(d, "cgn", force=False, who="CGN", elsewhere="data dir")
    # owner None: any dir holding the sign file is ours
    with pytest.raises(DataDirError, match=r"\(no PROVENANCE.md\)"):
        check_owned(d, None, force=False, who="us", elsewhere="out_root", sign="PROVENANCE.md")
    (d / "PROVENANCE.md").write_text("", encoding="utf-8")
    check_owned(d, None, force=False, who="us", elsewhere="out_root", sign="PROVENANCE.md")


def test_seeded_orders_are_fixed_and_a_place_depends_on_the_item_only():
    items = [f"u{i}" for i in range(20)]
    order = seeded_order(items, 7)
    assert order == sorted(items, key=lambda u: hash_key(7, u)) and order != items
    assert seeded_order(items[:10], 7) == [u for u in order if u in items[:10]]
    # The same on every machine (no salted hash): existing selections stay the same.
    assert hash_key(7, "u1") == ("9bfaa8a7a2a827ffaa180b2cb643b2ffae"
                                 "a1f3b1ef66181aba123e109a5102ec")
    assert sha1_key(7, "u1") == "563c5c2053c3d6a7d44b166abc0400238c6c81c6"
    expected = list(items)
    random.Random(3).shuffle(expected)
    assert seeded_shuffle(items, 3) == expected and items == [f"u{i}" for i in range(20)]
    assert item_random(3, "u1").random() == random.Random("3:u1").random()
