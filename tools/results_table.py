"""Print one mIoU table for several configs or finished test runs.

    python tools/results_table.py work_dirs/clipseg_vitb_*          # collect finished runs
    python tools/results_table.py configs/clipseg_vitb_voc20.py configs/clipseg_vitb_voc21.py \
        --data-root voc20=data/VOCdevkit/VOC2012 --data-root voc21=data/VOCdevkit/VOC2012

Each PATH is a config (``.py``: evaluated now with ``tools/test.py``, its work dir being
``WORK_DIR_ROOT/<config name>``), a work dir of earlier ``tools/test.py`` runs (its newest
finished run is used, with a warning when a newer run has no result: it crashed or is still
running), or the result file of such a run (``<work dir>/<time>/<time>.json``). Runs are
named ``<method>_<benchmark>`` after their config, e.g. ``clipseg_vitb_voc20``.

Every PATH is checked before the first evaluation: configs with ``tools/test.py --check``
(dataset folders, files, settings). A mistake in a PATH or a config that cannot run stops the
tool at once; a work dir that is no benchmark run (``clipseg_tiny_synthetic``) or holds no
finished run, and a config whose evaluation fails, are skipped with a warning, and the table
shows the rest. Above the table, each run's result file says where its row comes from.

The table has one row per method and the benchmarks as columns in the paper's order (VOC21,
Context60, Object, VOC20, Context59, Stuff, City, ADE150, then Context459 and ADE847), only
those with a result; ``Avg`` is the mean over the shown columns of the paper's eight, for rows
that have all of them.
"""
import argparse
import json
import math
import os.path as osp
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple


# Benchmark key -> column title, in the paper's column order.
COLUMNS = {
    'voc21': 'VOC21',
    'context60': 'Context60',
    'coco_object': 'Object',
    'voc20': 'VOC20',
    'context59': 'Context59',
    'coco_stuff': 'Stuff',
    'cityscapes': 'City',
    'ade150': 'ADE150',
    'context459': 'Context459',
    'ade847': 'ADE847',
}
# The benchmarks the paper averages over.
AVERAGED = ('voc21', 'context60', 'coco_object', 'voc20', 'context59', 'coco_stuff',
            'cityscapes', 'ade150')
TEST_SCRIPT = Path(__file__).with_name('test.py')
MAX_PRECISION = 6
# mmengine names a run's folder by the second it started.
RUN_FOLDER = re.compile(r'\d{8}_\d{6}')


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('paths', nargs='+', metavar='PATH',
                        help='configs to evaluate, work dirs or result files')
    parser.add_argument('--data-root', action='append', default=[], metavar='BENCHMARK=DIR',
                        help='dataset folder for the configs of a benchmark (repeatable)')
    parser.add_argument('--work-dir-root', default='work_dirs',
                        help='where evaluated configs write their runs (default: work_dirs)')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='passed on to tools/test.py for every evaluated config')
    parser.add_argument('--precision', type=int, default=1,
                        help=f'decimals, 0..{MAX_PRECISION} (default: 1)')
    return parser.parse_args(argv)


if __name__ == '__main__':
    parse_args(sys.argv[1:])  # --help and usage mistakes are answered before torch is imported

from mmseg_clipseg.apis.cli import run_cli  # noqa: E402
from mmseg_clipseg.utils.errors import MissingFileError, UserInputError


def split_run_name(name: str) -> Tuple[str, str]:
    """Split ``<method>_<benchmark>`` (e.g. ``clipseg_vitb_coco_stuff``) into its two parts.

    Raises:
        UserInputError: ``name`` does not end with a benchmark key.
    """
    for key in COLUMNS:
        suffix = f'_{key}'
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[:-len(suffix)], key
    raise UserInputError(f'Run name {name!r} (a config\'s or work dir\'s name) does not end '
                         f'with _<benchmark>; benchmarks: {", ".join(COLUMNS)}.')


