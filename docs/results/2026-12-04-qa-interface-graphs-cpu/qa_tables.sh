#!/bin/bash
# the tables of docs/results/2026-12-04-qa-interface-graphs-cpu (after every run's evaluations)
set -e
source .venv/bin/activate
export INTERGRAPH_DATA=/work/shared/data OMP_NUM_THREADS=1
R=docs/results/2026-12-04-qa-interface-graphs-cpu
Q=runs/qa
T="--run $Q/egnn_none_search_rank1_iface_s0 --run $Q/egnn_none_search_rank1_iface_s1 --run $Q/egnn_none_search_rank1_iface_s2"
S="--run $Q/egnn_none_snap_rank1_iface_s0 --run $Q/egnn_none_snap_rank1_iface_s1 --run $Q/egnn_none_snap_rank1_iface_s2"
W="--run $Q/egnn_none_rank1 --run $Q/egnn_none_rank1_s1 --run $Q/egnn_none_rank1_s2"
python scripts/qa_on_search_decoys.py $T --run $Q/egnn_none_search_rank1_s0 $W --decoys runs/decoys_db5_test_step30 \
  --predictions evaluations/search/predictions_test.csv --val-decoys runs/decoys_db5_step30 --out $R/table_interface_bound.md
python scripts/qa_on_search_decoys.py $T $W --decoys runs/decoys_db5_test_unbound_step30 \
  --predictions evaluations/search_unbound/predictions_test.csv --out $R/table_interface_unbound.md
python scripts/qa_on_search_decoys.py $S $T --decoys runs/decoys_db5_test_step30 \
  --predictions evaluations/search/predictions_test.csv --val-decoys runs/decoys_db5_step30 --out $R/table_more_targets_bound.md
python scripts/qa_on_search_decoys.py $S $T --decoys runs/decoys_db5_test_unbound_step30 \
  --predictions evaluations/search_unbound/predictions_test.csv --out $R/table_more_targets_unbound.md
