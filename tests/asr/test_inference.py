"""CTC best-path decoding and the sets file of espnet_ext.asr.inference (``ctc_greedy: true`` decode configs)."""

from types import SimpleNamespace

import pytest
import torch
import yaml

from espnet_ext.asr.inference import ctc_best_path_decode, split_greedy_config, split_sets_file


def test_best_path_merges_repeats_and_drops_blanks():
    # frames: a a <b> a b b <b> <eos>  -> "a a b" (a blank separates the two a's)
    vocab = ["<blank>", "a", "b", "<sos/eos>"]
    frames = [1, 1, 0, 1, 2, 2, 0, 3]
    logits = torch.full((len(frames), len(vocab)), -5.0)
    logits[torch.arange(len(frames)), torch.tensor(frames)] = 5.0
    model = SimpleNamespace(ctc=SimpleNamespace(log_softmax=lambda x: torch.log_softmax(x, -1)),
                            eos=3)
    fake = SimpleNamespace(asr_model=model,
                           converter=SimpleNamespace(ids2tokens=lambda ids: [vocab[i] for i in ids]),
                           tokenizer=SimpleNamespace(tokens2text=" ".join))
    [(text, token, token_int, hyp)] = ctc_best_path_decode(fake, logits)
    assert token_int == [1, 1, 2] and text == "a a b"
    assert hyp.score == pytest.approx(float(torch.log_softmax(logits, -1).max(-1).values.sum()))


def test_greedy_key_is_removed_from_the_config_espnet_sees(tmp_path):
    conf = tmp_path / "decode.yaml"
    conf.write_text("ctc_greedy: true\nbeam_size: 1\nctc_weight: 1.0\n")
    greedy, cmd = split_greedy_config(["--config", str(conf), "--output_dir", str(tmp_path / "o")])
    assert greedy
    seen = yaml.safe_load(open(cmd[cmd.index("--config") + 1]))
    assert seen == {"beam_size": 1, "ctc_weight": 1.0}

    conf.write_text("beam_size: 5\n")
    assert split_greedy_config(["--config", str(conf)]) == (False, ["--config", str(conf)])
    conf.write_text("ctc_greedy: yes please\n")
    with pytest.raises(SystemExit, match="ctc_greedy must be true or false"):
        split_greedy_config(["--config", str(conf)])


def test_sets_file_gives_one_run_per_test_set(tmp_path):
    sets = tmp_path / "sets.1"
    sets.write_text("out/a keys/a.scp data/a/wav.scp,speech,sound\n\n"
                    "out/b keys/b.scp dump/b/feats.scp,speech,kaldi_ark\n")
    got, rest = split_sets_file(["--sets_file", str(sets), "--batch_size", "1"])
    assert rest == ["--batch_size", "1"]
    assert got == [("out/a", "keys/a.scp", "data/a/wav.scp,speech,sound"),
                   ("out/b", "keys/b.scp", "dump/b/feats.scp,speech,kaldi_ark")]
    assert split_sets_file(["--batch_size", "1"]) == (None, ["--batch_size", "1"])
    sets.write_text("out/a keys/a.scp\n")
    with pytest.raises(SystemExit, match="sets.1:1: expected OUTPUT_DIR KEY_FILE"):
        split_sets_file(["--sets_file", str(sets)])
