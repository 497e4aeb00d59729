#!/usr/bin/env bash
# Evaluate CHECKPOINT with NPROC processes, like mmdet's tools/dist_test.sh but with torchrun.
#     bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [--work-dir DIR] [--cfg-options k=v ...]
exec bash "$(dirname "$0")/dist_launch.sh" test.py "$3" "$1" "$2" "${@:4}"