def format_table(results: Mapping[str, float], precision: int = 1) -> str:
    """A Markdown table of mIoU results.

    Args:
        results: mIoU (in %) per run name ``<method>_<benchmark>``.
        precision: Decimals shown.

    Returns:
        str: The table: methods as rows in the order they first appear in ``results``,
        benchmarks with a result as columns in the paper's order, then ``Avg``.

    Raises:
        UserInputError: A run name has no benchmark suffix.
    """
    table: Dict[str, Dict[str, float]] = {}
    for name, miou in results.items():
        method, benchmark = split_run_name(name)
        table.setdefault(method, {})[benchmark] = float(miou)
    shown = [key for key in COLUMNS if any(key in row for row in table.values())]
    averaged = [key for key in shown if key in AVERAGED]

    def cell(value: Optional[float]) -> str:
        return '–' if value is None else f'{value:.{precision}f}'

    lines = ['| Method | ' + ' | '.join(COLUMNS[key] for key in shown) + ' | Avg |',
             '| --- |' + ' ---: |' * (len(shown) + 1)]
    for method, row in table.items():
        complete = bool(averaged) and all(key in row for key in averaged)
        average = sum(row[key] for key in averaged) / len(averaged) if complete else None
        cells = [cell(row.get(key)) for key in shown] + [cell(average)]
        lines.append(f'| {method} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def _json_records(path: str) -> List[Any]:
    """The JSON records of a file: one document, or one per line (mmengine's scalar log)."""
    try:
        with open(path, encoding='utf-8') as handle:
            text = handle.read()
    except UnicodeDecodeError:
        raise UserInputError(f'{path!r} is not a text file; is it a tools/test.py result '
                             '(<work dir>/<time>/<time>.json)?') from None
    except OSError as error:
        raise UserInputError(f'{path!r} could not be read: {error.strerror or error}.') \
            from error
    if not text.strip():
        raise UserInputError(f'{path!r} is empty; did its tools/test.py run finish? Run it '
                             'again.')
    try:
        return [json.loads(text)]
    except ValueError:
        pass
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except ValueError:
                raise UserInputError(f'{path!r} is not valid JSON (line {number}); is the file '
                                     'complete? Run its tools/test.py run again.') from None
    return records


def read_result(path: str) -> float:
    """The mIoU (percent) of a ``tools/test.py`` result file (``<work dir>/<time>/<time>.json``).

    Raises:
        UserInputError: The file is unreadable, not JSON, or has no mIoU in 0..100.
    """
    results = [record for record in _json_records(path)
               if isinstance(record, dict) and 'mIoU' in record]
    if not results:
        raise UserInputError(f'{path!r} is not a test result (it has no mIoU).')
    miou = results[-1]['mIoU']
    if isinstance(miou, bool) or not isinstance(miou, (int, float)) \
            or not math.isfinite(miou) or not 0 <= miou <= 100:
        raise UserInputError(f'{path!r} has mIoU {miou!r}; a tools/test.py result has a '
                             'percentage in 0..100.')
    return float(miou)


def newest_result(work_dir: str) -> str:
    """The result file of the newest finished test run in ``work_dir``; a warning names
    newer runs (``<time>`` folders) without a result.

    Raises:
        MissingFileError: No run in ``work_dir`` has a result.
    """
    runs = sorted(path for path in Path(work_dir).iterdir()
                  if path.is_dir() and RUN_FOLDER.fullmatch(path.name))
    finished = [run for run in runs if (run / f'{run.name}.json').is_file()]
    if not finished:
        raise MissingFileError(f'{work_dir!r} holds no tools/test.py result '
                               '(<time>/<time>.json); did the run finish?')
    newer = [run.name for run in runs if run.name > finished[-1].name]
    if newer:
        warn(f'{work_dir!r}: the newest run{"s" if len(newer) > 1 else ""} '
             f'{", ".join(newer)} left no result (crashed, or still running); the table '
             f'shows run {finished[-1].name}.')
    return str(finished[-1] / f'{finished[-1].name}.json')


def warn(message: str) -> None:
    print(f'warning: {message}', file=sys.stderr, flush=True)


def test_command(config: str, work_dir: str, data_root: Optional[str],
                 cfg_options: Sequence[str]) -> List[str]:
    """The ``tools/test.py`` command line that evaluates ``config``."""
    command = [sys.executable, str(TEST_SCRIPT), config, '--work-dir', work_dir]
    if data_root:
        command += ['--data-root', data_root]
    if cfg_options:
        command += ['--cfg-options', *cfg_options]
    return command


def check_config(command: Sequence[str]) -> Optional[str]:
    """The ``error:`` line of ``tools/test.py --check`` for an evaluation command, or None
    when the config is ready to run."""
    checked = subprocess.run([*command, '--check'], check=False, capture_output=True,
                             text=True)
    if checked.returncode == 0:
        return None
    lines = [line for line in checked.stderr.splitlines() if line.strip()]
    errors = [line[len('error: '):] for line in lines if line.startswith('error: ')]
    return errors[-1] if errors else (lines[-1] if lines else
                                      f'exit status {checked.returncode}')


def run_test(command: Sequence[str], config: str) -> None:
    """Run a ``tools/test.py`` evaluation in a child process (its output shown)."""
    status = subprocess.run(list(command), check=False).returncode
    if status != 0:
        raise UserInputError(f'tools/test.py failed on {config} (exit status {status}).')


def classify(path: str) -> Tuple[str, str]:
    """What one PATH argument is (``'config'``, ``'work_dir'`` or ``'result'``) and the name
    of its run; nothing is read or run yet.

    Raises:
        MissingFileError: ``path`` does not exist.
        UserInputError: ``path`` is none of the three, or its run name has no benchmark.
    """
    if osp.isdir(path):
        kind, name = 'work_dir', Path(path).resolve().name
    elif not osp.exists(path):
        raise MissingFileError(f'{path!r} does not exist; give a config (.py), the work dir '
                               'of a tools/test.py run or its result file (.json).')
    elif path.endswith('.py'):
        kind, name = 'config', Path(path).stem
    elif path.endswith('.json'):
        result = Path(path).resolve()
        if result.stem != result.parent.name:
            raise UserInputError(f'{path!r} is not where tools/test.py writes a result '
                                 '(<work dir>/<time>/<time>.json), and the run is named after '
                                 'its work dir; give the work dir instead.')
        kind, name = 'result', result.parent.parent.name
    else:
        raise UserInputError(f'{path!r} is neither a config (.py), a work dir nor a result '
                             'file (.json).')
    split_run_name(name)
    return kind, name


def collect(path: str, kind: str, command: Optional[Sequence[str]]) -> Tuple[float, str]:
    """The mIoU of one checked PATH (a ``'config'``, evaluated now with ``command``, or a
    ``'result'`` file), and the result file it comes from."""
    result = path
    if kind == 'config':
        run_test(command, path)
        result = newest_result(command[command.index('--work-dir') + 1])
    return read_result(result), result


def parse_data_roots(pairs: Sequence[str]) -> Dict[str, str]:
    """``['voc20=data/VOC2012', ...]`` -> ``{'voc20': 'data/VOC2012', ...}``."""
    roots = {}
    for pair in pairs:
        key, sep, root = pair.partition('=')
        if not sep or key not in COLUMNS:
            raise UserInputError(f'--data-root takes BENCHMARK=DIR with a benchmark among '
                             f'{", ".join(COLUMNS)}; got {pair!r}.')
        roots[key] = root
    return roots


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if not 0 <= args.precision <= MAX_PRECISION:
        raise UserInputError(f'--precision must be in 0..{MAX_PRECISION} decimals; got '
                             f'{args.precision}.')
    data_roots = parse_data_roots(args.data_root)
    runs, skipped = check_paths(args.paths, args.work_dir_root, data_roots, args.cfg_options)
    results: Dict[str, float] = {}
    sources: Dict[str, str] = {}
    for name, (path, kind, command) in runs.items():
        try:
            results[name], sources[name] = collect(path, kind, command)
        except UserInputError as error:
            if kind != 'config':  # a damaged result file is looked at, not skipped
                raise
            skipped.append(str(error))  # its evaluation failed: the others are shown
            warn(f'skipped: {skipped[-1]}')
    if not results:
        raise UserInputError(skipped[0] if len(skipped) == 1 else
                             f'No results to show: {" ".join(skipped)}')
    width = max(map(len, sources))
    for name, source in sources.items():
        print(f'{name.ljust(width)}  {source}')
    print()
    print(format_table(results, args.precision))


def check_paths(paths: Sequence[str], work_dir_root: str, data_roots: Mapping[str, str],
                cfg_options: Sequence[str]
                ) -> Tuple[Dict[str, Tuple[str, str, Optional[List[str]]]], List[str]]:
    """Every PATH, checked before the first evaluation (which may take hours).

    Returns:
        The runs to collect (run name -> PATH, kind, evaluation command of a config) and
        the reasons for the work dirs skipped, each already shown as a warning (when other
        runs are left to show) or kept for the final error.

    Raises:
        UserInputError: A PATH that is wrong (missing, of no known kind, a second result of
            one run) or a config that cannot run: all of them in one message.
    """
    runs: Dict[str, Tuple[str, str, Optional[List[str]]]] = {}
    skipped: List[str] = []
    for path in paths:
        try:
            kind, name = classify(path)
        except MissingFileError:
            raise
        except UserInputError as error:
            if not osp.isdir(path):  # only a work dir may be some other kind of folder
                raise
            skipped.append(f'{str(error)[:-1]}; it is no benchmark run.')
            continue
        if name in runs:
            raise UserInputError(f'{runs[name][0]!r} and {path!r} are both results of {name}; '
                                 'give one.')
        if kind == 'work_dir':
            try:
                path, kind = newest_result(path), 'result'
            except MissingFileError as error:
                skipped.append(str(error))
                continue
        command = None
        if kind == 'config':
            if osp.isfile(work_dir_root):
                raise UserInputError(f'--work-dir-root {work_dir_root!r} is a file, not a '
                                     'folder.')
            command = test_command(path, osp.join(work_dir_root, name),
                                   data_roots.get(split_run_name(name)[1]), cfg_options)
        runs[name] = path, kind, command
    problems = [f'{path}: {problem}' for path, kind, command in runs.values()
                if kind == 'config' for problem in [check_config(command)] if problem]
    if problems:
        raise UserInputError(f'{len(problems)} of the configs cannot run (nothing was '
                             f'evaluated): {" | ".join(problems)}')
    if runs:
        for reason in skipped:
            warn(f'skipped: {reason}')
    return runs, skipped


if __name__ == '__main__':
    sys.exit(run_cli(main))
