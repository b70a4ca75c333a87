#!/usr/bin/env bash
# GPU checks for a lent CUDA machine (CI never has one): what the CPU test suite cannot reach.
#
#   bash benchmarks/gpu_check.sh [OUTDIR]
#
# 1. the engine and nn tests with a GPU visible (device "auto" resolves to cuda);
# 2. benchmarks/engine.py on cuda at 224 px: the engine (bf16 autocast, channels_last, NaN guard,
#    checkpoints) against a plain loop, ResNet-18 and ResNet-50;
# 3. every seed note plus a CDCN note and a composed ViT-B/16 note on its `paper` profile, seed 0,
#    on cuda, shortened (one epoch, 64 SynthFAS subjects) so that all of them fit a few minutes:
#    the paper-sized networks, bf16 and channels_last run end to end, each run's img/s and peak
#    GPU memory come from its run record;
# 4. `--nproc 2` on a one-GPU machine must refuse with a clear message (NCCL needs one GPU per rank).
# Every step has its own time limit; a failing step is reported and the next one still runs.
#
# Measured 2026-11-29 on one H200 (torch 2.11.0+cu130 there; 16 CPU cores), before and after the fixes it led to:
# - tests/engine failed on the GPU machine: the 2-process DDP test is a CPU (gloo) test, but NCCL was picked
#   whenever CUDA was visible, and rank 1 asked for a second GPU. init_from_env now follows the run's device.
# - `--nproc 2` with one GPU ended in a traceback; now a one-line usage error, exit 2.
# - engine vs plain loop at 224 px, batch 64: ResNet-18 0.695x, ResNet-50 0.706x (target 0.95x). Causes: every
#   step read each loss back (a GPU wait), small pageable host-to-device copies each step (a stream sync each),
#   and the per-epoch checkpoint written in the loop (ResNet-50 + Adam: 280 MB, 0.5 s). After the first two
#   fixes (losses summed on the device, read every 50 steps; data resident on the GPU): 0.910x and 0.760x. The
#   checkpoint is now snapshotted to CPU and written by a background thread, and per-step index/flip copies
#   go through pinned memory; those last two were made after the device time was spent, so not yet measured.
# - every seed note and a CDCN and a ViT-B/16 composed note ran their paper profile end to end on CUDA (bf16
#   autocast, channels_last): teacher ResNet-18 ~8,500 img/s, DeepLabV3+ 156, PSPNet 351, CDCN 275, ViT-B/16 387
#   (one short epoch each, so these rates include warm-up).
# - 003 `paper` profile, full default data, seed 0: 187 s wall (SynthFAS generation at 224 px on the CPU about
#   100 s of it, 22,528 images), training + scoring 86 s. HTER test-eer / dev-eer: student 6.84 / 13.77,
#   baseline 8.89 / 14.60, unadapted teacher 32.32 / 32.37 (AUC 97.1 / 96.4 / 76.1). One seed: not a result.
set -u
OUT_DIR=${1:-${OUT:-/tmp/gpu_check}}
mkdir -p "$OUT_DIR"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 CUBLAS_WORKSPACE_CONFIG=:4096:8
PY=${PY:-python3}
REPO=$(cd "$(dirname "$0")/.." && pwd)
export PYTHONPATH="$REPO/src${PYTHONPATH:+:$PYTHONPATH}"
VL="$PY -m vaultlab"
step() {  # step NAME LIMIT_S COMMAND...
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  echo "=== $name (limit ${limit}s)"
  timeout "$limit" "$@" >"$OUT_DIR/$name.log" 2>&1
  local rc=$?
  tail -n "${TAIL:-6}" "$OUT_DIR/$name.log"
  echo "=== $name: rc=$rc in $((SECONDS - t0)) s"
}

nvidia-smi -L 2>/dev/null || echo "no nvidia-smi"
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"

TAIL=8 step tests 120 $PY -m pytest -q --maxfail=5 -p no:cacheprovider tests/engine tests/nn
step engine-r18 70 $PY benchmarks/engine.py --device cuda --size 224 --batch 64 --steps 30 --epochs 2 --subjects 16 --repeats 2
step engine-r50 70 $PY benchmarks/engine.py --device cuda --model resnet50 --size 224 --batch 64 --steps 30 --epochs 2 --subjects 16 --repeats 2

V=/tmp/gpu_vault
rm -rf "$V" && cp -r "$REPO/example_vault" "$V"
note() {  # note FILE TITLE METHOD SUPERVISION BACKBONE LOSS
  printf -- '---\ntags: [paper, pad]\nyear: 2020\nstatus: "To Read"\n---\n\n# %s\n\n## Quick Summary\n**Method:** %s\n- **Supervision:** %s\n- **Backbone:** %s\n- **Loss:** %s\n- **Input:** RGB\n- **Static/Dynamic:** S\n' "$2" "$3" "$4" "$5" "$6" >"$V/$1"
}
note 010_cdcn.md "Searching Central Difference Convolutional Networks for Face Anti-Spoofing" CDCN Depth CDCN "Depth loss, Contrastive depth loss"
note 011_vit.md "A ViT-B/16 baseline for face anti-spoofing" "ViT classifier" Binary "ViT-B/16" "Binary CE loss"
$VL sync "$V" -q >/dev/null 2>&1 || $VL sync "$V" >/dev/null 2>&1
for id in 003 000 002 004 010 011; do
  TAIL=3 step "paper-$id" 100 $VL run "$id" --vault "$V" --profile paper --seeds 0 --device cuda -q \
    --set synthfas_subjects=64 --set epochs=1
done
# what each run directory says: state, device, img/s per training stage, test numbers
$PY - "$V" <<'EOF' | tee "$OUT_DIR/paper-runs.txt"
import json, sys
from pathlib import Path
def read(p, name):
    f = p / name
    return json.loads(f.read_text()) if f.exists() else {}
for run in sorted(Path(sys.argv[1], ".vaultlab", "runs").iterdir()):
    if not run.is_dir():
        continue
    status, env, hist, metrics = (read(run, n) for n in ("status.json", "environment.json", "history.json", "metrics.json"))
    print(run.name, status.get("state"), f"{status.get('seconds')} s", env.get("device"), env.get("gpu"), env.get("torch"))
    stages = hist.get("stages", hist) if isinstance(hist, dict) else {}
    for name, rec in (stages.items() if isinstance(stages, dict) else []):
        epochs = rec.get("history", rec) if isinstance(rec, dict) else rec
        rates = [round(e.get("img_per_s", 0)) for e in epochs if isinstance(e, dict)] if isinstance(epochs, list) else []
        print(f"   {name}: img/s {rates[:4]}")
    for arm, policies in (metrics.items() if isinstance(metrics, dict) else []):
        for policy, m in (policies.items() if isinstance(policies, dict) else []):
            if isinstance(m, dict):
                print(f"   {arm}/{policy}: " + ", ".join(f"{k} {m[k]:.2f}" for k in ("hter", "auc", "HTER", "AUC") if isinstance(m.get(k), (int, float))))
EOF
TAIL=3 step nproc2 40 $VL run 003 --vault "$V" --profile paper --seeds 0 --device cuda -q --nproc 2 --force \
  --set synthfas_subjects=64
echo "done in $SECONDS s"
