# the exploratory Gumbel runs (run folders under runs/explore), then the paired summary
cd /work/main && source .venv/bin/activate && export OMP_NUM_THREADS=1
E=docs/results/2026-12-07-video-families-v3-cpu/explore
(for s in 0 1 2 3 4; do python $E/gumbel.py $s 1; done
 for s in 0 1 2 3 4; do python $E/gumbel.py $s 1 2; done) > $E/gumbel_output.txt
python $E/gumbel_paired.py > $E/gumbel_paired.txt
