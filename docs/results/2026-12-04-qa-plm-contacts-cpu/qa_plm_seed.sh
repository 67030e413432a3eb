#!/bin/bash
# seed S of the own-PLM QA arm on interface graphs (snap decoys), paired with egnn_none_snap_rank1_iface_sS, then its evaluation
set -e
S=$1; R=runs/qa/egnn_default_snap_rank1_iface_s$S
source .venv/bin/activate
export OMP_NUM_THREADS=1 INTERGRAPH_DATA=/work/shared/data
intergraph protein train --task qa --data db5 --encoder egnn --plm default --epochs 6 --lr 5e-4 --seed $S \
    --set quality.rank_weight=1.0 --set quality.search_decoys=runs/decoys_db5_snap1204 --set quality.search_sampled=20 \
    --set quality.interface=true --cache runs/cache --out $R
bash runs/qa_eval.sh $R
