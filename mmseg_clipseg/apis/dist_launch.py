"""torchrun for tools/dist_test.sh, with its failure report (a traceback of the launcher
itself) replaced by the workers' own words.

    python -m mmseg_clipseg.apis.dist_launch --nproc-per-node=N [torchrun options] SCRIPT ARGS...

The options are torchrun's (``--nproc-per-node`` a number). Local rank 0 writes to the
console; the other local ranks write to files. A worker that stops on a user mistake leaves
its message with :func:`leave_error` (tools/test.py does): each distinct message is printed
once, as one ``error:`` line, however many processes stopped on it; a crash is reported with
the end of its output.
"""
import glob
import logging
import os
import os.path as osp
import signal
import sys
import tempfile
from typing import List, Optional

# The folder where the workers leave their messages (set by the launcher for them).
ERROR_DIR_VARIABLE = 'DIST_TEST_ERROR_DIR'


def _error_file(folder: str, local_rank: object) -> str:
    return osp.join(folder, f'rank{local_rank}.error')


def leave_error(message: str) -> None:
    """In a worker started by this launcher, leave ``message`` where the launcher reads it;
    elsewhere, nothing."""
    folder = os.environ.get(ERROR_DIR_VARIABLE)
    if folder and osp.isdir(folder):
        local_rank = os.environ.get('LOCAL_RANK', '0')
        with open(_error_file(folder, local_rank), 'w', encoding='utf-8') as handle:
            handle.write(message)


def _read(pattern: str) -> str:
    text = []
    for path in sorted(glob.glob(pattern, recursive=True)):
        with open(path, errors='replace') as handle:
            text.append(handle.read())
    return ''.join(text)


def main(argv: Optional[List[str]] = None) -> None:
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run
    argv = sys.argv[1:] if argv is None else argv
    logging.getLogger('torch.distributed.elastic').setLevel(logging.CRITICAL)
    nproc = int(parse_args(argv).nproc_per_node)
    with tempfile.TemporaryDirectory(prefix='dist_test_') as logs:
        os.environ[ERROR_DIR_VARIABLE] = logs
        quiet = ','.join(f'{rank}:3' for rank in range(1, nproc))
        options = ['--log-dir', logs, '--redirects', quiet] if quiet else []
        try:
            run(parse_args(options + argv))
        except ChildFailedError as error:
            said = {_read(_error_file(logs, 0))}
            for rank, failure in sorted(error.failures.items()):
                local_rank = failure.local_rank
                if failure.exitcode == -signal.SIGTERM:
                    continue  # stopped by torchrun after another worker failed
                message = _read(_error_file(logs, local_rank))
                if message:
                    if message not in said:
                        print(f'error: {message}', file=sys.stderr)
                        said.add(message)
                    continue
                how = (f'was killed by {failure.signal_name()}' if failure.exitcode < 0
                       else f'stopped with exit status {failure.exitcode}')
                if local_rank == 0:  # its traceback, if any, is on the console
                    print(f'error: process rank {rank} {how}.', file=sys.stderr)
                    continue
                output = _read(osp.join(logs, '**', str(local_rank), 'stderr.log'))
                print(f'error: process rank {rank} {how}; the end of its output:',
                      *output.splitlines()[-20:], sep='\n', file=sys.stderr)
            sys.exit(1)


if __name__ == '__main__':
    main()
