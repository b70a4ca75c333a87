"""Train the toy classifier through the engine; run as one process or under torchrun (see test_ddp.py).

Usage: python ddp_train.py OUT_DIR — rank 0 saves OUT_DIR/final.pt (weights + history)."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

from tests.conftest import make_sampleset
from vaultlab.engine.batches import BatchSpec
from vaultlab.engine.core import Engine, EngineOptions
from vaultlab.engine.distributed import init_from_env, leave_group


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU(),
                                 nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 1))

    def forward(self, x):
        return self.net(x).squeeze(1)


def main(out: Path) -> None:
    torch.set_num_threads(1)
    group = init_from_env("cpu")  # gloo, also where a GPU is visible
    torch.manual_seed(0)
    model = Tiny()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    engine = Engine(EngineOptions(device="cpu"), checkpoint_dir=out / "checkpoints", quiet=True)
    model = engine.prepare(model)
    data = make_sampleset()
    batches = engine.batches(data, BatchSpec(batch_size=16, hflip=True), shuffle=True, seed=5)

    def step(batch):
        return {"loss": nn.functional.binary_cross_entropy_with_logits(model(batch["image"]), batch["label"].float())}

    record = engine.fit("toy", {"model": model}, opt, batches, step, epochs=2, seed=5)
    if group.rank == 0:
        torch.save({"state": model.state_dict(), "history": record.history, "world": group.world}, out / "final.pt")
    leave_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
