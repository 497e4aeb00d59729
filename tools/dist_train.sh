#!/usr/bin/env bash
# Train with NPROC processes, like mmdet's tools/dist_train.sh but with torchrun (see dist_launch.sh).
#     bash tools/dist_train.sh CONFIG NPROC [--work-dir DIR] [--resume] [--cfg-options k=v ...]
exec bash "$(dirname "$0")/dist_launch.sh" train.py "$2" "$1" "${@:3}"
