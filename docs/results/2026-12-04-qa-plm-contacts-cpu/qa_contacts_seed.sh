#!/bin/bash
# seed S of the no-PLM QA arm on interface graphs with atom-level edge channels (snap decoys), paired with
# egnn_none_snap_rank1_iface_sS, then its evaluation
set -e
S=$1; R=runs/qa/egnn_none_snap_rank1_iface_contacts_s$S
source .venv/bin/activate
export OMP_NUM_THREADS=1 INTERGRAPH_DATA=/work/shared/data
intergraph protein train --task qa --data db5 --encoder egnn --plm none --epochs 6 --lr 5e-4 --seed $S \
    --set quality.rank_weight=1.0 --set quality.search_decoys=runs/decoys_db5_snap1204 --set quality.search_sampled=20 \
    --set quality.interface=true --set quality.contacts=true --cache runs/cache --out $R
bash runs/qa_eval.sh $R
