#!/bin/bash
cd /work/main && source .venv/bin/activate && export INTERGRAPH_DATA=/work/shared/data OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
intergraph protein compare --task chain_qa --data psr_casp13 --split kfold --folds 5 \
    --encoders egnn --plm none,default --seeds 3 --epochs 15 --patience 5 --batch-size 8 --lr 5e-4 \
    --set chain_quality.extra=true --set chain_quality.consensus=true --cache runs/cache --out runs/psr_egnn_consensus
