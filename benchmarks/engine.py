"""Engine overhead and SynthFAS generation speed.

Prints:
1. training img/s of ``Engine.fit`` against a plain PyTorch loop over the same model, optimiser and
   batches (target: engine ≥ 0.95 × plain) — the engine's extras (progress, NaN guard, checkpoints,
   heartbeat) must cost next to nothing;
2. SynthFAS generation img/s at 64 px (target ≥ 2,000 img/s).

    python benchmarks/engine.py [--model resnet18] [--size 64] [--steps 60] [--device auto]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from vaultlab.data.synthfas import SynthFASConfig, generate_synthfas
from vaultlab.engine.batches import BatchSpec
from vaultlab.engine.core import Engine, EngineOptions, seed_everything
from vaultlab.nn.backbones import Classifier, build_backbone


def plain_loop(model, optimizer, batches, epochs: int, engine: Engine) -> float:
    model.train()
    seen, t0 = 0, time.perf_counter()
    for epoch in range(epochs):
        for batch in batches.epoch(epoch):
            with engine.autocast():
                loss = F.binary_cross_entropy_with_logits(model(batch["image"]).float(), batch["label"].float())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            seen += len(batch["label"])
    if engine.on_cuda:
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - t0)


def engine_loop(model, optimizer, batches, epochs: int, engine: Engine) -> float:
    def step(batch):
        return {"loss": F.binary_cross_entropy_with_logits(model(batch["image"]).float(), batch["label"].float())}

    t0 = time.perf_counter()
    engine.fit("bench", {"model": model}, optimizer, batches, step, epochs)
    if engine.on_cuda:
        torch.cuda.synchronize()
    return epochs * len(batches) * batches.batch_size / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=40, help="steps per epoch")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--subjects", type=int, default=40)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    t0 = time.perf_counter()
    data = generate_synthfas(SynthFASConfig(subjects=args.subjects, image_size=args.size))
    gen_s = time.perf_counter() - t0
    print(f"SynthFAS generation: {len(data)} images at {args.size} px in {gen_s:.1f} s = {len(data) / gen_s:,.0f} img/s (target ≥ 2,000 at 64 px)")

    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(EngineOptions(device=args.device), checkpoint_dir=Path(tmp), quiet=True)
        print(f"device {engine.device}, {torch.get_num_threads()} threads, {args.model} @ {args.size} px, batch {args.batch}")
        batches = engine.batches(data, BatchSpec(batch_size=args.batch), shuffle=True, steps_per_epoch=args.steps)
        results = {"plain": [], "engine": []}
        for _ in range(args.repeats):  # interleave, so drift in machine load hits both alike
            for name, loop in (("plain", plain_loop), ("engine", engine_loop)):
                seed_everything(0)
                model = engine.prepare(Classifier(build_backbone(args.model)))
                optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
                results[name].append(loop(model, optimizer, batches, args.epochs, engine))
        plain, eng = max(results["plain"]), max(results["engine"])
        print(f"plain PyTorch loop: {plain:,.0f} img/s (best of {args.repeats})")
        print(f"vaultlab engine:    {eng:,.0f} img/s (best of {args.repeats}) = {eng / plain:.3f} × plain (target ≥ 0.95)")


if __name__ == "__main__":
    main()
