"""The results of ``tools/test.py`` runs as the paper's table: run names, result files and
work dirs read, mIoU values checked, and the Markdown table (``tools/results_table.py``).

A run is named ``<method>_<benchmark>`` after its config (``clipseg_vitb_voc20``); its result
is ``<work dir>/<time>/<time>.json``, mmengine's scalar record of the test.
"""
import json
import math
import os.path as osp
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..utils.errors import MissingFileError, UserInputError

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
# mmengine names a run's folder by the second it started.
RUN_FOLDER = re.compile(r'\d{8}_\d{6}')


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
    """One ``warning:`` line on stderr (the table goes to stdout)."""
    print(f'warning: {message}', file=sys.stderr, flush=True)


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
