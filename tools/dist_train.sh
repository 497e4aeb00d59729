#!/usr/bin/env bash
# Train with NPROC processes on one node (or several: set NNODES, NODE_RANK, MASTER_ADDR), like
# mmdet's tools/dist_train.sh but with torchrun. One process per GPU; on a CPU-only machine the
# processes share the CPU over gloo.
#     bash tools/dist_train.sh CONFIG NPROC [--work-dir DIR] [--resume] [--cfg-options k=v ...]
set -euo pipefail
CONFIG=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PYTHON=${PYTHON:-python}

"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" --master_port="$PORT" \
    "$(dirname "$0")/train.py" "$CONFIG" --launcher pytorch "${@:3}"
