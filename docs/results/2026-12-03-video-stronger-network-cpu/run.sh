#!/bin/bash
# the stronger-network grid on the classic benchmark (3,300 videos), fixed difference propagation everywhere
set -e
cd "$(dirname "$0")"
C="--fixed diff_prop.json --epochs 15 --width 64 --batch-size 16"
intergraph video search --out mean_nolayout_s0 --videos 3300 --seed 0 $C > mean_nolayout_s0.log 2>&1
F=mean_nolayout_s0/features.pt
jobs=()
for s in 0 1 2; do
  for cfg in "mean_nolayout:--head mean --no-layout-embedding" "temporal_nolayout:--head temporal --no-layout-embedding" \
             "mean_layout:--head mean --layout-embedding" "temporal_layout:--head temporal --layout-embedding"; do
    name=${cfg%%:*}_s$s; flags=${cfg#*:}
    [ "$name" = mean_nolayout_s0 ] && continue
    jobs+=("intergraph video search --out $name --data $F --seed $s $C $flags > $name.log 2>&1")
  done
done
printf '%s\n' "${jobs[@]}" > commands.txt
printf '%s\n' "${jobs[@]}" | xargs -P 2 -I{} bash -c "OMP_NUM_THREADS=1 {}"
