"""Engine overhead and SynthFAS generation speed.

Prints:
1. SynthFAS generation img/s at 64 px (target ≥ 2,000 img/s);
2. for each model, training img/s of ``Engine.fit`` against a plain PyTorch loop over the same
   model, optimiser and batches (target: engine ≥ 0.95 × plain): the engine's extras (loss
   read-back and NaN guard every step, progress, a checkpoint per epoch written by a background
   thread, heartbeat, per-epoch seeding) must cost next to nothing. Both loops draw the same batches
   through the same ``Batches`` (balanced, flipped, normalised, as the recipes train), so the data
   path is the same work in both.

Each figure is measured in CPU seconds of this process (all its threads, the checkpoint writer
included) and in wall seconds: on a shared machine the wall time says more about the neighbours
than about the engine, so the CPU ratio is the one to judge by. The loops alternate, and each keeps
its best of ``--repeats``, so a burst of load hits both alike.

    python benchmarks/engine.py [--model alexnet-slim --model resnet18] [--size 64] [--steps 25] [--epochs 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from vaultlab.data.synthfas import SynthFASConfig, generate_synthfas
from vaultlab.engine.batches import BatchSpec
from vaultlab.engine.core import Engine, EngineOptions, seed_everything
from vaultlab.nn.backbones import Classifier, build_backbone

MODELS = {"alexnet-slim": ("alexnet", {"head": "slim"}), "resnet18": ("resnet18", {})}  # the demo's network; a larger one


def plain_loop(model, optimizer, batches, epochs: int, engine: Engine) -> None:
    model.train()
    for epoch in range(epochs):
        for batch in batches.epoch(epoch):
            with engine.autocast():
                loss = F.binary_cross_entropy_with_logits(model(batch["image"]).float(), batch["label"].float())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()


def engine_loop(model, optimizer, batches, epochs: int, engine: Engine) -> None:
    def step(batch):
        return {"loss": F.binary_cross_entropy_with_logits(model(batch["image"]).float(), batch["label"].float())}

    engine.fit("bench", {"model": model}, optimizer, batches, step, epochs)


def timed(loop, model_name: str, batches, epochs: int, engine: Engine) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one training run from the same initial weights."""
    arch, options = MODELS[model_name]
    seed_everything(0)
    model = engine.prepare(Classifier(build_backbone(arch, **options)))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    loop(model, optimizer, batches, epochs, engine)
    if engine.on_cuda:
        torch.cuda.synchronize()
    return time.process_time() - cpu0, time.perf_counter() - wall0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", choices=sorted(MODELS), help="repeatable; default: every one")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=25, help="steps per epoch (the demo's teacher: 25)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--subjects", type=int, default=40)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]

    t0 = time.perf_counter()
    data = generate_synthfas(SynthFASConfig(subjects=args.subjects, image_size=args.size))
    gen_s = time.perf_counter() - t0
    print(f"SynthFAS generation: {len(data)} images at {args.size} px in {gen_s:.1f} s = {len(data) / gen_s:,.0f} img/s (target ≥ 2,000 at 64 px)")

    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(EngineOptions(device=args.device), checkpoint_dir=Path(tmp), quiet=True)
        spec = BatchSpec(batch_size=args.batch, balanced=True, hflip=True)
        batches = engine.batches(data, spec, shuffle=True, steps_per_epoch=args.steps)
        images = args.epochs * len(batches) * batches.batch_size
        print(f"device {engine.device}, {torch.get_num_threads()} threads, {args.size} px, batch {args.batch}, "
              f"{args.epochs} epochs × {args.steps} steps, best of {args.repeats}")
        for model_name in args.model or list(MODELS):
            best = {"plain": [float("inf")] * 2, "engine": [float("inf")] * 2}
            for _ in range(args.repeats):  # interleaved, so drift in machine load hits both alike
                for name, loop in (("plain", plain_loop), ("engine", engine_loop)):
                    cpu, wall = timed(loop, model_name, batches, args.epochs, engine)
                    best[name] = [min(best[name][0], cpu), min(best[name][1], wall)]
            (p_cpu, p_wall), (e_cpu, e_wall) = best["plain"], best["engine"]
            print(f"{model_name:13s} plain loop {images / p_cpu:6,.0f} img/s CPU {images / p_wall:6,.0f} img/s wall · "
                  f"engine {images / e_cpu:6,.0f} img/s CPU {images / e_wall:6,.0f} img/s wall · "
                  f"engine = {p_cpu / e_cpu:.3f} × plain by CPU time, {p_wall / e_wall:.3f} × by wall time (target ≥ 0.95)")
    print(f"load average before {load_before:.2f}, after {os.getloadavg()[0]:.2f} (a shared machine inflates wall times)")


if __name__ == "__main__":
    main()
