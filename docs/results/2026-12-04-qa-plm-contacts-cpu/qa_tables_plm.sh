#!/bin/bash
# the tables of docs/results/2026-12-04-qa-plm-contacts-cpu (after every run's evaluations)
set -e
source .venv/bin/activate
export INTERGRAPH_DATA=/work/shared/data OMP_NUM_THREADS=1
R=docs/results/2026-12-04-qa-plm-contacts-cpu
Q=runs/qa
arm() { for s in 0 1 2; do [ -d $Q/$1_s$s/evaluations/search_unbound ] && echo -n "--run $Q/$1_s$s "; done; true; }
N=$(arm egnn_none_snap_rank1_iface); P=$(arm egnn_default_snap_rank1_iface); C=$(arm egnn_none_snap_rank1_iface_contacts)
for arms in "plm:$N $P" "contacts:$N $C"; do
  name=${arms%%:*}; runs=${arms#*:}
  python scripts/qa_on_search_decoys.py $runs --decoys runs/decoys_db5_test_step30 \
    --predictions evaluations/search/predictions_test.csv --val-decoys runs/decoys_db5_step30 --out $R/table_${name}_bound.md
  python scripts/qa_on_search_decoys.py $runs --decoys runs/decoys_db5_test_unbound_step30 \
    --predictions evaluations/search_unbound/predictions_test.csv --out $R/table_${name}_unbound.md
done
