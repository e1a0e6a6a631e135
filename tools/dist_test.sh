#!/usr/bin/env bash
# Evaluate a config with NPROC processes (one per GPU; gloo on CPU-only machines).
#   bash tools/dist_test.sh CONFIG NPROC [tools/test.py options...]
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: bash tools/dist_test.sh CONFIG NPROC [tools/test.py options...]" >&2
    exit 2
fi
CONFIG=$1
NPROC=$2
shift 2
exec "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --master_port="${PORT:-29500}" \
    --nproc_per_node="$NPROC" \
    "$(dirname "$0")/test.py" "$CONFIG" --launcher pytorch "$@"
