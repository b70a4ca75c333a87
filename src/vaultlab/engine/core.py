"""The one training/scoring loop every recipe goes through.

A recipe hands ``Engine.fit`` a stage: the modules, an optimiser, batches and a ``step`` that returns
named losses (the key ``"loss"`` is the one optimised). The engine owns everything around it: device,
bf16 autocast and channels_last on CUDA, seeding, a checkpoint per epoch, resume, the NaN guard,
heartbeats and a rich progress line with throughput and ETA. Launched by torchrun (``vaultlab run
--nproc N``), it trains data-parallel (``vaultlab.engine.distributed``); only rank 0 saves checkpoints.

Preemption: ``stop_at_next_step()`` (called from a Slurm signal handler) makes the running ``fit``
finish its current optimiser step, save a mid-epoch checkpoint (weights, optimiser, RNG states, the
epoch's running sums) and raise ``Preempted``; a resumed run replays the epoch's batch order, skips
the steps already trained and continues from exactly that state.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from vaultlab.engine import distributed
from vaultlab.engine.batches import Batches

StepFn = Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]
ScoreFn = Callable[[dict[str, torch.Tensor]], torch.Tensor]


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite."""


class Preempted(KeyboardInterrupt):
    """Training stopped at a step boundary on request (a preemption or time-limit signal); checkpoint saved.
    A KeyboardInterrupt, so the runner records the run as interrupted, not failed."""


_STOP = threading.Event()  # set by stop_at_next_step(); honoured by the running fit
_IN_FIT = threading.Event()


def stop_at_next_step() -> bool:
    """Ask the running ``fit`` to checkpoint and raise ``Preempted`` after its current step. False when no
    single-process fit is running (then the caller must act itself: the last epoch checkpoint is on disk)."""
    if not _IN_FIT.is_set() or distributed.current_group().active:
        return False
    _STOP.set()
    return True


@contextmanager
def _fitting():
    _IN_FIT.set()
    try:
        yield
    finally:
        _IN_FIT.clear()


def _rng_state() -> dict:
    np_state = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": list(random.getstate()[1]),
             "numpy": (torch.from_numpy(np_state[1].astype(np.int64)), int(np_state[2]), int(np_state[3]), float(np_state[4]))}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(int(x) for x in state["python"]), None))
    keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available on this machine (use cpu or auto)")
    return device


