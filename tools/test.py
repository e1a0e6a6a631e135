"""Evaluate a training-free segmentation config on its benchmark.

    python tools/test.py configs/clipseg_vitb_voc20.py --data-root data/VOCdevkit/VOC2012
    python tools/test.py configs/clipseg_vitb_voc20.py --data-root ... --check   # inputs only

There is no checkpoint argument: nothing is trained. The CLIP weights come from
``model.clip.pretrained`` (an open_clip tag or a local checkpoint file).

Before anything heavy runs, the config, its options, the dataloader and sliding-window
settings, every image and label file of the test set (its header: a file that is no image,
a colour label map, a label of another size) and the output folders are checked; a mistake is
one ``error:`` line. ``--check`` also decodes every image and label (truncated files) and
builds the model with random CLIP weights (every model setting, and the head's classes
against the dataset's), then stops (exit status 0: ready to run). It does not read the CLIP
weights (``model.clip.pretrained``): the run does, and says what is wrong with them. A file
that fails to decode during a run is named in one line as well.

A run holds an exclusive lock on its work dir (``<work dir>/.tools_test.lock``): mmengine
names a run's log folder by the second it started, so two runs sharing a work dir could write
into one folder and lose a result. A second run on a busy work dir is refused at once (rather
than queued: a run that waits silently looks hung); give it its own ``--work-dir``. A run that
starts in the second an earlier one ended waits for the next second, so it gets a folder of
its own.
"""
import argparse
import contextlib
import copy
import logging
import os
import os.path as osp
import sys
import warnings
from typing import List, Mapping, Optional, Tuple


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Evaluate a training-free CLIP segmentation config (no checkpoint).')
    parser.add_argument('config', help='config file, e.g. configs/clipseg_vitb_voc20.py')
    parser.add_argument('--data-root', help='dataset folder (overrides the config)')
    parser.add_argument('--work-dir', help='folder for logs and results '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--show-dir', help='write each image with its ground truth and '
                        'coloured prediction to this folder')
    parser.add_argument('--cfg-options', nargs='+', metavar='KEY=VALUE',
                        help='override config settings, e.g. model.clip.pretrained=/path.bin')
    parser.add_argument('--check', action='store_true',
                        help='check the config, its options, the test set (every file '
                        'decoded), the model settings (built with random weights) and the '
                        'output folders, then exit without evaluating (status 0: ready to run)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher for distributed runs')
    parser.add_argument('--local-rank', '--local_rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


if __name__ == '__main__':
    parse_args(sys.argv[1:])  # --help and usage mistakes are answered before torch is imported

import mmseg_clipseg  # noqa: E402,F401  (first: installs the mmcv-lite shim, registers modules)
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from mmseg_clipseg.apis.cli import check_data_root, load_config, parse_cfg_options, run_cli
from mmseg_clipseg.apis.dist_launch import (CHECKED_VARIABLE, check_launcher,
                                            check_process_count, launched_rank, leave_error)
from mmseg_clipseg.apis.test_set_checks import build_test_dataset, check_test_files
from mmseg_clipseg.apis.work_dirs import check_output_folder, work_dir_lock
from mmseg_clipseg.clip.text_encoder import encoding_shared_by_ranks
from mmseg_clipseg.datasets.loading import name_unreadable_files
from mmseg_clipseg.engine import EvaluationRunner
from mmseg_clipseg.engine.class_names_check import check_head_classes
from mmseg_clipseg.engine.loader_settings import check_loader_settings
from mmseg_clipseg.models.segmentors import check_test_cfg, keep_labels_only
from mmseg_clipseg.utils.errors import UserInputError


def _enable_visualization(cfg, show_dir: str) -> None:
    cfg.default_hooks.visualization.draw = True
    cfg.default_hooks.visualization.interval = 1
    cfg.visualizer.save_dir = show_dir


def _init_cpu_distributed(cfg) -> None:
    """Without CUDA, use gloo: mmengine's own init would call torch.cuda.set_device."""
    cfg.env_cfg.dist_cfg = dict(cfg.env_cfg.get('dist_cfg', {}), backend='gloo')
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend='gloo')


