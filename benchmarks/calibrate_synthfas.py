"""Calibrate SynthFAS on its dev subjects only: is intra learnable, and are unseen domains / attacks
clearly harder?

Trains torchvision ``resnet18(weights=None, num_classes=1)`` with BCE on the bona fide label (Adam
1e-3, 90 steps, batch 64, channels_last, fp32, no augmentation) for each protocol and prints AUC and
HTER on **dev subjects only** — the test subjects are never loaded into a protocol, so no setting is
ever chosen on a test split. ``dev_only`` re-labels the dataset's split column: the dev subjects are
halved (subject-disjoint) into a threshold half (the protocol's "dev") and a calibration half (the
protocol's "test"); the test subjects are marked unused. HTER uses the EER threshold of the first half
(training domains / attacks), applied to the second: APCER = attacks accepted, BPCER = bona fide rejected.

    .venv/bin/python benchmarks/calibrate_synthfas.py [--seed 0] [--steps 90] [--subjects 352] [--art 2.0 ...]

Target shape (reference/synthfas-prototype.md §2): intra AUC ≈ 0.95+, LODO mean AUC ≈ 0.8 with
HTER ≈ 0.3, unseen attack clearly harder than intra. ``--threads 1`` is the faster choice on a busy
machine (2 threads spin against other jobs); the numbers move only by float summation order.

**Dev measurement of the defaults (issue 9, finding 8): keep dom 1.6 / emphasis 1.8.** Measured
2026-11-29 with this script (dev subjects only, test subjects unused) on synthfas-6 (352 subjects,
split 72/24/256 → 12 dev subjects set the threshold, the other 12 are read; frame level, 192 frames
per held-out domain), data seed 0, training seed 0, ``--threads 1``, on the 2-core CPU at load 8–13
(other engineers' jobs), so 188–423 s of training per protocol; calibration-half AUC / HTER:

| generator, settings                         | intra         | LODO D0 / D1 / D2 / D3 (AUC / HTER)                  | LODO mean     | unseen replay |
|---------------------------------------------|---------------|------------------------------------------------------|---------------|---------------|
| **synthfas-6, dom 1.6, emphasis 1.8** (dev) | 0.966 / 0.094 | 0.912/0.161  0.976/0.177  0.944/0.401  0.889/0.401   | 0.930 / 0.285 | 0.907 / 0.207 |

Against the target shape: intra is learnable (0.966 ≥ 0.95, with 0.016 to spare); held-out domains
fail at the training domains' threshold as intended (LODO mean HTER 0.285 ≈ 0.3: D2's JPEG-blocked
bona fide look like attacks, BPCER 0.78; D1's blurred attacks pass, APCER 0.35), while their ranking
stays better than the prototype's (mean AUC 0.93 vs ≈ 0.8); the unseen replay attack is clearly harder
than intra (HTER 0.207 vs 0.094, APCER 0.40). HTER is the main LODO metric (prototype §2: AUC alone
understates the drop), and it is on target; lowering the AUC with a harder setting would risk intra,
which has 0.016 to spare (not measured on dev). So the defaults stay and the generator version stays
synthfas-6. **Not done:** the neighbours (dom 1.8 / emphasis 2.0,
dom 1.4 / emphasis 1.6) were not measured on dev — one setting took 32 min on the shared CPU — so
"keep" rests on the default meeting the shape, not on a dev comparison with its neighbours. One seed
and 12 read subjects: a LODO domain's AUC moves by up to ±0.08 between training seeds (prototype).

History (superseded; how the defaults were first chosen, **on test splits** — finding 8):
Measured on 2026-11-22 (this 2-core CPU, torch 2.14.1, 2 threads on an idle machine unless noted;
default data: 120 subjects × 4 domains × 16 images = 7,680 images at 64 px, data seed 0, training
seed 0; test AUC / HTER; one run each, and single runs move by up to ±0.08 AUC per LODO domain):

| generator, settings                              | intra         | LODO D0 / D1 / D2 / D3 (AUC / HTER)                          | LODO mean     | unseen replay |
|--------------------------------------------------|---------------|--------------------------------------------------------------|---------------|---------------|
| synthfas-1, dom 1.3, emphasis 1.6 (own cue only)¹ | 0.992 / 0.035 | 0.923/0.232  0.919/0.378  0.924/0.408  0.960/0.380           | 0.932 / 0.349 | 0.905 / 0.221 |
| synthfas-3, + other cues ×1/emphasis¹             | 0.988 / 0.055 | 0.743/0.341  0.954/0.202  0.980/0.401  0.932/0.350           | 0.902 / 0.324 | 0.916 / 0.278 |
| synthfas-4, dom 1.3, emphasis 1.6                 | 0.987 / 0.048 | 0.907/0.158  0.965/0.104  0.910/0.229  0.952/0.348           | 0.934 / 0.210 | 0.877 / 0.262 |
| synthfas-4, dom 1.8, emphasis 2.0                 | 0.945 / 0.127 | 0.811/0.305  0.931/0.444  0.894/0.456  0.906/0.329           | 0.886 / 0.383 | 0.829 / 0.279 |
| synthfas-4, dom 1.6, emphasis 1.8²                | 0.976 / 0.065 | 0.885/0.289  0.872/0.281  0.910/0.406  0.930/0.352           | 0.900 / 0.332 | 0.881 / 0.221 |
| **synthfas-5, dom 1.6, emphasis 1.8 (default)**   | 0.987 / 0.057 | 0.760/0.314  0.737/0.270  0.928/0.404  0.954/0.283           | 0.845 / 0.317 | 0.890 / 0.283 |

¹ 1 thread on a machine shared with other jobs (load 5–7), so training took 100–200 s per run.
² JPEG quality then scaled linearly with ``dom``: D2 fell to quality ≈5 (flat grey blocks, faces gone).
  synthfas-5 scales it geometrically (D2 ≈19, as the prototype's ≈16).

Shape with the defaults (last row): intra is learnable (AUC 0.987, HTER 0.057); held-out domains are
clearly worse, mean AUC 0.845 and HTER 0.317 (prototype: ≈0.80 / ≈0.31); the dev-split threshold
fails on every held-out domain (D2: BPCER 0.81, its JPEG-blocked bona fide look like attacks; D1:
APCER 0.53); the unseen replay attack is clearly harder than intra (AUC 0.890, HTER 0.283, APCER 0.55).
Raising ``dom``/``emphasis`` further lowers LODO but costs intra (row 4). Runs took 36–79 s each
(the slower ones while other jobs shared the CPU).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from vaultlab.data.protocols import make_splits  # noqa: E402
from vaultlab.data.sampleset import SampleSet  # noqa: E402
from vaultlab.data.synthfas import SynthFASConfig, load_or_generate  # noqa: E402

PROTOCOLS = ("intra", "lodo:D0", "lodo:D1", "lodo:D2", "lodo:D3", "unseen-attack:replay")


def dev_only(data: SampleSet, seed: int = 0) -> SampleSet:
    """The same rows with the split column re-labelled: half the dev subjects → "dev" (thresholds), the
    other half → "test" (what calibration reads), every training subject stays "train", every test
    subject becomes "unused" (no protocol selects it)."""
    dev_subjects = np.array(sorted(set(data.subject[data.split == "dev"].tolist())))
    rng = np.random.default_rng(seed)
    threshold_half = set(rng.permutation(dev_subjects)[: len(dev_subjects) // 2].tolist())
    in_half = np.isin(data.subject, list(threshold_half))
    split = np.where(data.split == "train", "train", np.where(data.split == "dev", np.where(in_half, "dev", "test"), "unused"))
    return replace(data, split=split.astype(data.split.dtype))


def to_tensor(images: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0).sub_(0.5).div_(0.25)
    return x.contiguous(memory_format=torch.channels_last)


def train(train_set: SampleSet, steps: int, batch: int, seed: int) -> torch.nn.Module:
    from torchvision.models import resnet18

    torch.manual_seed(seed)
    model = resnet18(weights=None, num_classes=1).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x_all, y_all = to_tensor(train_set.images), torch.from_numpy(train_set.label).float()
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(x_all), (batch,), generator=gen)
        loss = F.binary_cross_entropy_with_logits(model(x_all[idx]).squeeze(1), y_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model


@torch.no_grad()
def score(model: torch.nn.Module, data: SampleSet) -> np.ndarray:
    model.eval()
    out = [torch.sigmoid(model(to_tensor(data.images[i:i + 256])).squeeze(1)) for i in range(0, len(data), 256)]
    return torch.cat(out).numpy()


def eer_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_curve

    fpr, tpr, thr = roc_curve(labels, scores)  # positive = bona fide (label 1)
    i = int(np.argmin(np.abs(fpr - (1.0 - tpr))))
    return float(thr[i])


def evaluate(labels: np.ndarray, scores: np.ndarray, thr: float) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    bona, attack = labels == 1, labels == 0
    apcer = float((scores[attack] >= thr).mean())
    bpcer = float((scores[bona] < thr).mean())
    return {"auc": float(roc_auc_score(labels, scores)), "hter": (apcer + bpcer) / 2, "apcer": apcer, "bpcer": bpcer}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0, help="training seed")
    ap.add_argument("--data-seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=90)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--subjects", type=int, default=SynthFASConfig().subjects)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--art", type=float)
    ap.add_argument("--hq", type=float)
    ap.add_argument("--dom", type=float)
    ap.add_argument("--spread", type=float)
    ap.add_argument("--emphasis", type=float)
    ap.add_argument("--protocols", default=",".join(PROTOCOLS))
    ap.add_argument("--cache", default=".vaultlab/cache")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    cfg = SynthFASConfig(seed=args.data_seed, subjects=args.subjects, image_size=args.size)
    overrides = {k: getattr(args, k) for k in ("art", "hq", "dom", "spread", "emphasis") if getattr(args, k) is not None}
    cfg = replace(cfg, **overrides)
    t0 = time.perf_counter()
    data = load_or_generate(cfg, Path(args.cache))
    print(f"data: {data.summary()} in {time.perf_counter() - t0:.1f}s (cache hit: {data.meta['cache']['hit']}); "
          f"art {cfg.art} hq {cfg.hq} dom {cfg.dom} spread {cfg.spread} emphasis {cfg.emphasis}", flush=True)

    results = {}
    calibration = dev_only(data, args.data_seed)
    for protocol in args.protocols.split(","):
        splits = make_splits(calibration, protocol)
        t1 = time.perf_counter()
        model = train(splits.train, args.steps, args.batch, args.seed)
        t_train = time.perf_counter() - t1
        dev_scores, test_scores = score(model, splits.dev), score(model, splits.test)
        thr = eer_threshold(splits.dev.label, dev_scores)
        dev = evaluate(splits.dev.label, dev_scores, thr)
        res = evaluate(splits.test.label, test_scores, thr)
        results[protocol] = res
        print(f"{protocol:22s} calibration-half AUC {res['auc']:.3f}  HTER {res['hter']:.3f}  (APCER {res['apcer']:.2f} "
              f"BPCER {res['bpcer']:.2f})  threshold-half AUC {dev['auc']:.3f}  train {len(splits.train)} img, {t_train:.0f}s",
              flush=True)
    lodo = [r for p, r in results.items() if p.startswith("lodo:")]
    if lodo:
        print(f"{'LODO mean':22s} calibration-half AUC {np.mean([r['auc'] for r in lodo]):.3f}  HTER {np.mean([r['hter'] for r in lodo]):.3f}")


if __name__ == "__main__":
    main()
