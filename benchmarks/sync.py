"""How fast is the `vaultlab sync` a user types, end to end? (make bench)

Builds vaults shaped like the user's seed notes and times the command itself — a subprocess, its
output going to a file — against python-frontmatter loading the same notes (also a subprocess, so
both pay the interpreter start):

  unique     N notes, each a different paper (own title, DOI, URL)
  duplicates N notes whose titles repeat (groups of --group notes share one paper title)

For each vault: cold = the first sync (no parse cache; it writes experiment/progress into every
note), warm = the next one (nothing to change: parse cache and sync memo used), peak RSS of the
sync process, and where the CPU time of each goes, stage by stage. Targets (issue 10): cold ≤ 1.0×
python-frontmatter's load; warm ≤ 25 % of cold; memory flat in the number of duplicates. Each
figure is the best of --repeat runs (wall seconds; on a shared machine the neighbours inflate them
— the CPU column is the child's user+system time).

The floor beside them: a bare Python loop doing only the file work of a cold sync — read every
note, write its new version to a temp file beside it, one ``syncfs``, rename each over its note
(8 threads, as ``ChangeSet.apply``) — no parsing at all. No sync can be faster than that on the disk.

The cold sync must not pay for the benchmark's own file work, so every vault copy a run needs is
made (and flushed, ``os.sync``) before the first sync, and nothing is deleted until the end. On
ext4 without a journal (this project's machines) deleting files is costly for whoever creates files
next: a new inode skips every inode freed in the last minute (``recently_deleted``, checked one by
one), so after the 10,000 deletions of replacing the previous copy each temp file a sync creates
cost ~1 ms of kernel time. A user's vault is not re-created seconds before they sync it.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

H1 = re.compile(r"^# .*$", re.M)
BACKBONE = re.compile(r"^- \*\*Backbone:\*\* .*$", re.M)
REPO = Path(__file__).resolve().parents[1]
SEEDS = sorted((REPO / "example_vault").glob("*.md"))
METHODS = ["Anomaly", "Distillation", "OneSideTriplet", "DepthSeg", "Baseline", "Contrastive"]
BACKBONES = ["ResNet50", "AlexNet", "DepthNet+UNet", "PSPNet, DeepLabv3+", "ViT-B/16", "MobileNetV3"]
WORDS = ("face anti spoofing deep learning domain generalization adaptation presentation attack detection "
         "depth supervision contrastive meta triplet central difference transformer auxiliary pixel wise "
         "binary cross modal learning robust live spoof texture frequency temporal rppg").split()


def paper_title(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randrange(6, 11))).title()


def build_vault(root: Path, count: int, *, seed: int = 0, group: int = 1) -> None:
    """``count`` notes in 20 folders, each a seed note with its own paper identity (title, DOI,
    URL, alias), method, backbone and ticked tasks; ``group`` > 1 repeats each title that many
    times (and drops the DOI/URL, as in a vault where the same paper was noted twice)."""
    rng = random.Random(seed)
    templates = [p.read_text(encoding="utf-8") for p in SEEDS]
    (root / ".obsidian").mkdir(parents=True)
    shutil.copy(REPO / "example_vault/.obsidian/types.json", root / ".obsidian/types.json")
    shutil.copy(REPO / "example_vault/.obsidian/app.json", root / ".obsidian/app.json")
    titles = [paper_title(rng) + f" {i}" for i in range(count // group + 1)]
    for i in range(count):
        text = templates[i % len(templates)]
        title = titles[i // group]
        head, _, body = text.partition("\n---\n")
        lines = []
        for line in head.split("\n"):
            key = line.split(":", 1)[0]
            if key == "aliases":
                line = f'aliases: ["{title}"]'
            elif key == "doi":
                line = "doi: " if group > 1 else f"doi: 10.{1000 + i % 9000}/fas.{i:06d}"
            elif key == "paper_url":
                line = "paper_url: " if group > 1 else f"paper_url: https://papers.example.org/{i:06d}"
            elif key == "year":
                line = f"year: {rng.choice(range(2012, 2026))}"
            elif key == "priority":
                line = f"priority: {rng.choice(['low', 'medium', 'high'])}"
            lines.append(line)
        body, titled = H1.subn(f"# {title}", body, count=1)
        if not titled:
            body = f"\n# {title}\n" + body
        for method in METHODS[:4]:
            body = body.replace(f"**Method:** {method}", f"**Method:** {rng.choice(METHODS)}", 1)
        body = BACKBONE.sub(f"- **Backbone:** {rng.choice(BACKBONES)}", body, count=1)
        for _ in range(rng.randrange(0, 8)):
            body = body.replace("\n- [ ] ", "\n- [x] ", 1) if rng.random() < 0.5 else body
        body += f"\nNote {i}: {rng.random():.6f}\n" * rng.randrange(0, 3)
        folder = root / f"papers-{i % 20:02d}"
        folder.mkdir(exist_ok=True)
        (folder / f"{i:05d}_{rng.getrandbits(32):08x}.md").write_text("\n".join(lines) + "\n---\n" + body, encoding="utf-8")


def timed(command: list[str], output: Path) -> tuple[float, float, float, int]:
    """(wall s, child CPU s, peak RSS MiB, exit code) of one subprocess, stdout+stderr to ``output``."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1", "COLUMNS": "80"}
    with open(output, "wb") as sink:
        t0 = time.perf_counter()
        proc = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode


