import numpy as np
import pytest
import torch
from torch import nn

from vaultlab.engine.batches import BatchSpec
from vaultlab.engine.core import Engine, EngineOptions, TrainingDiverged


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 1))

    def forward(self, x):
        return self.net(x).squeeze(1)


def _step(model):
    def step(batch):
        return {"loss": nn.functional.binary_cross_entropy_with_logits(model(batch["image"]), batch["label"].float())}
    return step


class Killed(Exception):
    pass


def _train(toy_set, tmp_path, epochs, resume=False, kill_at_epoch=None):
    """Train ``epochs`` epochs; with ``kill_at_epoch`` the process "dies" at that epoch's first step."""
    torch.manual_seed(0)
    model = Tiny()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    engine = Engine(EngineOptions(device="cpu"), checkpoint_dir=tmp_path, resume=resume, quiet=True)
    batches = engine.batches(toy_set, BatchSpec(batch_size=16), shuffle=True, seed=3)
    steps = []

    def step(batch):
        steps.append(1)
        if kill_at_epoch is not None and len(steps) == (kill_at_epoch - 1) * len(batches) + 1:
            raise Killed
        return _step(model)(batch)

    record = engine.fit("toy", {"model": model}, opt, batches, step, epochs, seed=3)
    return model, record


def test_batches_cover_every_row_once_when_not_shuffled(toy_set):
    engine = Engine(EngineOptions(device="cpu"), quiet=True)
    batches = engine.batches(toy_set, BatchSpec(batch_size=7), shuffle=False)
    seen = torch.cat([b["index"] for b in batches.epoch(0)])
    assert seen.tolist() == list(range(len(toy_set)))


def test_balanced_batches_are_half_bona_fide(toy_set):
    engine = Engine(EngineOptions(device="cpu"), quiet=True)
    batches = engine.batches(toy_set, BatchSpec(batch_size=16, balanced=True), shuffle=True)
    for batch in batches.epoch(0):
        assert int(batch["label"].sum()) == 8


def test_flipped_batches_mirror_exactly_the_drawn_rows(toy_set):
    """The flip is applied to the uint8 rows before conversion: the batch must equal mirroring the
    normalised floats (values and layout: the conv algorithm, hence the numbers, depends on strides),
    and depth and parsing must be mirrored with their image."""
    engine = Engine(EngineOptions(device="cpu"), quiet=True)
    spec = BatchSpec(batch_size=16, hflip=True, depth_size=8, parsing_size=8)
    flipped = engine.batches(toy_set, spec, shuffle=True, seed=5)
    plain = engine.batches(toy_set, BatchSpec(batch_size=16, depth_size=8, parsing_size=8), shuffle=True, seed=5)
    n_flipped = 0
    for epoch in (0, 1):
        for a, b in zip(flipped.epoch(epoch), plain.epoch(epoch)):
            assert torch.equal(a["index"], b["index"])
            mirrored = (a["image"] != b["image"]).flatten(1).any(1)
            n_flipped += int(mirrored.sum())
            expected = torch.where(mirrored.view(-1, 1, 1, 1), b["image"].flip(-1), b["image"])
            assert torch.equal(a["image"], expected) and a["image"].stride() == b["image"].stride()
            assert torch.equal(a["depth"], torch.where(mirrored.view(-1, 1, 1, 1), b["depth"].flip(-1), b["depth"]))
            assert torch.equal(a["parsing"], torch.where(mirrored.view(-1, 1, 1), b["parsing"].flip(-1), b["parsing"]))
    assert 0 < n_flipped < 2 * len(flipped) * 16  # some rows flipped, not all


def test_loss_falls_and_history_is_recorded(toy_set, tmp_path):
    _, record = _train(toy_set, tmp_path, epochs=4)
    assert [h["epoch"] for h in record.history] == [1, 2, 3, 4]
    assert record.history[-1]["loss"] < record.history[0]["loss"]
    assert (tmp_path / "toy.pt").exists()


def test_resume_continues_and_matches_an_uninterrupted_run(toy_set, tmp_path):
    full, _ = _train(toy_set, tmp_path / "a", epochs=3)
    with pytest.raises(Killed):
        _train(toy_set, tmp_path / "b", epochs=3, kill_at_epoch=3)  # dies after epoch 2's checkpoint
    resumed, record = _train(toy_set, tmp_path / "b", epochs=3, resume=True)
    assert record.resumed_from_epoch == 2
    for p, q in zip(full.parameters(), resumed.parameters()):
        assert torch.allclose(p, q, atol=1e-6)


