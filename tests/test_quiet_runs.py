"""Noise that a run must not print, and configs that read the same on every machine."""
import logging
import os
import runpy
import warnings
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger

from mmseg_clipseg.apis.cli import run_cli
from mmseg_clipseg.utils.errors import UserInputError
from mmseg_clipseg.engine import FittedLoaderRunner, fit_loader_to_machine

REPO = Path(__file__).resolve().parents[1]
TINY = str(REPO / 'configs' / 'clipseg_tiny_synthetic.py')
VOC20 = str(REPO / 'configs' / 'clipseg_vitb_voc20.py')


def tool(name: str) -> dict:
    return runpy.run_path(str(REPO / 'tools' / name))


class Records(logging.Handler):

    def __init__(self) -> None:
        super().__init__()
        self.messages = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_metric_builds_without_a_prefix_warning():
    from mmseg.registry import METRICS
    import mmseg_clipseg  # noqa: F401
    records = Records()
    logger = MMLogger.get_current_instance()
    logger.addHandler(records)
    try:
        metric = METRICS.build(dict(type='CheckedIoUMetric', iou_metrics=['mIoU']))
    finally:
        logger.removeHandler(records)
    assert not [m for m in records.messages if 'prefix is not set' in m]
    assert not metric.prefix  # the results keep mmseg's names: 'mIoU', not 'x/mIoU'


@pytest.fixture(scope='module')
def scenes(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp('quiet_scenes')
    tool('make_synthetic_scenes.py')['write_scenes'](str(root), num_images=2, seed=1)
    return str(root)


def test_several_runners_in_one_process_do_not_warn(scenes):
    compare = tool('compare_dense_modes.py')['compare']
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        compare(TINY, scenes, ('clipseg', 'vanilla'))
        compare(TINY, scenes, ('clipseg',))
    assert not [w for w in caught if 'get_instance' in str(w.message)]


def _dump(monkeypatch, cpus: int, processes: str) -> str:
    monkeypatch.setattr(os, 'cpu_count', lambda: cpus)
    monkeypatch.setenv('LOCAL_WORLD_SIZE', processes)
    return Config.fromfile(VOC20).pretty_text


def test_config_reads_the_same_on_every_machine(monkeypatch):
    assert _dump(monkeypatch, 2, '1') == _dump(monkeypatch, 64, '4')


def test_config_names_no_distributed_backend():
    assert 'nccl' not in Config.fromfile(VOC20).pretty_text


@pytest.mark.parametrize('cpus,processes,configured,expected', [
    (2, '1', 8, 2), (64, '4', 8, 8), (16, '4', 8, 4), (3, '4', 8, 1), (2, '1', 0, 0),
    (16, '', 1, 1)])
def test_workers_are_the_process_share_of_the_cores(monkeypatch, cpus, processes, configured,
                                                    expected):
    monkeypatch.setenv('LOCAL_WORLD_SIZE', processes)
    fitted = fit_loader_to_machine(dict(num_workers=configured), cuda=True, cpus=cpus)
    assert fitted['num_workers'] == expected


def test_memory_is_pinned_only_for_a_gpu():
    loader = dict(num_workers=0, pin_memory=True)
    assert fit_loader_to_machine(loader, cuda=False)['pin_memory'] is False
    assert fit_loader_to_machine(loader, cuda=True)['pin_memory'] is True
    assert loader['pin_memory'] is True  # the config is not changed


@pytest.mark.skipif(torch.cuda.is_available(), reason='pinned memory is right with CUDA')
def test_cpu_loader_is_built_without_pinned_memory(scenes):
    cfg = Config.fromfile(TINY)
    cfg.test_dataloader.dataset.data_root = scenes
    cfg.test_dataloader.pin_memory = True
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    loader = FittedLoaderRunner.build_dataloader(cfg.test_dataloader.to_dict())
    assert loader.pin_memory is False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        next(iter(loader))
    assert not [w for w in caught if 'pin_memory' in str(w.message)]


@pytest.mark.skipif(torch.cuda.is_available(), reason='the kineto messages are CPU-only')
def test_benchmark_profiles_quietly_on_cpu(capfd):
    benchmark = tool('benchmark.py')
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    model = benchmark['build_model'](Config.fromfile(TINY), 'cpu')
    images = torch.randint(0, 256, (1, 3, 64, 64), dtype=torch.uint8)
    capfd.readouterr()
    sections = benchmark['section_times'](model, images, 'cpu')
    err = capfd.readouterr().err
    assert 'gpuGetDeviceCount' not in err and 'profiler_start' not in err, err
    assert sections['clipseg.backbone'] > 0 and sections['clipseg.head'] > 0


def test_user_error_is_one_line_without_a_debug_hint(monkeypatch, capsys):
    monkeypatch.delenv('MMSEG_CLIPSEG_DEBUG', raising=False)

    def main(argv):
        raise UserInputError('--size must be in 36..1024 pixels; got 7.')

    assert run_cli(main, []) == 1
    assert capsys.readouterr().err == 'error: --size must be in 36..1024 pixels; got 7.\n'