def sync_command(root: Path) -> list[str]:
    return [sys.executable, "-m", "vaultlab", "sync", str(root)]


FRONTMATTER_LOAD = "import sys, pathlib, frontmatter\nfor p in sorted(pathlib.Path(sys.argv[1]).rglob('*.md')): frontmatter.load(p)\n"

FLOOR = """\
import ctypes, os, pathlib, sys
from concurrent.futures import ThreadPoolExecutor
root = sys.argv[1]
notes = [str(p) for p in sorted(pathlib.Path(root).rglob('*.md')) if '/.' not in str(p)[len(root):]]
def stage(path):
    fd = os.open(path, os.O_RDONLY)
    old = os.read(fd, os.fstat(fd).st_size + 1)
    os.close(fd)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, old.replace(b"\\n---\\n", b"\\nexperiment: x\\n---\\n", 1))
    os.close(fd)
    return tmp
with ThreadPoolExecutor(8) as pool:
    temps = list(pool.map(stage, notes, chunksize=64))
fd = os.open(root, os.O_RDONLY)
ctypes.CDLL(None).syncfs(fd)
os.close(fd)
with ThreadPoolExecutor(8) as pool:
    list(pool.map(lambda pair: (os.lstat(pair[0]), os.replace(pair[1], pair[0])), zip(notes, temps), chunksize=64))
"""


STAGES = """\
import io, sys, time
t0 = time.process_time()
from vaultlab import cli  # what `python -m vaultlab` imports before it runs a command
imported = time.process_time() - t0
from pathlib import Path
from rich.console import Console
from vaultlab import cli_report, collect as collect_module, workspace, writeback
from vaultlab.vault import memo, write
spent, stack = {}, []

def timed(owner, name, label):
    real = getattr(owner, name)
    def wrapper(*args, **kwargs):
        start = time.process_time()
        stack.append(0.0)
        try:
            return real(*args, **kwargs)
        finally:
            took = time.process_time() - start
            children = stack.pop()
            spent[label] = spent.get(label, 0.0) + took - children  # exclusive of the timed stages inside it
            if stack:
                stack[-1] += took
    setattr(owner, name, wrapper)

timed(memo, "take", "fingerprint the vault (memo)")
timed(memo, "load", "read the memo")
timed(workspace, "load_notes", "load_notes (parse / cache)")
timed(workspace, "load_catalog", "load_catalog")
timed(workspace, "resolve_vault", "resolve_vault")
timed(writeback, "plan_vault", "plan_vault (write-back plan)")
timed(write.ChangeSet, "apply", "apply (stage, syncfs, rename)")
timed(writeback, "next_sync", "next sync (during the renames)")
timed(collect_module, "remember_written", "update the parse cache")
timed(writeback, "remember_outcome", "memo recorded")
timed(cli_report, "print_sync_summary", "print the summary")
t1 = time.process_time()
code = collect_module.collect(Path(sys.argv[1]), console=Console(file=io.StringIO(), width=80))
total = time.process_time() - t1
print(f"    {'imports':<32}{imported:7.2f}")
for label, seconds in spent.items():
    print(f"    {label:<32}{seconds:7.2f}")
print(f"    {'other':<32}{total - sum(spent.values()):7.2f}")
"""


