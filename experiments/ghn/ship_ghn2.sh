#!/bin/bash
# Ship the GHN-2-style run's best model (issue 38) once the run has reached its 10,000 steps (the step-5,500
# model was shipped this way before the run ended; rerun after it ends: if the best row changed, this
# replaces the packaged model, remeasures its tolerance and recomputes its table):
#   1. copy the model of its best rho row (ghn2_train.best.pt, model only) into the package as the
#      `ghn2` / `ghn2_loss` proxies' checkpoint (nasearch/predictors/ghn2_nb201_cifar10.pt);
#   2. measure both proxies' cross-machine spread (experiments/cross_machine, 50 cells, default kernels
#      and ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41);
#   3. score every connected NB201 cell with `ghn2` into STORE (resumable: rerun after a kill) and export
#      the full table into the package (nasearch/embedded/scores/, linked from experiments/score_tables/).
#   NASEARCH_DATA=/path bash experiments/ghn/ship_ghn2.sh STORE [WORKERS]
set -euo pipefail
cd "$(dirname "$0")/../.."
STORE=${1:?give a score store (SQLite file) for the full-space table}
WORKERS=${2:-2}
last=$(tail -n 1 experiments/ghn/ghn2_train.pt.csv | cut -d, -f1)
if [ "$last" -lt 10000 ]; then
  echo "experiments/ghn/ghn2_train.pt is at step $last of 10000: finish the run first (experiments/ghn/README.md)" >&2
  exit 2
fi
PKG=nasearch/predictors/ghn2_nb201_cifar10.pt
hash=$(sha256sum experiments/ghn/ghn2_train.best.pt | cut -c1-12)
TABLE=ghn2-${hash}_cifar10_b64_seed0.csv.gz
same=0; cmp -s experiments/ghn/ghn2_train.best.pt "$PKG" && same=1
if [ $same = 1 ] && [ -f "nasearch/embedded/scores/$TABLE" ]; then
  echo "the packaged ghn2 model is the run's best and its table ships: nothing to do"
  exit 0
fi
if [ $same = 0 ]; then
  cp experiments/ghn/ghn2_train.best.pt "$PKG"
  rm -rf experiments/cross_machine/raw/ghn2 experiments/cross_machine/raw/ghn2_loss  # measured on another model
fi
export OMP_NUM_THREADS=1
.venv/bin/python experiments/cross_machine/run.py --parallel "$WORKERS" --proxies ghn2 ghn2_loss
.venv/bin/nasearch task=score proxy=ghn2 workers="$WORKERS" proxy.store="$STORE" progress=false \
  hydra.run.dir=experiments/ghn/ghn2_table_run
.venv/bin/nasearch scores --store "$STORE" --proxy ghn2 export "nasearch/embedded/scores/$TABLE"
ln -sf "../../nasearch/embedded/scores/$TABLE" "experiments/score_tables/$TABLE"
for old in nasearch/embedded/scores/ghn2-*_cifar10_b64_seed0.csv.gz; do  # a replaced model's table
  [ "$(basename "$old")" = "$TABLE" ] || rm -f "$old" "experiments/score_tables/$(basename "$old")"
done
echo "shipped $PKG and nasearch/embedded/scores/$TABLE"
