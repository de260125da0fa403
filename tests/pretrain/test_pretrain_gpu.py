"""Pre-training on one GPU with mixed precision, as the recipe runs it with ``--ngpu 1``.

Skipped without CUDA (CI has none); run on a GPU machine with ``pytest tests/pretrain -k gpu``.
"""

import copy
import os
import re
import subprocess
import sys

import pytest
import torch
import yaml

from tests.conftest import REPO_ROOT, make_data_dir
from tests.pretrain.test_pretrain import CONFS

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("method", ["apc", "wav2vec2"])
def test_gpu_pretraining_with_amp_and_accum_grad(method, tmp_path):
    data = make_data_dir(tmp_path / "data", {f"u{i}": "x" for i in range(8)}, lang="nl",
                         seconds=1.5)
    import soundfile as sf

    shape = tmp_path / "speech_shape"
    shape.write_text("".join(f"{u} {sf.info(p).frames}\n" for u, p in
                             (ln.split(maxsplit=1) for ln in
                              (data / "wav.scp").read_text().splitlines())))
    config = tmp_path / "config.yaml"
    model_conf = copy.deepcopy(CONFS[method])
    if method == "wav2vec2":  # encoder wider than the CNN: the projection runs under autocast
        model_conf["model"].update(encoder_embed_dim=64, encoder_ffn_embed_dim=128)
    config.write_text(yaml.safe_dump({
        "model": method, "model_conf": model_conf, "batch_type": "numel",
        "batch_bins": 100000, "num_iters_per_epoch": 4, "max_epoch": 2, "accum_grad": 2,
        "use_amp": True, "optim": "adam", "optim_conf": {"lr": 0.001}, "num_workers": 0,
        "best_model_criterion": [["valid", "loss", "min"]], "keep_nbest_models": 1}))
    scp = f"{data}/wav.scp,speech,sound"
    out = tmp_path / "exp"
    cmd = [sys.executable, "-m", "espnet_ext.bin.pretrain_train", "--config", str(config),
           "--train_data_path_and_name_and_type", scp, "--valid_data_path_and_name_and_type", scp,
           "--train_shape_file", str(shape), "--valid_shape_file", str(shape),
           "--ngpu", "1", "--seed", "1", "--use_tensorboard", "true", "--output_dir", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(
                              [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])})
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (out / "2epoch.pth").exists() and (out / "valid.loss.best.pth").exists()
    assert (out / "tensorboard").is_dir()
    scales = [float(x) for x in re.findall(r"epoch results: \[train\].*?\bloss_scale=([0-9.e+-]+)",
                                           proc.stderr)]
    assert scales and scales[0] > 1.0  # AMP's grad scaler was active (1.0 without AMP)
    losses = [float(x) for x in re.findall(r"epoch results: \[train\].*?\bloss=([0-9.e+-]+)",
                                           proc.stderr)]
    print(f"{method} on {torch.cuda.get_device_name()}: train loss per epoch {losses}")
    assert len(losses) == 2 and all(v == v and abs(v) < 1e6 for v in losses)
