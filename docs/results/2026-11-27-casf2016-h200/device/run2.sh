#!/bin/bash
# Second pass: CASF-2016 given split, every remaining (encoder, arm, seed), one worker each; embeddings precomputed.
set -u
T0=$(date +%s)
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 INTERGRAPH_DATA=$PWD/.gpu/data
[ -n "${DRY:-}" ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD
mkdir -p $OUT/logs runs && cp -r .gpu/cache runs/cache && cp -r .gpu/casf2016 runs/casf2016
python3 -m pytest -q -p no:cacheprovider tests/test_gpu.py > $OUT/logs/gpu_tests.log 2>&1 &
ig() { python3 -c 'import sys; sys.argv[0]="intergraph"; from intergraph.cli import main; main()' "$@"; }
A="protein compare --task affinity --data pdbbind_casf --split given --encoders gvp,egnn,molformer --plm none,default --seeds 3 --epochs 30 --patience 10 --batch-size 8 --lr 5e-4 --cache runs/cache --out runs/casf2016"
LEFT=$(( ${BUDGET:-215} - ( $(date +%s) - T0 ) ))
pids=()
for w in $(seq 1 15); do timeout -k 5 $LEFT bash -c "$(declare -f ig); ig $A" > $OUT/logs/A$w.log 2>&1 & pids+=($!); sleep 0.5; done
( while sleep 30; do echo "t=$(( $(date +%s) - T0 ))s done: $(ls runs/*/runs/*/metrics.json 2>/dev/null | wc -l)"; done ) &
MON=$!
wait "${pids[@]}"
kill $MON
echo "trainings ended after $(( $(date +%s) - T0 )) s"
find runs -name metrics.json | sort > $OUT/logs/finished.txt
tar czf $OUT/runs.tgz --exclude=checkpoints --exclude=tensorboard --exclude=cache runs
cd $OUT && tar czf logs.tgz logs && rm -rf logs
