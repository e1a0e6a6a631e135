"""Evaluate a training-free segmentation config on its benchmark.

    python tools/test.py configs/clipseg_vitb_voc20.py --data-root data/VOCdevkit/VOC2012

There is no checkpoint argument: nothing is trained. The CLIP weights come from
``model.clip.pretrained`` (an open_clip tag or a local checkpoint file).
"""
import argparse
import os
import os.path as osp
import sys

import mmseg_clipseg  # noqa: F401  (first: installs the mmcv-lite shim, registers modules)
import torch
from mmengine.config import DictAction
from mmengine.runner import Runner

from mmseg_clipseg.cli import check_data_root, load_config, run_cli


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Evaluate a training-free CLIP segmentation config (no checkpoint).')
    parser.add_argument('config', help='config file, e.g. configs/clipseg_vitb_voc20.py')
    parser.add_argument('--data-root', help='dataset folder (overrides the config)')
    parser.add_argument('--work-dir', help='folder for logs and results '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--show-dir', help='write each image with its ground truth and '
                        'coloured prediction to this folder')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config settings, e.g. model.clip.pretrained=/path.bin')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher for distributed runs')
    parser.add_argument('--local-rank', '--local_rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def _enable_visualization(cfg, show_dir: str) -> None:
    cfg.default_hooks.visualization.draw = True
    cfg.default_hooks.visualization.interval = 1
    cfg.visualizer.save_dir = show_dir


def _init_cpu_distributed(cfg) -> None:
    """Without CUDA, use gloo: mmengine's own init would call torch.cuda.set_device, and its
    default model wrapper would pass a GPU index as DDP's device_ids."""
    cfg.env_cfg.dist_cfg.backend = 'gloo'
    cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None)
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend='gloo')


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.data_root)
    check_data_root(cfg)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.show_dir:
        _enable_visualization(cfg, args.show_dir)
    if args.launcher != 'none' and not torch.cuda.is_available():
        _init_cpu_distributed(cfg)
    Runner.from_cfg(cfg).test()


if __name__ == '__main__':
    sys.exit(run_cli(main))
