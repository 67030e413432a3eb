#!/bin/bash
cd /work/main && source .venv/bin/activate && export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
intergraph video arms --out runs/fam2 --videos 1800 --seeds 0 --data-seed 0 --epochs 10 --batch-size 16 \
    --width 64 --recipe ours --ops basic --lr 0.003 --structure-lr 0.003 --warmup 2 --head temporal --layout-embedding
