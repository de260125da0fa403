"""split_keys: contiguous parts covering every line once."""

import pytest

from espnet_ext.bin.split_keys import split_scp
from espnet_ext.errors import DataDirError


def test_split_covers_all_lines(tmp_path):
    scp = tmp_path / "wav.scp"
    scp.write_text("".join(f"u{i} /x/{i}.wav\n" for i in range(7)), encoding="utf-8")
    split_scp(str(scp), str(tmp_path / "k"), 3)
    parts = [(tmp_path / f"k.{i}.scp").read_text(encoding="utf-8") for i in (1, 2, 3)]
    assert [p.count("\n") for p in parts] == [3, 2, 2]
    assert "".join(parts) == scp.read_text(encoding="utf-8")


def test_more_splits_than_lines_raises(tmp_path):
    scp = tmp_path / "wav.scp"
    scp.write_text("u1 a\n", encoding="utf-8")
    with pytest.raises(DataDirError, match="cannot be split into 2"):
        split_scp(str(scp), str(tmp_path / "k"), 2)