def stages(vault: Path) -> str:
    """CPU seconds of each stage of one sync, in one process: the command's own code path (``collect``),
    each stage timed exclusive of the stages it calls."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", STAGES, str(vault)], env=env, capture_output=True, text=True, check=True).stdout


def fresh_copies(template: Path, work: Path, count: int) -> list[Path]:
    """``count`` copies of ``template``, flushed to disk (the sync should not pay for writing back
    the copy the benchmark just made); none is deleted before the measurements (module docstring)."""
    copies = []
    for _ in range(count):
        copy = Path(tempfile.mkdtemp(prefix="vault-", dir=work))
        shutil.copytree(template, copy, dirs_exist_ok=True)
        copies.append(copy)
    if hasattr(os, "sync"):
        os.sync()
    return copies


def measure(template: Path, work: Path, repeat: int) -> tuple[dict[str, tuple[float, float, float]], str, str]:
    best: dict[str, tuple[float, float, float]] = {}

    def keep(name: str, result: tuple[float, float, float, int]) -> None:
        wall, cpu, rss, code = result
        if code not in (0, 1):
            raise SystemExit(f"{name}: exit code {code}; see {work / (name + '.out')}")
        if name not in best or wall < best[name][0]:
            best[name] = (wall, cpu, rss)

    *vaults, floor_vault, stages_vault = fresh_copies(template, work, repeat + 2)
    for vault in vaults:
        keep("cold", timed(sync_command(vault), work / "cold.out"))
        keep("warm", timed(sync_command(vault), work / "warm.out"))
        if "0 files written" not in (work / "warm.out").read_text(encoding="utf-8"):
            raise SystemExit(f"the second sync still changed files; see {work / 'warm.out'}")
        keep("frontmatter", timed([sys.executable, "-c", FRONTMATTER_LOAD, str(vault)], work / "frontmatter.out"))
    keep("floor", timed([sys.executable, "-c", FLOOR, str(floor_vault)], work / "floor.out"))
    cold_stages = stages(stages_vault)
    warm_stages = stages(stages_vault)
    return best, cold_stages, warm_stages


def report(label: str, notes: int, measured: tuple[dict[str, tuple[float, float, float]], str, str]) -> None:
    best, cold_stages, warm_stages = measured
    (cold, cold_cpu, cold_rss), (warm, warm_cpu, warm_rss), (fm, fm_cpu, _) = best["cold"], best["warm"], best["frontmatter"]
    floor, floor_cpu, _ = best["floor"]
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    print(f"{label}: {notes} notes (load average now {load}: on a busy machine compare the CPU columns)")
    print("                             wall s   CPU s  peak MiB")
    print(f"  cold `vaultlab sync`    : {cold:7.2f} {cold_cpu:7.2f} {cold_rss:8.0f}   "
          f"({cold / fm:4.2f}x python-frontmatter wall, {cold_cpu / fm_cpu:4.2f}x CPU; target <= 1.00x)")
    print(f"  warm `vaultlab sync`    : {warm:7.2f} {warm_cpu:7.2f} {warm_rss:8.0f}   "
          f"({warm / cold:4.0%} of cold wall, {warm_cpu / cold_cpu:4.0%} CPU; target <= 25 %)")
    print(f"  python-frontmatter load : {fm:7.2f} {fm_cpu:7.2f}")
    print(f"  floor: read, temp, syncfs, rename: {floor:5.2f} {floor_cpu:7.2f}   "
          f"({floor / fm:4.2f}x python-frontmatter wall: the least a cold sync's file work costs here)")
    print("  cold sync by stage, CPU s (in-process, the command's code path):")
    print(cold_stages, end="")
    print("  warm sync by stage, CPU s:")
    print(warm_stages, end="")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notes", type=int, nargs="*", default=[1_000, 3_000, 10_000], help="vault sizes of unique papers")
    parser.add_argument("--duplicates", type=int, nargs="*", default=[0, 500, 2_000],
                        help="numbers of duplicate-title notes, each in a 2,000-note vault (memory must stay flat)")
    parser.add_argument("--group", type=int, default=500, help="notes sharing one title in the duplicates vaults")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vaultlab-bench-") as tmp:
        work = Path(tmp)
        for count in args.notes:
            template = work / f"unique-{count}"
            build_vault(template, count)
            report("unique papers", count, measure(template, work, args.repeat))
        for duplicates in args.duplicates:
            template = work / f"dup-{duplicates}"
            total = max(2_000, duplicates)
            build_vault(template, total - duplicates, seed=1)
            if duplicates:
                build_vault(work / f"dups-{duplicates}", duplicates, seed=2, group=args.group)
                for folder in (work / f"dups-{duplicates}").iterdir():
                    if folder.is_dir() and not folder.name.startswith("."):
                        folder.rename(template / f"dup-{folder.name}")  # moved, not copied and deleted
            report(f"duplicates: {duplicates} notes in groups of {args.group} sharing a title", total,
                   measure(template, work, args.repeat))


if __name__ == "__main__":
    main()
