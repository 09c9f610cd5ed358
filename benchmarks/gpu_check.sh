#!/usr/bin/env bash
# The GPU check of issue 27: ViT-B/16 with random weights on generated 224-px data, on the CUDA device.
#   bash benchmarks/gpu_check.sh > benchmarks/results/gpu-$(date +%F).md      # on a machine with a GPU
#   bash benchmarks/gpu_check.sh --tiny                                     # the same steps, tiny, on the CPU (tests)
# Reports: runs/hour of the paper recipe (1 epoch) for groups of R = 1, 3, 9 runs under the library's
# autocast (bf16 on CUDA); the peak memory of one step at 1000 classes x batch 32 with and without
# text checkpointing; batched relevancy against the per-pair loop at B = 32; page 2's transplant factorial;
# CPU fp32 against CUDA
# autocast features; the estimated training time of `book --profile paper` on this device.
set -euo pipefail
cd "$(dirname "$0")"
if [[ "${1:-}" == "--tiny" ]]; then
  device=cpu model=../lib/mmprompts/assets/toy-vit.json
  group=(--runs 1 2 --mixed --generated 3 --shots 4 --epochs 1) steps=(--classes 10 --batch 2 --repeats 1)
  relevancy=(--batch 2) estimate=(--scale 0.01 --batch 2 --repeats 1 --group 2) transplant=(--batch 2 --batches 1 --classes 3)
else
  device=cuda model=ViT-B-16-quickgelu
  group=(--runs 1 3 9) steps=(--classes 1000 --batch 32) relevancy=(--batch 32) estimate=() transplant=(--batch 64 --classes 100)
fi
echo "# GPU check, $(date -u +%F), $(python -c 'import torch; print(torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA device")')"
echo; echo '## Grouped runs (runs/min x 60 = runs/hour)'
python bench_multirun.py --device "$device" --model "$model" "${group[@]}"
echo; echo '## One step at many classes, text checkpointing off and on'
python bench_text_checkpointing.py --device "$device" --model "$model" "${steps[@]}"
echo; echo '## Batched relevancy against the per-pair loop'
python bench_relevancy.py --device "$device" --model "$model" "${relevancy[@]}"
echo; echo "## Page 2's transplant factorial (every arm, both towers) against the plain forward"
python bench_transplant.py --device "$device" --model "$model" "${transplant[@]}"
echo; echo '## CPU fp32 against device autocast; the paper profile on this device'
python bench_device.py --device "$device" --model "$model" "${estimate[@]}"
