"""Helpers shared by the command-line tools: config loading and user-facing checks."""
import os
import os.path as osp
import sys
from typing import Callable, List, Optional, Sequence

from mmengine.config import Config

from .errors import MissingFileError, UserInputError


def load_config(path: str, cfg_options: Optional[dict] = None,
                data_root: Optional[str] = None) -> Config:
    """Read a config, apply ``--cfg-options`` and point the test set at ``data_root``."""
    if not osp.isfile(path):
        raise MissingFileError(f'Config file {path!r} does not exist; configs are under '
                               'configs/, e.g. configs/clipseg_vitb_voc20.py.')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if data_root is not None:
        cfg.test_dataloader.dataset.data_root = data_root
    return cfg


def check_data_root(cfg: Config) -> None:
    """Fail with a clear message when the test dataset's folder is missing."""
    dataset = cfg.test_dataloader.dataset
    root = dataset.get('data_root', '')
    if not osp.isdir(root):
        raise MissingFileError(
            f'Dataset folder {root!r} (test_dataloader.dataset.data_root) does not exist. '
            'Point the config at your copy with --data-root PATH; docs/datasets.md shows '
            'how to download and convert each benchmark.')
    prefixes: Sequence[str] = dataset.get('data_prefix', {}).values()
    for prefix in prefixes:
        if prefix and not osp.isdir(osp.join(root, prefix)):
            raise MissingFileError(
                f'Dataset folder {root!r} has no {prefix!r} subfolder; is it the right '
                'dataset, converted as docs/datasets.md describes?')
    ann_file = dataset.get('ann_file')
    if ann_file and not osp.isfile(osp.join(root, ann_file)):
        raise MissingFileError(f'Dataset folder {root!r} has no split file {ann_file!r}.')


def run_cli(main: Callable[[Optional[List[str]]], None],
            argv: Optional[List[str]] = None) -> int:
    """Run a tool's ``main``; print a user mistake as one ``error:`` line, no traceback.

    Set ``MMSEG_CLIPSEG_DEBUG=1`` to get the traceback anyway.

    Returns:
        int: The exit status: 0 on success, 1 after a user mistake.
    """
    try:
        main(argv)
    except UserInputError as error:
        if os.environ.get('MMSEG_CLIPSEG_DEBUG'):
            raise
        print(f'error: {error}\n(set MMSEG_CLIPSEG_DEBUG=1 to see the traceback)',
              file=sys.stderr)
        return 1
    return 0
