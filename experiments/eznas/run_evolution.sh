#!/bin/sh
# The seed-0 evolution study, in resumable steps: each step resumes the checkpoint, adds two
# generations and rewrites hall_of_fame.csv / baselines.csv / summary.md. Rerun to continue.
set -e
cd "$(dirname "$0")/../.."
for G in ${GENERATIONS:-2 4 6 8 10}; do
  nice -n 10 .venv/bin/nasearch task=evolve evolve.cells=80 evolve.validation_cells=${VALIDATION:-40} \
    evolve.generations=$G evolve.workers=1 evolve.cache_dir=${CACHE:-cache/eznas} \
    hydra.run.dir=experiments/eznas/evolve_seed0/run progress=false
done
