"""Data loader settings decided on the machine that builds the loader, not in the config.

A config that read the machine (CPU count, environment variables) when parsed would dump a
different file on every machine; it states upper bounds and wishes instead, and
:func:`fit_loader_to_machine` turns them into what this process can use.
:func:`check_loader_settings` checks the settings as written, before any worker starts.
"""
import os
import os.path as osp
import uuid
from typing import Any, Dict, Mapping, Optional

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import Runner

from ..models.settings import check_bool, check_int
from ..utils.errors import UserInputError


def _group(where: str, value: Any) -> Mapping:
    if not isinstance(value, Mapping):
        raise UserInputError(f'{where} must be a dict; got {value!r}')
    return value


def _flags(where: str, settings: Mapping, *keys: str) -> None:
    """Those of ``keys`` that ``settings`` sets are True or False."""
    for key in keys:
        if key in settings:
            check_bool(f'{where}.{key}', settings[key])


def check_loader_settings(cfg: Config) -> None:
    """The test dataloader's settings, checked before any worker or model is started."""
    loader = cfg.get('test_dataloader')
    if not isinstance(loader, Mapping):
        raise UserInputError('The config has no test_dataloader; is it a test config (e.g. '
                             'configs/clipseg_vitb_voc20.py)?')
    check_int('test_dataloader.batch_size', loader.get('batch_size', 1))
    workers = check_int('test_dataloader.num_workers', loader.get('num_workers', 0), low=0)
    _flags('test_dataloader', loader, 'persistent_workers', 'pin_memory', 'drop_last')
    if loader.get('persistent_workers') and workers == 0:
        raise UserInputError('test_dataloader.persistent_workers=True needs num_workers >= 1; '
                             'with num_workers=0 also set '
                             'test_dataloader.persistent_workers=False.')
    if loader.get('prefetch_factor') is not None:
        check_int('test_dataloader.prefetch_factor', loader['prefetch_factor'])
    sampler = _group('test_dataloader.sampler', loader.get('sampler'))
    _group('test_dataloader.dataset', loader.get('dataset'))
    _flags('test_dataloader.sampler', sampler, 'shuffle')
    _flags('test_cfg', _group('test_cfg', cfg.get('test_cfg', {})), 'fp16')


def _processes_per_node() -> int:
    """Processes sharing this machine's cores: torchrun's ``LOCAL_WORLD_SIZE``, else 1."""
    value = os.environ.get('LOCAL_WORLD_SIZE', '')
    return int(value) if value.isdigit() and int(value) > 0 else 1


def fit_loader_to_machine(loader: Mapping[str, Any], cuda: Optional[bool] = None,
                          cpus: Optional[int] = None) -> Dict[str, Any]:
    """A copy of a data loader config that this process can run as well as it can.

    - ``num_workers`` is an upper bound: at most this process's share of the CPU cores
      (``cpus // processes per node``, at least 1), so that a config written for a large
      node does not start dozens of workers on a laptop, nor 8 per process under torchrun.
    - ``pin_memory`` only helps copies to a GPU: it is turned off without CUDA (torch warns
      on every batch otherwise).

    Args:
        loader: The loader config (``cfg.test_dataloader``); not changed.
        cuda: Whether batches go to a GPU (default: ``torch.cuda.is_available()``, the
            device mmengine's runner picks).
        cpus: CPU cores of the machine (default: ``os.cpu_count()``).

    Returns:
        dict: The loader config with those two settings fitted.
    """
    fitted = dict(loader)
    cuda = torch.cuda.is_available() if cuda is None else cuda
    workers = fitted.get('num_workers', 0)
    if isinstance(workers, int) and workers > 1:
        share = max(1, (cpus or os.cpu_count() or 1) // _processes_per_node())
        fitted['num_workers'] = min(workers, share)
    if fitted.get('pin_memory') and not cuda:
        fitted['pin_memory'] = False
    changed = [f'{key}={fitted[key]} (config: {loader[key]})' for key in fitted
               if key in loader and fitted[key] != loader[key]]
    if changed:
        print_log(f'Data loader fitted to this machine: {", ".join(changed)}.',
                  logger='current')
    return fitted


class FittedLoaderRunner(Runner):
    """mmengine's Runner whose data loaders are fitted to the machine when they are built
    (:func:`fit_loader_to_machine`); the config, and the copy the runner dumps, stay as
    written. Each runner gets an experiment name of its own (see :meth:`from_cfg`)."""

    @classmethod
    def from_cfg(cls, cfg: Config) -> 'FittedLoaderRunner':
        # mmengine names its logger and visualizer instances after the experiment (by
        # default the config's name and the second): runners built within one second in
        # one process (tests, a notebook, ablations) would share a logger whose console
        # stream an earlier run may have closed.
        if not cfg.get('experiment_name'):
            stem = osp.splitext(osp.basename(cfg.filename or 'run'))[0]
            cfg.experiment_name = f'{stem}_{uuid.uuid4().hex[:8]}'
        return super().from_cfg(cfg)

    @staticmethod
    def build_dataloader(dataloader, seed=None, diff_rank_seed=False):
        if isinstance(dataloader, Mapping):
            dataloader = fit_loader_to_machine(dataloader)
        return Runner.build_dataloader(dataloader, seed=seed, diff_rank_seed=diff_rank_seed)
