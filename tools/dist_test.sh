#!/usr/bin/env bash
# Evaluate a config with NPROC processes (one per GPU; gloo on CPU-only machines).
#   bash tools/dist_test.sh CONFIG NPROC [tools/test.py options...]
#
# The inputs are checked first, in one process (tools/test.py --check): a mistake is one
# "error:" line, not one per process under torchrun's report. torchrun then picks a free port
# itself (--standalone), so two runs on one machine do not collide; PORT=N fixes the port.
# Several nodes: NNODES, NODE_RANK, MASTER_ADDR and PORT, the same on every node.
# PYTHON selects the interpreter (default: python).
set -uo pipefail

usage() {
    echo "usage: bash tools/dist_test.sh CONFIG NPROC [tools/test.py options...]" >&2
}
refuse() {
    echo "error: $1" >&2
    usage
    exit 2
}
is_count() {  # a whole number >= $2
    [[ "$1" =~ ^[0-9]+$ ]] && [ "$((10#$1))" -ge "$2" ]
}

if [ $# -lt 2 ]; then
    usage
    exit 2
fi
CONFIG=$1
NPROC=$2
shift 2
is_count "$NPROC" 1 || refuse "NPROC must be a whole number of processes, 1 or more (one \
per GPU); got '$NPROC'."
NPROC=$((10#$NPROC))
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
is_count "$NNODES" 1 || refuse "NNODES must be a whole number, 1 or more; got '$NNODES'."
NNODES=$((10#$NNODES))
is_count "$NODE_RANK" 0 && [ "$((10#$NODE_RANK))" -lt "$NNODES" ] \
    || refuse "NODE_RANK must be in 0..$((NNODES - 1)); got '$NODE_RANK'."
if [ -n "${PORT:-}" ]; then
    is_count "$PORT" 1 && [ "$((10#$PORT))" -le 65535 ] \
        || refuse "PORT must be a port number, 1..65535; got '$PORT'."
fi
PYTHON=${PYTHON:-python}
TOOLS=$(dirname "$0")
# The first node's torchrun listens on PORT: a port in use would end in a screenful of
# EADDRINUSE from every process, after the check below.
if { [ -n "${PORT:-}" ] || [ "$NNODES" -gt 1 ]; } && [ "$((10#$NODE_RANK))" -eq 0 ]; then
    "$PYTHON" -c 'import socket, sys; socket.socket().bind(("", int(sys.argv[1])))' \
        "$((10#${PORT:-29500}))" 2>/dev/null \
        || refuse "port ${PORT:-29500} is in use on this machine (another run?); set PORT to \
a free port${PORT:+, or unset it to let torchrun pick one}."
fi

# The interpreter must see the package as tools/test.py will (the script's folder first on
# sys.path, not the current one): otherwise one line, not a ModuleNotFoundError traceback per
# process. Only the package is looked up here, nothing imported: the check below imports it.
NOT_INSTALLED="'$PYTHON' cannot import mmseg_clipseg: activate the environment it is \
installed in (after 'make env': source .venv/bin/activate), or set PYTHON=/path/to/python."
command -v "$PYTHON" >/dev/null 2>&1 || { echo "error: there is no '$PYTHON' command: \
activate the environment mmseg_clipseg is installed in (after 'make env': source \
.venv/bin/activate), or set PYTHON=/path/to/python." >&2; exit 1; }
"$PYTHON" -c 'import importlib.util, sys
sys.path.pop(0)
sys.exit(importlib.util.find_spec("mmseg_clipseg") is None)' 2>/dev/null \
    || { echo "error: $NOT_INSTALLED" >&2; exit 1; }

# Check the config, the data and the work dir with the per-node process count the run will
# have (configs size their loader workers by it).
LOCAL_WORLD_SIZE=$NPROC "$PYTHON" "$TOOLS/test.py" "$CONFIG" "$@" --check >/dev/null \
    || exit $?

if [ -n "${PORT:-}" ] || [ "$NNODES" -gt 1 ]; then
    RENDEZVOUS=(--nnodes="$NNODES" --node_rank="$((10#$NODE_RANK))"
                --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}")
else
    RENDEZVOUS=(--standalone --nnodes=1)
fi

# torchrun, with the workers' own words in place of its failure report (a traceback of the
# launcher itself): mmseg_clipseg/apis/dist_launch.py. Its processes do not check the test set
# again (every image header read once, above, not once per process).
export DIST_TEST_CHECKED=1
exec "$PYTHON" -m mmseg_clipseg.apis.dist_launch "${RENDEZVOUS[@]}" --nproc_per_node="$NPROC" \
    "$TOOLS/test.py" "$CONFIG" --launcher pytorch "$@"
