#!/usr/bin/env bash
# MoCoGAN's ablations with spread, on a CPU: three seeds each of the recipe, the recipe without the image
# discriminator D_I (the paper's ablation) and the recipe whose first 1,000 steps pretrain the image
# generator on single frames (MoCoGAN-HD's order), 3,000 steps each at the tutorial preset's batch; then
# the recipe's seed 1 (the best of its three here) trains on to twice the steps.
# Two runs at a time, one thread each: about 80 minutes on two cores.
#
#   bash scripts/train_mocogan_ablations.sh [OUT_DIR]        (default OUT_DIR: runs/mocogan_ablations)
#   STEPS=4 EVAL=16 bash scripts/train_mocogan_ablations.sh /tmp/try        (a rehearsal in seconds)
#
# Every run writes OUT_DIR/<run>/mocogan.pt and its model card (scores at N = 1,024 unless EVAL is set).
set -euo pipefail
cd "$(dirname "$0")/.."
export out=${1:-runs/mocogan_ablations} steps=${STEPS:-3000} eval_videos=${EVAL:-1024}
export OMP_NUM_THREADS=1 TQDM_MININTERVAL=60 PYTHONUNBUFFERED=1
mkdir -p "$out"

train() {  # train NAME [train options]: one run, its log in OUT_DIR/NAME.log
  local name=$1
  shift
  python -m vidgen_lib train mocogan --out "$out/$name" --set eval_videos="$eval_videos" "$@" \
    > "$out/$name.log" 2>&1 && echo "done $name"
}
export -f train

for seed in 0 1 2; do
  echo "recipe_seed$seed --seed $seed --steps $steps"
  echo "no_image_discriminator_seed$seed --seed $seed --steps $steps --set use_image_discriminator=false"
  echo "image_pretraining_seed$seed --seed $seed --steps $steps --set pretrain_image_steps=$(( steps / 3 ))"
done | xargs -P 2 -L 1 bash -c 'train "$@"' _

# Does more training alone close the gap? The best seed of the recipe, trained on from its last state.
cp -r "$out/recipe_seed1" "$out/recipe_seed1_continued"
train recipe_seed1_continued --seed 1 --steps $(( 2 * steps ))