def check_model_settings_by_building(cfg: Config) -> bool:
    """Build the model as the run would, but with random CLIP weights (nothing is read or
    downloaded), so that the constructors check every model setting (``dense_mode``,
    ``cra``, the head's classes, ...) and the head's classes are compared with the dataset's,
    as the run's ClassNamesCheckHook does; the weights file itself is checked by the run.

    Returns:
        Whether the model was built: not for a ``hf-hub:`` model name, whose weights come with
        the name (building it would download them).
    """
    model = copy.deepcopy(cfg.model)
    if isinstance(model.get('clip'), Mapping):
        if str(model.clip.get('model_name', '')).startswith('hf-hub:'):
            return False
        model.clip.pretrained = None
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    logging.disable(logging.WARNING)  # open_clip warns that the weights are random
    try:
        with torch.no_grad():
            segmentor = MODELS.build(model)
    finally:
        logging.disable(logging.NOTSET)
    check_head_classes(getattr(segmentor, 'decode_head', None),
                       build_test_dataset(cfg).metainfo.get('classes'))
    return True


def _unwrapped(error: UserInputError) -> UserInputError:
    """torch re-raises a loader worker's error with the worker's traceback in its message;
    keep the message itself (the traceback's last line)."""
    text = str(error)
    if not (text.startswith('Caught ') and '\nOriginal Traceback' in text):
        return error
    last = text.rstrip().splitlines()[-1]
    return UserInputError(last.split(': ', 1)[-1])


def prepare(args: argparse.Namespace) -> Tuple[Config, int, bool]:
    """Load the config and check every input; no model is built.

    Returns:
        The config, ready for the runner, the number of test images (-1: not listed,
        remote storage, or checked already by tools/dist_test.sh) and whether the model was
        built (``--check``) to check its settings.
    """
    cfg = load_config(args.config, parse_cfg_options(args.cfg_options), args.data_root)
    check_launcher(args.launcher)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    check_loader_settings(cfg)
    check_test_cfg(cfg.get('model', {}).get('test_cfg'))  # windows and batching
    keep_labels_only(cfg)
    check_data_root(cfg)
    # Every image header is read here: once per tools/dist_test.sh run, not once per process.
    checked = not args.check and os.environ.get(CHECKED_VARIABLE) == '1'
    images = -1 if checked else check_test_files(cfg, decode=args.check)
    check_output_folder(cfg.work_dir, '--work-dir', create=not args.check)
    if args.show_dir:
        check_output_folder(args.show_dir, '--show-dir', create=not args.check)
    check_process_count()
    name_unreadable_files(cfg)
    built = args.check and check_model_settings_by_building(cfg)
    return cfg, images, built


def evaluate(args: argparse.Namespace) -> None:
    cfg, images, built = prepare(args)
    if args.check:
        if osp.isdir(cfg.work_dir):
            with work_dir_lock(cfg.work_dir):
                pass
        count = f'{images} test images' if images >= 0 else 'the test set'
        model = ('model settings (built with random weights; the weights are read by the run '
                 'only)' if built else 'model settings not built (a hf-hub: model)')
        print(f'ok: {args.config}: {count} with labels in '
              f'{cfg.test_dataloader.dataset.data_root} (every file decoded), {model}, work '
              f'dir {cfg.work_dir}')
        return
    if args.show_dir:
        _enable_visualization(cfg, args.show_dir)
    else:  # mmseg warns that its (unused) visualization hook does not draw
        warnings.filterwarnings('ignore', message='The draw is False')
    # One process of a distributed run holds the lock for all (they share the work dir).
    first = args.launcher == 'none' or launched_rank() == 0
    lock = work_dir_lock(cfg.work_dir) if first else contextlib.nullcontext()
    with lock:
        if args.launcher != 'none' and not torch.cuda.is_available():
            _init_cpu_distributed(cfg)
        # Every rank tests at least one sample, so the ranks can encode each vocabulary
        # together (each a 1/N share of the prompts).
        with encoding_shared_by_ranks():
            EvaluationRunner.from_cfg(cfg).test()
        if torch.distributed.is_initialized():
            # Left to interpreter exit, the process group's threads can abort a process
            # ("terminate called without an active exception"). After a failure the
            # launcher stops the other processes instead.
            torch.distributed.barrier()
            torch.distributed.destroy_process_group()


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    try:
        evaluate(args)
    except UserInputError as error:
        user_error = _unwrapped(error)
        if args.launcher != 'none':  # under tools/dist_test.sh: said once for all processes
            leave_error(str(user_error))
        if user_error is error:
            raise
        raise user_error from error


if __name__ == '__main__':
    sys.exit(run_cli(main))
