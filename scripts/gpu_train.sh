#!/usr/bin/env bash
# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
#
# One self-contained training run of the learned guide on a GPU machine that holds only a
# copy of this checkout (no ../shared beside it), sized for a 10-minute slot.
#
# 1. Here (with ../shared/data), pack the training and selection scenes into an ignored
#    folder of the checkout (about 20 MB):
#      python -m dada_ros.training.train --extra-data --pack training_data/dada_train.npz
#    (training_data/ is in .gitignore: name it in the device run's carry list so it is
#    copied to the GPU machine).
# 2. There, from the repository root, with OUT set to the output folder:
#      OUT=/some/folder bash scripts/gpu_train.sh
#    It trains for MINUTES (default 8) on cuda, validates every VAL_EVERY steps and copies
#    best.pt, latest.pt, train_state.pt, history.json, curve.png and the log to $OUT.
#    ARCH (default tiny_unet: a network worth GPU time; the shipped self_guided guide has
#    8 parameters and fits on the CPU in minutes). Extra arguments go to dada_train
#    (e.g. --width 16 --full-decoder).
#    To continue a run: put its train_state.pt in RESUME_DIR (a carried folder).
#    ARCH=deep_guide (issue 24) trains the deep guide on the real scenes (RGB-D-D training
#    part + Middlebury training scenes) with dada_ros/training/deep_guide.py; pack its data
#    here first (about 40 MB: the original JPEG/PNG bytes):
#      python -m dada_ros.training.deep_guide --pack training_data/deep_guide.npz
#    then there: ARCH=deep_guide OUT=/some/folder bash scripts/gpu_train.sh
#    (RESUME_DIR works the same; TOTAL_STEPS sets the cosine schedule, default STEPS).
#    The CPU-budget design of the model card (networks at 1/8, pass 1 36 and pass 2 72 of
#    96 steps, Middlebury views drawn 3x as often) is
#      ARCH=deep_guide OUT=/some/folder bash scripts/gpu_train.sh --pool 8 \
#          --first-fraction 0.375 --refine-fraction 0.75 --repeat-middlebury 3
# 3. Back here: evaluate or continue on the CPU,
#      python -m dada_ros.training.evaluate --weights OUT/best.pt
#      python -m dada_ros.training.train --out runs/gpu --resume ...   (after copying OUT/* there)
set -euo pipefail
: "${OUT:?set OUT to the output folder}"
PYTHON=${PYTHON:-python3}
MINUTES=${MINUTES:-8}
ARCH=${ARCH:-tiny_unet}
if [ "$ARCH" = deep_guide ]; then
    DATA=${DATA:-training_data/deep_guide.npz}
else
    DATA=${DATA:-training_data/dada_train.npz}
fi
VAL_EVERY=${VAL_EVERY:-250}
STEPS=${STEPS:-4000}
RUN=${RUN_DIR:-/tmp/dada_gpu_run}
mkdir -p "$OUT" "$RUN"
if [ -n "${RESUME_DIR:-}" ] && [ -f "$RESUME_DIR/train_state.pt" ]; then
    cp "$RESUME_DIR/train_state.pt" "$RUN/train_state.pt"
    set -- --resume "$@"
fi
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
status=0
if [ "$ARCH" = deep_guide ]; then
    "$PYTHON" -m dada_ros.training.deep_guide --data "$DATA" --out "$RUN" \
        --device "${DEVICE:-cuda}" --threads 8 --max-minutes "$MINUTES" --steps "$STEPS" \
        --total-steps "${TOTAL_STEPS:-$STEPS}" --val-every "$VAL_EVERY" --batch 8 "$@" \
        2>&1 | tee "$OUT/train_log.txt" || status=$?
else
    "$PYTHON" -m dada_ros.training.train --data "$DATA" --out "$RUN" --device "${DEVICE:-cuda}" \
        --arch "$ARCH" --threads 8 --max-minutes "$MINUTES" --steps "$STEPS" \
        --total-steps "$STEPS" --val-every "$VAL_EVERY" --batch 8 --window 256 --pre-min 96 \
        --pre-max 2048 --factors 4 8 8 16 16 32 --augment --lr 2e-3 --lr-min 2e-5 "$@" \
        2>&1 | tr '\r' '\n' | grep -v 'it/s\]$' | tee "$OUT/train_log.txt" || status=$?
fi
for name in best.pt latest.pt train_state.pt history.json curve.png; do
    if [ -f "$RUN/$name" ]; then cp "$RUN/$name" "$OUT/$name"; fi
done
exit "$status"