def test_a_finished_stage_keeps_its_weights_not_its_optimizer(toy_set, tmp_path):
    """Adam's moments are twice the weights: a finished stage's checkpoint drops them (a resume restores
    the stage and trains nothing), an unfinished one keeps them, and a finished stage cannot be stretched."""
    with pytest.raises(Killed):
        _train(toy_set, tmp_path / "a", epochs=3, kill_at_epoch=3)
    unfinished = torch.load(tmp_path / "a" / "toy.pt", weights_only=True)
    assert unfinished["epochs_done"] == 2 and unfinished["optimizer"]["state"]
    trained, _ = _train(toy_set, tmp_path / "b", epochs=3)
    finished = torch.load(tmp_path / "b" / "toy.pt", weights_only=True)
    assert finished["epochs_done"] == 3 and finished["optimizer"] is None and finished["scheduler"] is None
    restored, record = _train(toy_set, tmp_path / "b", epochs=3, resume=True)
    assert record.resumed_from_epoch == 3 and len(record.history) == 3
    for a, b in zip(trained.state_dict().values(), restored.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(RuntimeError, match="finished after 3 epochs.*cannot continue to 4"):
        _train(toy_set, tmp_path / "b", epochs=4, resume=True)


def test_nan_guard_stops_with_a_clear_error(toy_set):
    model = Tiny()
    engine = Engine(EngineOptions(device="cpu"), quiet=True)
    batches = engine.batches(toy_set, BatchSpec(batch_size=16), shuffle=True)

    def step(batch):
        return {"loss": model(batch["image"]).sum() * float("nan")}

    with pytest.raises(TrainingDiverged, match="loss became nan"):
        engine.fit("nan", {"model": model}, torch.optim.SGD(model.parameters(), lr=0.1), batches, step, 1)


def test_predict_returns_one_probability_per_row(toy_set):
    model = Tiny()
    engine = Engine(EngineOptions(device="cpu"), quiet=True)
    batches = engine.batches(toy_set, BatchSpec(batch_size=50), shuffle=False)
    scores = engine.predict([model], lambda b: torch.sigmoid(model(b["image"])), batches)
    assert scores.shape == (len(toy_set),) and np.all((scores >= 0) & (scores <= 1))


def test_a_preemption_mid_epoch_checkpoints_and_resumes_exactly(toy_set, tmp_path):
    """stop_at_next_step() (what the Slurm signal handler calls) stops after the current step with a
    mid-epoch checkpoint; the resumed run ends with the same weights and history as an uninterrupted one."""
    from vaultlab.engine import core

    full, full_record = _train(toy_set, tmp_path / "a", epochs=2)

    torch.manual_seed(0)
    model = Tiny()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    engine = Engine(EngineOptions(device="cpu"), checkpoint_dir=tmp_path / "b", quiet=True)
    batches = engine.batches(toy_set, BatchSpec(batch_size=16), shuffle=True, seed=3)
    calls = []

    def step(batch):
        calls.append(1)
        if len(calls) == len(batches) + 2:  # the signal arrives during epoch 2's second step
            assert core.stop_at_next_step()
        return _step(model)(batch)

    with pytest.raises(core.Preempted):
        engine.fit("toy", {"model": model}, opt, batches, step, 2, seed=3)
    assert not core.stop_at_next_step()  # no fit running: the caller must act itself
    resumed, record = _train(toy_set, tmp_path / "b", epochs=2, resume=True)
    assert record.resumed_from_epoch == 1
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    assert record.history == [{**h, "seconds": r["seconds"], "img_per_s": r["img_per_s"]}
                              for h, r in zip(full_record.history, record.history)]


def test_reading_losses_back_less_often_keeps_the_history_and_the_nan_guard(toy_set, tmp_path):
    """On CUDA the engine reads the losses back every 50 steps, not every step (each read waits for
    the GPU); every step's loss is still in the epoch mean, and a NaN still stops training."""
    def history(every):
        torch.manual_seed(0)
        model = Tiny()
        engine = Engine(EngineOptions(device="cpu", nan_check_every=every), quiet=True)
        batches = engine.batches(toy_set, BatchSpec(batch_size=8), shuffle=True, seed=3)
        assert len(batches) > 3
        return engine.fit("toy", {"model": model}, torch.optim.SGD(model.parameters(), lr=0.1), batches,
                          _step(model), 2, seed=3).history

    each, sparse = history(1), history(3)
    assert [h["loss"] for h in each] == pytest.approx([h["loss"] for h in sparse], rel=1e-12)

    model = Tiny()
    engine = Engine(EngineOptions(device="cpu", nan_check_every=3), quiet=True)
    batches = engine.batches(toy_set, BatchSpec(batch_size=8), shuffle=True)
    calls = []

    def step(batch):
        calls.append(1)
        scale = float("nan") if len(calls) == 2 else 1.0
        return {"loss": model(batch["image"]).sum() * scale}

    with pytest.raises(TrainingDiverged, match=r"loss became nan at epoch 1, steps 1–3"):
        engine.fit("nan", {"model": model}, torch.optim.SGD(model.parameters(), lr=0.0), batches, step, 1)
