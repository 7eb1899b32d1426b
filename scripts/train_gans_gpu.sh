#!/usr/bin/env bash
# Train the GAN chapters' checkpoints and ablations on one CUDA GPU: about 15 minutes on an H200.
#
#   bash scripts/train_gans_gpu.sh [OUT_DIR]                         (default OUT_DIR: runs/gpu_gans)
#   QUICK=1 EXTRA_ARGS="--set eval_videos=64" bash scripts/train_gans_gpu.sh /tmp/try   (a rehearsal on a CPU)
#
# Phase 1, the ablations: nine runs share the GPU. VGAN and its one-stream ablation with three seeds
# each and VGAN with the paper's recipe, 4,000 steps each (notebook 02's ablations at equal steps);
# MoCoGAN with and without its image discriminator, 6 minutes each (notebook 03's ablation at equal
# time). Phase 2: the seed-0 runs of vgan, vgan_one_stream and mocogan resume from their training
# state, three runs sharing the GPU, to the step counts of the shipped checkpoints.
# Every run writes OUT_DIR/<run>/<model>.pt and its model card (scores at N = 1,024, steps, wall
# time, the GPU's name). The batch sizes are larger than the tutorial preset's: on a GPU a larger
# batch costs almost nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/gpu_gans}
mkdir -p "$out"
export TQDM_MININTERVAL=30 PYTHONUNBUFFERED=1
quick=${QUICK:-}  # set: a few steps per run, to check the script end to end

run() {  # run NAME MODEL [train options]: one training in the background, its log in OUT_DIR/NAME.log
  local name=$1 model=$2
  shift 2
  mkdir -p "$out/$name"
  python -m vidgen_lib train "$model" --out "$out/$name" "$@" ${EXTRA_ARGS:-} >> "$out/$name.log" 2>&1 &
}
finish() {  # wait for every run in the background; fail if one failed
  local status=0
  for job in $(jobs -p); do wait "$job" || status=1; done
  return $status
}

vgan_batch=(--set batch_size=64)
moco_batch=(--set batch_size=32 --set image_batch_size=128)
steps=${quick:+2}
for seed in 0 1 2; do
  run "vgan_seed$seed" vgan --seed "$seed" --steps "${steps:-4000}" "${vgan_batch[@]}"
  run "vgan_one_stream_seed$seed" vgan_one_stream --seed "$seed" --steps "${steps:-4000}" "${vgan_batch[@]}"
done
run vgan_paper_recipe_seed0 vgan --seed 0 --steps "${steps:-4000}" "${vgan_batch[@]}" --set loss=bce \
  --set discriminator_norm=batch --set augment= --set lr=2e-4 --set disc_lr=2e-4 --set beta1=0.5 --set beta2=0.999
minutes=${quick:+0.05}
run mocogan_seed0 mocogan --seed 0 --steps 1000000 --minutes "${minutes:-6}" "${moco_batch[@]}"
run mocogan_no_image_discriminator_seed0 mocogan --seed 0 --steps 1000000 --minutes "${minutes:-6}" \
  "${moco_batch[@]}" --set use_image_discriminator=false
finish

# Phase 2: the shipped checkpoints train on from where phase 1 left them. (The shipped vgan reached
# step 12,186 here and was trained on a CPU to 13,801, as many steps as vgan_one_stream; its card says so.)
more=${quick:+4}
run vgan_seed0 vgan --seed 0 --steps "${more:-13801}" "${vgan_batch[@]}"
run vgan_one_stream_seed0 vgan_one_stream --seed 0 --steps "${more:-13801}" "${vgan_batch[@]}"
run mocogan_seed0 mocogan --seed 0 --steps "${more:-7973}" "${moco_batch[@]}"
finish
grep -h "^wrote" "$out"/*.log
