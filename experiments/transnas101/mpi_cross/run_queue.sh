#!/bin/bash
# The per-proxy TransNAS-Bench-101 studies of this folder, in order (issue 37's cross-space columns): one
# task=mpi run per proxy and space, 1,000 seeded networks, the class_scene network, one thread, resumable
# (each space's score store flushes every 8 networks; a finished study is skipped: its scores.csv exists).
# After each proxy its scores are exported to ../partial/ (so another machine can resume a stopped one).
#   NASEARCH_DATA=/path bash experiments/transnas101/mpi_cross/run_queue.sh <folder for the stores and logs>
set -u
cd "$(dirname "$0")/../../.."
WORK=${1:?give a folder for the score stores and logs}
mkdir -p "$WORK"
export OMP_NUM_THREADS=1
DATAFREE=" synflow zen naswot az_expressivity az_progressivity az_trainability tenas_lr "
run() {  # space proxy batch
  local space=$1 p=$2 bs=$3 imgs=cifar10
  [[ "$DATAFREE" == *" $p "* ]] && imgs=none
  local dir=experiments/transnas101/mpi_cross/${space#transnas101_}/$p
  [ -f "$dir/scores.csv" ] && return
  echo "$(date +%T) start $space $p batch $bs images $imgs"
  .venv/bin/nasearch task=mpi benchmark=$space dataset.name=class_scene mpi.cells=1000 "mpi.proxies=[$p]" \
    proxy.image_dataset=$imgs proxy.batch_size=$bs workers=1 proxy.store="$WORK/tnb_frontier_${space}.sqlite" \
    hydra.run.dir=$dir progress=false > "$WORK/${space}_$p.log" 2>&1
  local rc=$?
  .venv/bin/nasearch scores --store "$WORK/tnb_frontier_${space}.sqlite" --proxy $p export \
    "experiments/transnas101/partial/${p}_${space}_b${bs}.csv.gz" >> "$WORK/${space}_$p.log" 2>&1
  echo "$(date +%T) end $space $p rc=$rc"
}
for space in transnas101_micro transnas101_macro; do
  run $space swap 16
  for p in az_expressivity az_progressivity az_trainability gradsign jacob_cov lswag tenas_lr; do run $space $p 8; done
  run $space reg_swap 16
  for p in snip grad_norm fisher zico grasp; do run $space $p 8; done  # the two slowest last (two passes each)
done
# last: the data-free proxies the micro cells already have from ../scores/ (batch 64, as there)
for p in synflow naswot zen; do run transnas101_macro $p 64; done
