"""torchrun for tools/dist_test.sh, with its failure report (a traceback of the launcher
itself) replaced by the workers' own words.

    python -m mmseg_clipseg.apis.dist_launch --nproc-per-node=N [torchrun options] SCRIPT ARGS...

The options are torchrun's (``--nproc-per-node`` a number). Local rank 0 writes to the
console; the other local ranks write to files. A worker that stops on a user mistake leaves
its message with :func:`leave_error` (tools/test.py does): each distinct message is printed
once, as one ``error:`` line, however many processes stopped on it; a crash is reported with
the end of its output. :func:`check_launcher` and :func:`check_process_count` are what a
worker checks of the launcher that started it.
"""
import glob
import logging
import os
import os.path as osp
import signal
import sys
import tempfile
from typing import List, Optional

import torch

from ..utils.environment import environment_variable
from ..utils.errors import UserInputError

# The folder where the workers leave their messages (set by the launcher for them).
ERROR_DIR_VARIABLE = 'DIST_TEST_ERROR_DIR'
# Set by tools/dist_test.sh for the processes it starts: it checked their test set (with the
# same arguments, in one process) just before.
CHECKED_VARIABLE = 'DIST_TEST_CHECKED'
# What each launcher sets for the processes it starts (mmengine's init_dist reads them).
LAUNCHER_VARIABLES = {'pytorch': ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'),
                      'slurm': ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST'),
                      'mpi': ('OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE')}


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


def check_launcher(launcher: str) -> None:
    """A ``--launcher`` run is started by its launcher: without the variables it sets,
    mmengine would stop with a KeyError (or wait for peers that never come)."""
    missing = [name for name in LAUNCHER_VARIABLES.get(launcher, ())
               if not os.environ.get(name)]
    if missing:
        raise UserInputError(
            f'--launcher {launcher} runs under a launcher, which sets {", ".join(missing)}; '
            'they are not set here. Start distributed runs with bash tools/dist_test.sh '
            'CONFIG GPUS (or torchrun, srun, mpirun), or drop --launcher for one process.')


def launched_rank() -> int:
    """This process's global rank, as its launcher set it (0 without a launcher)."""
    for name in ('RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK'):
        if os.environ.get(name, '').isdigit():
            return int(os.environ[name])
    return 0


def check_process_count() -> None:
    """One process per GPU: more processes on a node than GPUs would share or miss one."""
    processes = os.environ.get('LOCAL_WORLD_SIZE', '')
    if torch.cuda.is_available() and processes.isdigit() \
            and int(processes) > torch.cuda.device_count():
        raise UserInputError(f'{processes} processes per node but {torch.cuda.device_count()} '
                             'GPU(s): start at most one process per GPU.')


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
    with tempfile.TemporaryDirectory(prefix='dist_test_') as logs, \
            environment_variable(ERROR_DIR_VARIABLE, logs):  # the workers inherit it
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
