#!/bin/sh
# Train (or resume) the GHN of this study in the background; rerun the same command to resume.
# Progress: experiments/ghn/train.log; curve: experiments/ghn/ghn_train.pt.csv (one row per checkpoint).
cd "$(dirname "$0")/../.." || exit 1
: "${NASEARCH_DATA:?set NASEARCH_DATA to the folder holding cifar-10-batches-py}"
STEPS=${STEPS:-10000}
exec nice -n 10 .venv/bin/nasearch task=train_ghn ghn.steps="$STEPS" ghn.batch=32 ghn.lr=1e-3 ghn.T=5 \
  ghn.seed=0 ghn.every=25 ghn.eval_cells=4 ghn.eval_images=128 ghn.threads=1 ghn.checkpoint=experiments/ghn/ghn_train.pt \
  hydra.run.dir=experiments/ghn/train_run >> experiments/ghn/train.log 2>&1
