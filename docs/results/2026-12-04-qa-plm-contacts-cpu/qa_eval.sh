#!/bin/bash
# evaluate a QA run on the search decoys: bound (test + every validation decoy) and unbound test
set -e
source .venv/bin/activate
export INTERGRAPH_DATA=/work/shared/data OMP_NUM_THREADS=1
run=$1
intergraph protein evaluate $run --out $run/evaluations/search --set quality.search_decoys=runs/decoys_db5_step30 \
  --set quality.search_sampled=0 --set quality.test_decoys_per_target=0 --set quality.baselines=false \
  --set quality.external=false > $run/eval_search.log 2>&1
intergraph protein evaluate $run --out $run/evaluations/search_unbound \
  --set quality.search_decoys=runs/decoys_db5_test_unbound_step30 --set quality.test_decoys_per_target=0 \
  --set quality.baselines=false --set quality.external=false > $run/eval_search_unbound.log 2>&1
echo done $run
