"""Two CPU processes under real torchrun (gloo) train the same model as one process with the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("ddp_train.py")


def _env() -> dict[str, str]:
    path = os.pathsep.join([str(ROOT), str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])
    return dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS="1")


def test_two_process_torchrun_matches_one_process(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    single = subprocess.run([sys.executable, str(SCRIPT), str(one)], env=_env(), capture_output=True, text=True, timeout=120)
    assert single.returncode == 0, single.stderr
    launched = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                               str(SCRIPT), str(two)], env=_env(), capture_output=True, text=True, timeout=180)
    assert launched.returncode == 0, launched.stdout + launched.stderr
    a, b = torch.load(one / "final.pt"), torch.load(two / "final.pt")
    assert (a["world"], b["world"]) == (1, 2)
    for name, tensor in a["state"].items():
        assert torch.allclose(tensor, b["state"][name], atol=1e-5, rtol=1e-4), name
    assert a["state"]["net.6.weight"].abs().sum() > 0
    # the logged loss is the global batch's mean, not one rank's slice
    for h1, h2 in zip(a["history"], b["history"], strict=True):
        assert abs(h1["loss"] - h2["loss"]) < 1e-5
        assert h1["loss"] != a["history"][0]["loss"] or h1 is a["history"][0]
    assert (two / "checkpoints" / "toy.pt").exists()  # rank 0 checkpoints; resume reuses the engine's files
