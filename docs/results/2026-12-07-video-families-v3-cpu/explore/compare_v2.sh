# Every run folder of the rerun (default runs/fam3) that also sits in the v2 results: are its test predictions and
# its per-epoch metrics (epoch, step, learning rates, losses, validation top-1/top-5) byte-identical?
# Usage, from the repository root: bash docs/results/2026-12-07-video-families-v3-cpu/explore/compare_v2.sh [RERUN]
NEW=${1:-runs/fam3}
V=docs/results/2026-12-04-video-families-v2-cpu
for s in 0 1 2 3 4; do for d in "$NEW"/seed$s/*/; do r=$(basename "$d"); f=$V/seed$s/$r/predictions.csv
  [ -f "$f" ] && [ -f "$d/predictions.csv" ] || continue
  if cmp -s "$f" "$d/predictions.csv" && cmp -s <(cut -d, -f1-9 "$V/seed$s/$r/metrics.csv") <(cut -d, -f1-9 "$d/metrics.csv")
  then echo "seed$s $r identical"; else echo "seed$s $r DIFFERENT"; fi
done; done