def _snapshot(obj):
    """A copy of a (nested) state dict whose tensors are on the CPU and no longer change with training."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _snapshot(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_snapshot(v) for v in obj)
    return obj


def _write_atomic(state, path: Path) -> None:
    tmp = path.with_suffix(".pt.tmp")
    torch.save(state, tmp)
    tmp.replace(path)


class _LossSums:
    """Per-step losses summed where they live, read back (one device wait) only when asked.

    Each sum is float64 in step order, so on CPU, read every step, it equals the Python float sum."""

    def __init__(self) -> None:
        self.totals: dict[str, torch.Tensor] = {}
        self.steps = 0

    def add(self, losses: dict[str, torch.Tensor]) -> None:
        for k, v in losses.items():
            v = v.detach().reshape(()).double()
            self.totals[k] = self.totals[k] + v if k in self.totals else v
        self.steps += 1

    def read(self) -> tuple[dict[str, float], int]:
        keys = list(self.totals)
        values = dict(zip(keys, torch.stack([self.totals[k] for k in keys]).tolist())) if keys else {}
        steps, self.totals, self.steps = self.steps, {}, 0
        return values, steps


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class EngineOptions:
    device: str = "auto"
    amp: bool = True  # bf16 autocast, CUDA only
    channels_last: bool = True  # CUDA only by default; CPU gains are small and not worth a layout copy
    deterministic: bool = True
    threads: int | None = None
    # steps between reading the losses back (finiteness check, progress line): each read waits for the
    # device, so on CUDA it happens every 50 steps (the losses of every step are still summed, on the
    # device); None = 1 on CPU, where reading costs nothing
    nan_check_every: int | None = None


@dataclass
class StageRecord:
    name: str
    history: list[dict] = field(default_factory=list)  # one dict per epoch: epoch, step, seconds, img_per_s, losses
    resumed_from_epoch: int = 0
    seconds: float = 0.0


class Engine:
    def __init__(self, options: EngineOptions | None = None, *, checkpoint_dir: Path | None = None, resume: bool = False,
                 console: Console | None = None, heartbeat: Callable[[str], None] | None = None, quiet: bool = False):
        self.options = options or EngineOptions()
        self.device = resolve_device(self.options.device)
        self.checkpoint_dir = checkpoint_dir
        self.resume = resume
        self.console = console or Console(stderr=True)
        self.heartbeat = heartbeat or (lambda _message: None)
        self.group = distributed.current_group()
        self.quiet = quiet or self.group.rank > 0
        self.stages: dict[str, StageRecord] = {}
        self._writer: ThreadPoolExecutor | None = None
        self._pending: Future | None = None
        if self.options.threads:
            torch.set_num_threads(self.options.threads)
        if self.options.deterministic:
            torch.backends.cudnn.benchmark = False
            torch.use_deterministic_algorithms(True, warn_only=True)

    # -- conveniences recipes use ------------------------------------------------------------
    @property
    def on_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def channels_last(self) -> bool:
        return self.options.channels_last and self.on_cuda

    def autocast(self):
        if self.on_cuda and self.options.amp:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    def prepare(self, module: torch.nn.Module) -> torch.nn.Module:
        module = module.to(self.device)
        if self.group.active:
            module = distributed.sync_batchnorm(module, self.device)
        if self.channels_last:
            module = module.to(memory_format=torch.channels_last)
        return module

    def batches(self, data, spec, *, shuffle: bool, seed: int = 0, steps_per_epoch: int | None = None) -> Batches:
        return Batches(data, spec, self.device, shuffle=shuffle, seed=seed, channels_last=self.channels_last,
                       steps_per_epoch=steps_per_epoch, group=self.group if shuffle else None)

    # -- training ----------------------------------------------------------------------------
    def fit(self, stage: str, modules: dict[str, torch.nn.Module], optimizer: torch.optim.Optimizer, batches: Batches,
            step: StepFn, epochs: int, *, seed: int = 0, scheduler=None) -> StageRecord:
        """Train ``modules`` for ``epochs`` epochs of ``batches``; resumable per epoch."""
        record = StageRecord(stage)
        self.stages[stage] = record
        start_epoch, partial = self._maybe_resume(stage, modules, optimizer, scheduler, record, epochs)
        if start_epoch >= epochs:
            self._say(f"[dim]{stage}: all {epochs} epochs restored from checkpoint[/dim]")
            return record
        for m in modules.values():
            m.train()
        skip = partial["steps"] if partial else 0
        check_every = self.options.nan_check_every or (50 if self.on_cuda else 1)
        total_steps = (epochs - start_epoch) * len(batches) - skip
        t_stage = time.perf_counter()
        with self._progress() as progress, _fitting(), self._checkpoints_written():
            task = progress.add_task(stage, total=total_steps, info="")
            global_step = start_epoch * len(batches) + skip
            for epoch in range(start_epoch, epochs):
                seed_everything(seed * 10_007 + epoch)  # the epoch's randomness depends only on (seed, epoch): resume-exact
                sums: dict[str, float] = {}
                t0 = time.perf_counter()
                seen = 0
                if partial and epoch == start_epoch:  # mid-epoch resume: the stopped attempt's state at its last step
                    sums, seen = dict(partial["sums"]), int(partial["seen"])
                    _set_rng_state(partial["rng"])
                pending = _LossSums()  # this epoch's losses since the last read-back, summed on the device
                for i, batch in enumerate(batches.epoch(epoch)):
                    if epoch == start_epoch and i < skip:
                        continue  # trained before the preemption; iterating keeps the batch order (seeded by seed, epoch)
                    with self.autocast():
                        losses = step(batch)
                    loss = losses["loss"]
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if self.group.active:
                        distributed.average_gradients(modules.values(), self.group)
                    optimizer.step()
                    if scheduler is not None:
                        scheduler.step()
                    global_step += 1
                    seen += len(batch["label"]) * self.group.world
                    pending.add(losses)
                    if (i + 1) % check_every == 0 or i == len(batches) - 1 or _STOP.is_set():
                        values, steps = pending.read()
                        if self.group.active:
                            values = distributed.average_values(values, self.group)
                        self._check_finite(stage, epoch, global_step, values, steps)
                        for k, v in values.items():
                            sums[k] = sums.get(k, 0.0) + v
                        sums["_n"] = sums.get("_n", 0.0) + steps
                        elapsed = time.perf_counter() - t0
                        info = " ".join(f"{k} {v / sums['_n']:.3f}" for k, v in sums.items() if k != "_n")
                        progress.update(task, description=f"{stage} {epoch + 1}/{epochs}",
                                        info=f"{info}  {seen / max(elapsed, 1e-9):,.0f} img/s")
                    progress.update(task, advance=1)
                    if _STOP.is_set() and i < len(batches) - 1:
                        self._preempt(stage, modules, optimizer, scheduler, epoch, record,
                                      {"steps": i + 1, "sums": sums, "seen": seen, "rng": _rng_state()})
                seconds = time.perf_counter() - t0
                n = sums.pop("_n", 1.0)
                entry = {"epoch": epoch + 1, "step": global_step, "seconds": round(seconds, 3),
                         "img_per_s": round(seen / max(seconds, 1e-9), 1), **{k: v / n for k, v in sums.items()}}
                record.history.append(entry)
                self._save_checkpoint(stage, modules, optimizer, scheduler, epoch + 1, record,
                                      finished=epoch + 1 == epochs)
                self.heartbeat(f"{stage} epoch {epoch + 1}/{epochs}")
                if _STOP.is_set():
                    self._preempt(stage, modules, optimizer, scheduler, epoch + 1, record, None)
        record.seconds = time.perf_counter() - t_stage
        return record

    def _preempt(self, stage, modules, optimizer, scheduler, epochs_done, record, partial) -> None:
        _STOP.clear()
        if partial is not None:
            self._save_checkpoint(stage, modules, optimizer, scheduler, epochs_done, record, partial)
        self._flush_checkpoint()  # on disk before the job is requeued
        where = f"epoch {epochs_done + 1}, step {partial['steps']}" if partial else f"the end of epoch {epochs_done}"
        self.console.print(f"[yellow]{stage}: preempted — checkpoint saved at {where}[/yellow]")
        raise Preempted(f"{stage} preempted at {where}")

    @torch.no_grad()
    def predict(self, modules: Iterable[torch.nn.Module], score: ScoreFn, batches: Batches) -> np.ndarray:
        """Bona fide probabilities for every row of ``batches`` in order (batches must not shuffle)."""
        for m in modules:
            m.eval()
        out = []
        for batch in batches.epoch(0):
            with self.autocast():
                s = score(batch)
            out.append(s.double().cpu())
        scores = torch.cat(out).numpy().astype(np.float64)
        if not np.all(np.isfinite(scores)):
            raise TrainingDiverged("scoring produced NaN/inf scores")
        return scores

    # -- internals ---------------------------------------------------------------------------
    def _check_finite(self, stage: str, epoch: int, step: int, values: dict[str, float], steps: int = 1) -> None:
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        if bad:
            where = f"step {step}" if steps == 1 else f"steps {step - steps + 1}–{step}"
            raise TrainingDiverged(f"{stage}: loss {', '.join(bad)} became {values[bad[0]]} at epoch {epoch + 1}, {where}; "
                                   "lower the learning rate (--set lr=...) or check the data")

    def _checkpoint_path(self, stage: str) -> Path | None:
        return None if self.checkpoint_dir is None else self.checkpoint_dir / f"{stage}.pt"

    def _save_checkpoint(self, stage, modules, optimizer, scheduler, epochs_done, record, partial=None,
                         finished: bool = False) -> None:
        """Snapshot the state to CPU now, write it in a background thread: the next epoch trains while a
        large model's checkpoint (ResNet-50 with Adam: 280 MB, 0.5 s) goes to disk. One write at a time;
        the stage waits for the last one before it returns, so a finished stage's file is complete.

        A finished stage keeps its weights and history only: nothing resumes its optimizer (a resume
        restores the stage and trains nothing), and Adam's two moments are twice the weights' size."""
        path = self._checkpoint_path(stage)
        if path is None or self.group.rank > 0:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        state = _snapshot({"epochs_done": epochs_done, "modules": {k: m.state_dict() for k, m in modules.items()},
                           "optimizer": None if finished else optimizer.state_dict(), "history": record.history,
                           "scheduler": None if finished or scheduler is None else scheduler.state_dict(),
                           "partial": partial})
        self._flush_checkpoint()
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="vaultlab-checkpoint")
        self._pending = self._writer.submit(_write_atomic, state, path)

    def _flush_checkpoint(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()  # a failed write raises here

    @contextmanager
    def _checkpoints_written(self):
        try:
            yield
        finally:
            self._flush_checkpoint()

    def _maybe_resume(self, stage, modules, optimizer, scheduler, record, epochs: int) -> tuple[int, dict | None]:
        path = self._checkpoint_path(stage)
        if not (self.resume and path is not None and path.exists()):
            return 0, None
        state = torch.load(path, map_location=self.device, weights_only=True)
        for k, m in modules.items():
            m.load_state_dict(state["modules"][k])
        if state["optimizer"] is None:  # a finished stage's weights: restored, never trained further
            if int(state["epochs_done"]) < epochs:
                raise RuntimeError(f"{path}: holds stage {stage!r} finished after {state['epochs_done']} epochs, "
                                   f"without its optimizer state, so it cannot continue to {epochs} epochs")
        else:
            optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler"):
            scheduler.load_state_dict(state["scheduler"])
        record.history = list(state["history"])
        record.resumed_from_epoch = int(state["epochs_done"])
        partial = state.get("partial")
        # said even with --quiet: a resumed run must never pass for a fresh one
        where = (f"at epoch {record.resumed_from_epoch + 1}, step {partial['steps']}" if partial
                 else f"after epoch {record.resumed_from_epoch}")
        self.console.print(f"[cyan]{stage}: resumed {where} from {path.name}[/cyan]")
        return record.resumed_from_epoch, partial

    def _progress(self) -> Progress:
        return Progress(TextColumn("[bold]{task.description}"), BarColumn(bar_width=12), MofNCompleteColumn(),
                        TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                        console=self.console, disable=self.quiet, transient=False)

    def _say(self, message: str) -> None:
        if not self.quiet:
            self.console.print(message)
