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

# torchrun, with its failure report (a traceback of the launcher itself) replaced by the
# workers' own words. Local rank 0 writes to the console; the other local ranks write to
# files. A worker that stops on a user mistake leaves its message in DIST_TEST_ERROR_DIR
# (tools/test.py does): each message is printed once, a crash's output ends with its
# traceback.
LAUNCH='
import glob, logging, os, signal, sys, tempfile
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.run import parse_args, run

def read(pattern):
    text = []
    for path in sorted(glob.glob(pattern, recursive=True)):
        with open(path, errors="replace") as handle:
            text.append(handle.read())
    return "".join(text)

logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
nproc = int(sys.argv[1])
with tempfile.TemporaryDirectory(prefix="dist_test_") as logs:
    os.environ["DIST_TEST_ERROR_DIR"] = logs
    quiet = ",".join(f"{rank}:3" for rank in range(1, nproc))
    options = ["--log-dir", logs, "--redirects", quiet] if quiet else []
    try:
        run(parse_args(options + sys.argv[2:]))
    except ChildFailedError as error:
        said = {read(os.path.join(logs, "rank0.error"))}
        for rank, failure in sorted(error.failures.items()):
            local_rank = failure.local_rank
            if failure.exitcode == -signal.SIGTERM:
                continue  # stopped by torchrun after another worker failed
            message = read(os.path.join(logs, f"rank{local_rank}.error"))
            if message:
                if message not in said:
                    print(f"error: {message}", file=sys.stderr)
                    said.add(message)
                continue
            how = (f"was killed by {failure.signal_name()}" if failure.exitcode < 0
                   else f"stopped with exit status {failure.exitcode}")
            if local_rank == 0:  # its traceback, if any, is on the console
                print(f"error: process rank {rank} {how}.", file=sys.stderr)
                continue
            output = read(os.path.join(logs, "**", str(local_rank), "stderr.log"))
            print(f"error: process rank {rank} {how}; the end of its output:",
                  *output.splitlines()[-20:], sep="\n", file=sys.stderr)
        sys.exit(1)
'
exec "$PYTHON" -c "$LAUNCH" "$NPROC" "${RENDEZVOUS[@]}" --nproc_per_node="$NPROC" \
    "$TOOLS/test.py" "$CONFIG" --launcher pytorch "$@"
