#!/bin/sh
# The seed-0 evolution studies, in resumable steps: each step resumes the checkpoint, adds two
# generations and rewrites hall_of_fame.csv / baselines.csv / summary.md. Rerun to continue.
#   TARGET=cifar10 (default; run dir evolve_seed0/run) or TARGET=cifar100 (the transfer study;
#   run dir evolve_cifar100_seed0/run). The statistics cache does not depend on the target.
set -e
cd "$(dirname "$0")/../.."
TARGET=${TARGET:-cifar10}
if [ "$TARGET" = cifar10 ]; then RUN=${RUN:-experiments/eznas/evolve_seed0/run}
else RUN=${RUN:-experiments/eznas/evolve_${TARGET}_seed0/run}; fi
for G in ${GENERATIONS:-2 4 6 8 10}; do
  nice -n 10 .venv/bin/nasearch task=evolve evolve.cells=80 evolve.validation_cells=${VALIDATION:-40} \
    evolve.target="$TARGET" evolve.generations=$G evolve.workers=1 evolve.cache_dir=${CACHE:-cache/eznas} \
    hydra.run.dir="$RUN" progress=false
done
