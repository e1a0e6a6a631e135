"""Print one mIoU table for several configs or finished test runs.

    python tools/results_table.py work_dirs/clipseg_vitb_*          # collect finished runs
    python tools/results_table.py configs/clipseg_vitb_voc20.py configs/clipseg_vitb_voc21.py \
        --data-root voc20=data/VOCdevkit/VOC2012 --data-root voc21=data/VOCdevkit/VOC2012

Each PATH is a config (``.py``: evaluated now with ``tools/test.py``, its work dir being
``WORK_DIR_ROOT/<config name>``), a work dir of an earlier ``tools/test.py`` run (its newest
result is used), or the result file of such a run (``<work dir>/<time>/<time>.json``). Runs
are named ``<method>_<benchmark>`` after their config, e.g. ``clipseg_vitb_voc20``.

The table has one row per method and the benchmarks as columns in the paper's order (VOC21,
Context60, Object, VOC20, Context59, Stuff, City, ADE150, then Context459 and ADE847), only
those with a result; ``Avg`` is the mean over the shown columns of the paper's eight, for rows
that have all of them.
"""
import argparse
import json
import os.path as osp
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from mmseg_clipseg.cli import run_cli
from mmseg_clipseg.errors import MissingFileError, UserInputError

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


def split_run_name(name: str) -> Tuple[str, str]:
    """Split ``<method>_<benchmark>`` (e.g. ``clipseg_vitb_coco_stuff``) into its two parts.

    Raises:
        UserInputError: ``name`` does not end with a benchmark key.
    """
    for key in COLUMNS:
        suffix = f'_{key}'
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[:-len(suffix)], key
    raise UserInputError(f'{name!r} does not end with _<benchmark>; benchmarks: '
                     f'{", ".join(COLUMNS)}.')


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


def read_result(path: str) -> float:
    """The mIoU of a ``tools/test.py`` result file (``<work dir>/<time>/<time>.json``)."""
    with open(path, encoding='utf-8') as handle:
        result = json.load(handle)
    if not isinstance(result, dict) or 'mIoU' not in result:
        raise UserInputError(f'{path!r} is not a test result (it has no mIoU).')
    return float(result['mIoU'])


def newest_result(work_dir: str) -> str:
    """The result file of the newest test run in ``work_dir``."""
    runs = sorted(path for path in Path(work_dir).glob('*/*.json')
                  if path.stem == path.parent.name)
    if not runs:
        raise MissingFileError(f'{work_dir!r} holds no tools/test.py result '
                                '(<time>/<time>.json); did the run finish?')
    return str(runs[-1])


def run_test(config: str, work_dir: str, data_root: Optional[str],
             cfg_options: Sequence[str]) -> None:
    """Evaluate ``config`` with ``tools/test.py`` in a child process."""
    command = [sys.executable, str(TEST_SCRIPT), config, '--work-dir', work_dir]
    if data_root:
        command += ['--data-root', data_root]
    if cfg_options:
        command += ['--cfg-options', *cfg_options]
    status = subprocess.run(command, check=False).returncode
    if status != 0:
        raise UserInputError(f'tools/test.py failed on {config} (exit status {status}).')


def collect(path: str, work_dir_root: str, data_roots: Mapping[str, str],
            cfg_options: Sequence[str]) -> Tuple[str, float]:
    """Run name and mIoU of one PATH argument (a config, a work dir or a result file)."""
    if osp.isfile(path) and path.endswith('.py'):
        name = Path(path).stem
        work_dir = osp.join(work_dir_root, name)
        run_test(path, work_dir, data_roots.get(split_run_name(name)[1]), cfg_options)
        return name, read_result(newest_result(work_dir))
    if osp.isdir(path):
        return Path(path).resolve().name, read_result(newest_result(path))
    if osp.isfile(path) and path.endswith('.json'):
        return Path(path).resolve().parent.parent.name, read_result(path)
    raise MissingFileError(f'{path!r} is neither a config (.py), a work dir nor a result '
                            'file (.json).')


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
    parser.add_argument('--precision', type=int, default=1, help='decimals (default: 1)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    data_roots = parse_data_roots(args.data_root)
    results: Dict[str, float] = {}
    for path in args.paths:
        name, miou = collect(path, args.work_dir_root, data_roots, args.cfg_options)
        if name in results:
            raise UserInputError(f'Two of the PATHs are results of {name}; give one.')
        results[name] = miou
    print(format_table(results, args.precision))


if __name__ == '__main__':
    sys.exit(run_cli(main))
