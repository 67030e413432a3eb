# the exploratory runs of mixroute.py (run folders under runs/explore; copies of their files sit beside this script)
cd /work/main && source .venv/bin/activate && export OMP_NUM_THREADS=1
E=docs/results/2026-12-07-video-families-v3-cpu/explore
for a in "0 0" "3 0" "0 2" "3 2" "1 0" "4 0" "2 0"; do python $E/mixroute.py $a; done > runs/explore/mixroute.log
