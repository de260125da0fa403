"""Token lists: ESPnet's layout (<blank> first, <sos/eos> last), BPE shrinks to fit the text."""

import pytest

from espnet_ext.errors import DataDirError
from espnet_ext.text.tokens import build_token_list


@pytest.fixture
def text_file(tmp_path):
    f = tmp_path / "text"
    f.write_text("a1 hola mundo\na2 buenos dias\na3 adios amigo\n", encoding="utf-8")
    return f


def test_char_token_list(text_file, tmp_path):
    tokens = build_token_list(text_file, tmp_path / "char", "char").read_text(encoding="utf-8").split()
    assert tokens[0] == "<blank>" and tokens[1] == "<unk>" and tokens[-1] == "<sos/eos>"
    assert "<space>" in tokens and set("holamundbeisg") <= set(tokens)


def test_bpe_token_list_is_reproducible(text_file, tmp_path):
    t1 = build_token_list(text_file, tmp_path / "b1", "bpe", nbpe=500).read_text(encoding="utf-8")
    t2 = build_token_list(text_file, tmp_path / "b2", "bpe", nbpe=500).read_text(encoding="utf-8")
    assert t1 == t2
    assert (tmp_path / "b1" / "bpe.model").exists()
    assert t1.split()[0] == "<blank>" and t1.split()[-1] == "<sos/eos>"


def test_unknown_token_type(text_file, tmp_path):
    with pytest.raises(DataDirError, match="token_type 'word'"):
        build_token_list(text_file, tmp_path / "w", "word")
