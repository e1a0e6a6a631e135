"""Evaluate one config under several dense modes in one process and print one table.

    python tools/compare_dense_modes.py configs/clipseg_tiny_synthetic.py \\
        --data-root data/synthetic_scenes --modes clipseg maskclip vanilla

For each mode the config is loaded with ``model.backbone.dense_mode=MODE`` and a runner is
built with mmengine's ``Runner.from_cfg``; the CLIP model is loaded once per process (the
loader caches it) and the text embeddings come from the on-disk cache. Prints per-class IoU
(rows) x modes (columns), then mIoU, and, for the synthetic benchmark, the mean over its
stuff and shape classes. ``--json`` also writes the numbers to a file.
"""
import argparse
import json
import logging
import os.path as osp
import sys
import tempfile
from typing import TYPE_CHECKING, Dict, Optional, Sequence, Tuple

if TYPE_CHECKING:  # imported for real after the arguments are parsed (fast --help)
    from mmengine.config import Config
    from mmengine.runner import Runner


DEFAULT_MODES = ('clipseg', 'maskclip', 'vanilla')


def mode_runner(config: str, data_root: Optional[str], mode: str,
                cfg_options: Optional[dict] = None, work_dir: Optional[str] = None
                ) -> Tuple['Config', 'Runner']:
    """The config with ``model.backbone.dense_mode=mode`` and a quiet runner for it."""
    options = dict(cfg_options or {})
    options['model.backbone.dense_mode'] = mode
    cfg = load_config(config, options, data_root)
    check_data_root(cfg)
    return cfg, quiet_runner(cfg, work_dir, prefix='compare_dense_modes_')


def evaluate_mode(config: str, data_root: Optional[str], mode: str,
                  cfg_options: Optional[dict] = None, work_dir: Optional[str] = None) -> Dict:
    """Per-class IoU (percent; NaN for a class absent from predictions and labels) of
    ``config`` with ``model.backbone.dense_mode=mode``, from the config's own metric."""
    cfg, runner = mode_runner(config, data_root, mode, cfg_options, work_dir)
    return per_class_iou(runner.model, runner.test_dataloader, cfg.test_evaluator)


def compare(config: str, data_root: Optional[str], modes: Sequence[str] = DEFAULT_MODES,
            cfg_options: Optional[dict] = None) -> Dict[str, Dict]:
    """:func:`evaluate_mode` for every mode, with summary means added; the progress over
    all modes (images done, time left) goes to stderr."""
    results = {}
    progress = None
    with tempfile.TemporaryDirectory(prefix='compare_dense_modes_') as work_dir:
        try:
            for mode in modes:
                cfg, runner = mode_runner(config, data_root, mode, cfg_options,
                                          osp.join(work_dir, mode))
                if progress is None:  # the test set's size is known once a runner is built
                    progress = Progress(len(modes) * len(runner.test_dataloader.dataset),
                                        'compare_dense_modes', status=f'mode {mode}')
                progress.update(0, status=f'mode {mode}')
                result = per_class_iou(runner.model, runner.test_dataloader,
                                       cfg.test_evaluator, progress)
                result.update(iou_summaries(result['classes'], result['iou']))
                results[mode] = result
        finally:
            if progress is not None:
                progress.close()
    return results


def format_table(results: Dict[str, Dict]) -> str:
    modes = list(results)
    classes = results[modes[0]]['classes']
    name_width = max(12, max(len(name) for name in classes) + 2)
    width = max(10, max(len(mode) for mode in modes) + 2)
    lines = ['class'.ljust(name_width) + ''.join(mode.rjust(width) for mode in modes)]
    lines.append('-' * len(lines[0]))
    for index, name in enumerate(classes):
        lines.append(name.ljust(name_width) + ''.join(
            f'{results[mode]["iou"][index]:{width}.1f}' for mode in modes))
    lines.append('-' * len(lines[0]))
    for key in results[modes[0]]:
        if key in ('classes', 'iou'):
            continue
        lines.append(key.ljust(name_width) + ''.join(
            f'{results[mode][key]:{width}.1f}' for mode in modes))
    return '\n'.join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('--data-root', help='dataset folder (overrides the config)')
    parser.add_argument('--modes', nargs='+', default=list(DEFAULT_MODES),
                        help='dense modes (model.backbone.dense_mode values)')
    parser.add_argument('--cfg-options', nargs='+', metavar='KEY=VALUE',
                        help='config overrides applied to every mode')
    parser.add_argument('--json', help='also write the results to this JSON file')
    return parser.parse_args(argv)


if __name__ == '__main__':
    parse_args(sys.argv[1:])  # --help and usage mistakes are answered before torch is imported

import mmseg_clipseg  # noqa: F401  (first: installs the mmcv-lite shim, registers modules)

from mmseg_clipseg.apis.cli import check_data_root, load_config, parse_cfg_options, run_cli
from mmseg_clipseg.utils.errors import UserInputError
from mmseg_clipseg.evaluation.per_class import iou_summaries, per_class_iou, quiet_runner
from mmseg_clipseg.apis.progress import Progress
from mmseg_clipseg.models import DENSE_MODES


def main(argv=None) -> None:
    args = parse_args(argv)
    options = parse_cfg_options(args.cfg_options)
    # Checked before the first mode runs (each takes a full evaluation).
    unknown = [mode for mode in args.modes if mode not in DENSE_MODES]
    if unknown:
        raise UserInputError(f'--modes: unknown dense mode(s) {", ".join(unknown)}; known: '
                             f'{", ".join(DENSE_MODES)}.')
    if 'model.backbone.dense_mode' in options:
        raise UserInputError('--cfg-options model.backbone.dense_mode would be replaced by each '
                             'of --modes; give the modes with --modes.')
    if args.json is not None and osp.isdir(args.json):
        raise UserInputError(f'--json {args.json!r} is a folder; give a file name.')
    results = compare(args.config, args.data_root, list(dict.fromkeys(args.modes)), options)
    print(format_table(results))
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as handle:
            json.dump(results, handle, indent=2)


if __name__ == '__main__':
    logging.getLogger().setLevel(logging.WARNING)
    sys.exit(run_cli(main))
