"""How fast does sync read a large vault? (make bench)

Builds an N-note vault shaped like the user's seed notes (content varied per note), then prints:
  cold  load_notes + plan, no cache                         (target: <= python-frontmatter load)
  warm  load_notes + plan again, nothing to do, cache used  (target: <= 25 % of cold)
  python-frontmatter: just `frontmatter.load` of the same files, for reference.
Each figure is the best of --repeat runs of process CPU time (time.process_time): on a shared
machine wall time mostly measures the neighbours; wall-clock figures are printed beside it.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from vaultlab.vault.config import VaultConfig  # noqa: E402
from vaultlab.vault.sync import load_notes, plan_sync  # noqa: E402

SEEDS = sorted((REPO / "example_vault").glob("*.md"))
METHODS = ["Anomaly", "Distillation", "OneSideTriplet", "DepthSeg", "Baseline", "Contrastive"]
BACKBONES = ["ResNet50", "AlexNet", "DepthNet+UNet", "PSPNet, DeepLabv3+", "ViT-B/16", "MobileNetV3"]


def build_vault(root: Path, count: int, seed: int = 0) -> None:
    """``count`` notes in 20 folders: seed notes with varied properties, summary and ticked tasks."""
    rng = random.Random(seed)
    templates = [p.read_text(encoding="utf-8") for p in SEEDS]
    (root / ".obsidian").mkdir(parents=True)
    shutil.copy(REPO / "example_vault/.obsidian/types.json", root / ".obsidian/types.json")
    shutil.copy(REPO / "example_vault/.obsidian/app.json", root / ".obsidian/app.json")
    for i in range(count):
        text = templates[i % len(templates)]
        text = text.replace("year: 20", f"year: {rng.choice(['19', '20'])}", 1)
        text = text.replace("priority: medium", f"priority: {rng.choice(['low', 'medium', 'high'])}", 1)
        for method in METHODS[:4]:
            text = text.replace(f"**Method:** {method}", f"**Method:** {rng.choice(METHODS)}", 1)
        text = text.replace("- **Backbone:** ", f"- **Backbone:** {rng.choice(BACKBONES)} / ", 1)
        ticks = rng.randrange(0, 8)
        for _ in range(ticks):
            text = text.replace("\n- [ ] ", "\n- [x] ", 1) if rng.random() < 0.5 else text
        text += f"\nNote {i}: {rng.random():.6f}\n" * rng.randrange(0, 3)
        folder = root / f"papers-{i % 20:02d}"
        folder.mkdir(exist_ok=True)
        (folder / f"{i:05d}_{rng.getrandbits(32):08x}.md").write_text(text, encoding="utf-8")


def sync_once(root: Path, cache: bool = True) -> tuple[tuple[float, float], int]:
    cpu, wall = time.process_time(), time.perf_counter()
    config = VaultConfig.load(root)
    notes, _ = load_notes(root, config, cache=cache)
    papers = [n for n in notes if n.is_paper]
    changes, _ = plan_sync(root, papers, config, {n.relpath: f"exp_{n.stem[:5]}" for n in papers})
    return (time.process_time() - cpu, time.perf_counter() - wall), len(changes.changed)


def frontmatter_load(root: Path) -> tuple[float, float]:
    import frontmatter

    paths = sorted(root.rglob("*.md"))
    cpu, wall = time.process_time(), time.perf_counter()
    for path in paths:
        frontmatter.load(path)
    return time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notes", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vaultlab-bench-") as tmp:
        root = Path(tmp) / "vault"
        build_vault(root, args.notes)
        cache_file = root / ".vaultlab/cache/notes-v1.pickle"
        cold_times, warm_times, fm_times = [], [], []
        for _ in range(args.repeat):
            cache_file.unlink(missing_ok=True)
            seconds, planned = sync_once(root)
            cold_times.append(seconds)
        # Apply once so that the next syncs have nothing to do, then time the warm no-op.
        config = VaultConfig.load(root)
        notes, _ = load_notes(root, config)
        changes, _ = plan_sync(root, notes, config, {n.relpath: f"exp_{n.stem[:5]}" for n in notes if n.is_paper})
        report = changes.apply()
        sync_once(root)  # re-reads the notes just written and refreshes the cache
        for _ in range(args.repeat):
            seconds, left = sync_once(root)
            assert left == 0, f"second sync would still change {left} notes"
            warm_times.append(seconds)
        for _ in range(args.repeat):
            fm_times.append(frontmatter_load(root))
    (cold, cold_wall), (warm, warm_wall), (fm, fm_wall) = min(cold_times), min(warm_times), min(fm_times)
    print(f"notes: {args.notes}  (planned changes on cold run: {planned}, written: {len(report.written)})")
    print("                          CPU s    wall s")
    print(f"cold  load_notes + plan : {cold:7.3f}  {cold_wall:7.3f}  ({cold / args.notes * 1e6:6.1f} us/note CPU)")
    print(f"warm  no-op (cached)    : {warm:7.3f}  {warm_wall:7.3f}  ({warm / cold:6.1%} of cold; target <= 25 %)")
    print(f"python-frontmatter load : {fm:7.3f}  {fm_wall:7.3f}  (cold is {cold / fm:5.2f}x of it; target <= 1.00x)")


if __name__ == "__main__":
    main()
