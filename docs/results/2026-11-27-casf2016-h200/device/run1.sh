#!/bin/bash
# CASF-2016 affinity grid on one GPU: given split (A), 5-fold CV over 406 (B), lba_toy segments vs chain (C).
set -u
T0=$(date +%s)
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 INTERGRAPH_DATA=$PWD/.gpu/data
[ -n "${DRY:-}" ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD
nvidia-smi -L; python3 -c "import torch, torch_geometric, lightning; print(torch.__version__, torch_geometric.__version__, lightning.__version__)"
ig() { python3 -c 'import sys; sys.argv[0]="intergraph"; from intergraph.cli import main; main()' "$@"; }
mkdir -p $OUT/logs
python3 -m pytest -q -p no:cacheprovider tests/test_gpu.py > $OUT/logs/gpu_tests.log 2>&1 &
python3 - <<'PY' > $OUT/logs/embed.log 2>&1
from intergraph.protein.tasks.affinity.data import load_complexes, plm_features
for src, hows in (("pdbbind_casf", ["segments"]), ("lba_toy", ["segments", "chain"])):
    cs, _, _ = load_complexes(src)
    for h in hows:
        print(src, h, len(plm_features("default", "runs/cache", cs, h)))
PY
echo "embedded after $(( $(date +%s) - T0 )) s"
COMMON="--epochs 30 --patience 10 --batch-size 8 --lr 5e-4 --cache runs/cache"
A="protein compare --task affinity --data pdbbind_casf --split given --encoders gvp,egnn,molformer --plm none,default --seeds 3 $COMMON --out runs/casf2016"
C1="protein compare --task affinity --data lba_toy --split kfold --folds 5 --split-seed seed --encoders egnn --plm none,default --seeds 3 $COMMON --out runs/lba_segments"
C2="protein compare --task affinity --data lba_toy --split kfold --folds 5 --split-seed seed --encoders egnn --plm default --seeds 3 $COMMON --set affinity.plm_sequence=chain --out runs/lba_chain"
LEFT=$(( ${BUDGET:-505} - ( $(date +%s) - T0 ) ))
pids=()
for w in 1 2 3 4 5 6; do timeout -k 5 $LEFT bash -c "$(declare -f ig); ig $A" > $OUT/logs/A$w.log 2>&1 & pids+=($!); done
timeout -k 5 $LEFT bash -c "$(declare -f ig); ig $C1" > $OUT/logs/C1.log 2>&1 & pids+=($!)
timeout -k 5 $LEFT bash -c "$(declare -f ig); ig $C2" > $OUT/logs/C2.log 2>&1 & pids+=($!)
for enc in egnn molformer gvp; do
  B="protein compare --task affinity --data pdbbind_casf --split kfold --folds 5 --split-seed seed --encoders $enc --plm none,default --seeds 3 $COMMON --out runs/casf_cv5"
  for w in 1 2 3; do timeout -k 5 $LEFT bash -c "$(declare -f ig); ig $B" > $OUT/logs/B_${enc}_$w.log 2>&1 & pids+=($!); done
done
( while sleep 60; do echo "t=$(( $(date +%s) - T0 ))s done: $(ls runs/*/runs/*/metrics.json runs/*/runs/*/fold*/metrics.json 2>/dev/null | wc -l)"; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader; done ) &
MON=$!
wait "${pids[@]}"
kill $MON
echo "trainings ended after $(( $(date +%s) - T0 )) s"
find runs -name metrics.json | sort > $OUT/logs/finished.txt
tar czf $OUT/runs.tgz --exclude=checkpoints --exclude=tensorboard --exclude=cache runs
cd $OUT && tar czf logs.tgz logs && rm -rf logs
ls -la $OUT
