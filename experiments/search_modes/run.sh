#!/bin/bash
# Issue 39's studies: simulated asynchronous workers, budgeted and multi-objective search, each
# vanilla and pre-filtered, 500 paired runs per arm (resumable: rerun to finish). Then
# `python experiments/search_modes/analyse.py` writes the tables and plots of README.md.
set -e
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
N="nasearch -m workers=1 progress=false runs=500"
S=experiments/search_modes

# 1. workers: NB201 CIFAR-10, 12,000 simulated seconds, REA and TPE, vanilla (N=1) and synflow N=10
$N strategy=rea,optuna proxy=synflow proxy.n=1,10 search.simulated_workers=1,8 hydra.sweep.dir=$S/workers

$N strategy=rea proxy=synflow proxy.n=1 search.simulated_workers=4,16 hydra.sweep.dir=$S/workers_rea_k

# 2. budgeted: the best CIFAR-10 cell under NB201 FLOPs budgets at the 25th, 50th and 75th
#    percentile of the space (19.58, 47.10, 82.49 MFLOPs: analyse.py recomputes them from the table)
$N strategy=rea,rs proxy=synflow proxy.n=1,10 search.constraints.flops=19.57953,47.10465,82.49409 \
   hydra.sweep.dir=$S/budgeted

# 3. multi-objective: accuracy vs latency on NB201 (12,000 s), accuracy vs FLOPs on NAS-Bench-Macro
#    (100 queries: it records no training time); MO-REA, NSGA-II (Optuna), random scalarisation
$N strategy=mo_rea,random_scalarization,rea proxy=synflow proxy.n=1,10 'search.objectives=[valid_acc,latency]' \
   hydra.sweep.dir=$S/mo_nb201
$N strategy=optuna strategy.params.sampler=nsga2 proxy=synflow proxy.n=1,10 'search.objectives=[valid_acc,latency]' \
   hydra.sweep.dir=$S/mo_nb201_nsga2
$N benchmark=nasbench_macro budget.seconds=null budget.queries=100 strategy=mo_rea,random_scalarization,rea \
   proxy=synflow proxy.n=1,10 'search.objectives=[valid_acc,flops]' hydra.sweep.dir=$S/mo_macro
$N benchmark=nasbench_macro budget.seconds=null budget.queries=100 strategy=optuna strategy.params.sampler=nsga2 \
   proxy=synflow proxy.n=1,10 'search.objectives=[valid_acc,flops]' hydra.sweep.dir=$S/mo_macro_nsga2
