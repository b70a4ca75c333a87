"""A hand-built 32-px SampleSet (3 domains, 7 subjects) and a quiet CPU context for recipe tests."""

from __future__ import annotations

import numpy as np
from vaultlab.data.protocols import make_splits
from vaultlab.data.sampleset import SampleSet
from vaultlab.engine.core import Engine, EngineOptions
from vaultlab.recipes.base import RecipeContext

PARSING_CLASSES = ["bg", "skin", "brows", "eyes", "nose", "mouth", "hair"]
SIZE = 32


def _face(rng: np.random.Generator, tint: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A shaded ellipse head: image, depth (uint8, 0 outside the face), 7-class parsing."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    cx, cy = SIZE / 2 + rng.uniform(-1.5, 1.5), SIZE / 2 + rng.uniform(-1.5, 1.5)
    r2 = ((x - cx) / (SIZE * 0.33)) ** 2 + ((y - cy) / (SIZE * 0.42)) ** 2
    face = r2 < 1
    height = np.where(face, np.sqrt(np.clip(1 - r2, 0, 1)), 0.0)
    shade = 0.35 + 0.65 * height
    image = np.where(face[..., None], shade[..., None] * np.array([0.9, 0.7, 0.6]), 0.3) * tint
    parsing = np.zeros((SIZE, SIZE), np.uint8)
    parsing[face] = 1
    parsing[face & (np.abs(y - cy + 4) < 1.5) & (np.abs(np.abs(x - cx) - 4) < 2)] = 3
    parsing[face & (np.abs(y - cy) < 2) & (np.abs(x - cx) < 1.5)] = 4
    parsing[face & (np.abs(y - cy - 6) < 1) & (np.abs(x - cx) < 3)] = 5
    depth = np.where(face, np.maximum(1, np.round(255 * height)), 0).astype(np.uint8)
    return image, depth, parsing


def build_tiny_sampleset(seed: int = 0, subjects: int = 7, domains: int = 3) -> SampleSet:
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {k: [] for k in ("images", "label", "pai", "domain", "subject", "video", "split", "depth", "parsing")}
    split_of = ["train", "train", "train", "dev", "dev", "test", "test"]
    for s in range(subjects):
        for d in range(domains):
            tint = np.array([1.0, 1.0, 1.0]) + 0.15 * np.array([np.sin(d), np.cos(2 * d), np.sin(3 * d + 1)])
            for kind in ("", "", "print-lq", "replay-lq"):
                image, depth, parsing = _face(rng, tint)
                if kind.startswith("print"):  # flat, washed out, halftone dots
                    image = 0.6 * image + 0.25 + 0.12 * ((np.indices((SIZE, SIZE)).sum(0) % 3 == 0)[..., None])
                elif kind.startswith("replay"):  # stripes and a colour cast
                    image = image * (0.8 + 0.3 * (np.arange(SIZE) % 2 == 0)[None, :, None]) * np.array([0.9, 1.0, 1.2])
                image = np.clip(image + rng.normal(0, 0.02, image.shape), 0, 1)
                video = f"s{s}-D{d}-{kind or 'live'}-{len(rows['video'])}"
                for key, value in (("images", (image * 255).astype(np.uint8)), ("label", 0 if kind else 1), ("pai", kind),
                                   ("domain", f"D{d}"), ("subject", f"s{s}"), ("video", video), ("split", split_of[s % len(split_of)]),
                                   ("depth", depth if not kind else np.zeros_like(depth)), ("parsing", parsing)):
                    rows[key].append(value)
    return SampleSet(images=np.stack(rows["images"]), label=np.array(rows["label"], np.int64), pai=np.array(rows["pai"]),
                     domain=np.array(rows["domain"]), subject=np.array(rows["subject"]), video=np.array(rows["video"]),
                     split=np.array(rows["split"]), depth=np.stack(rows["depth"]), parsing=np.stack(rows["parsing"]),
                     meta={"name": "tiny", "parsing_classes": PARSING_CLASSES})


def make_context(data: SampleSet, protocol: str, hp: dict, components: dict, seed: int = 0) -> RecipeContext:
    engine = Engine(EngineOptions(device="cpu", deterministic=False, threads=1), quiet=True)
    return RecipeContext(splits=make_splits(data, protocol), engine=engine, hp=dict(hp), components=dict(components), seed=seed, profile="test")


def epoch_losses(ctx: RecipeContext, stage: str, key: str = "loss") -> list[float]:
    return [entry[key] for entry in ctx.engine.stages[stage].history]
