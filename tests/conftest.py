"""Shared test set-up: a private text-embedding cache, mmseg's default scope, tiny models."""
import os
import sys
import tempfile
from pathlib import Path

import pytest
import torch

# Before the package is imported anywhere: never touch the user's cache folder.
os.environ['MMSEG_CLIPSEG_CACHE'] = tempfile.mkdtemp(prefix='mmseg_clipseg_test_cache_')

import mmseg_clipseg  # noqa: E402,F401
import open_clip  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

init_default_scope('mmseg')
torch.set_num_threads(2)

# A 6-block ViT (patch 8, width 64, 4 heads) with random weights: a test asset, made an
# open_clip model name here (a process a test spawns registers it itself).
TINY_CLIP_CONFIG = Path(__file__).parent / 'assets' / 'clipseg-test-tiny.json'
open_clip.add_model_config(TINY_CLIP_CONFIG)
TINY_CLIP = dict(model_name=TINY_CLIP_CONFIG.stem, pretrained=None)


@pytest.fixture
def tiny_clip_cfg() -> dict:
    return dict(TINY_CLIP)


@pytest.fixture
def tiny_clip_config_file() -> Path:
    """The tiny model's open_clip config, for a process a test spawns to register."""
    return TINY_CLIP_CONFIG


# The CUDA lane: model-level tests take `device` and run once per device; `-m cuda` selects
# the CUDA runs, which are skipped on a machine without a GPU.
DEVICES = [
    pytest.param('cpu'),
    pytest.param('cuda', marks=[pytest.mark.cuda,
                                pytest.mark.skipif(not torch.cuda.is_available(),
                                                   reason='needs a CUDA GPU')]),
]


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    return torch.device(request.param)


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='module')
def env(tmp_path_factory) -> dict:
    """The environment of a tool run as a subprocess: the package on the path, a private
    text cache, one thread each, no debug tracebacks and no fixed distributed port."""
    environment = dict(os.environ)
    environment.update(
        PYTHONPATH=REPO + os.pathsep + environment.get('PYTHONPATH', ''),
        MMSEG_CLIPSEG_CACHE=str(tmp_path_factory.mktemp('text_cache')),
        OMP_NUM_THREADS='1',
        MKL_NUM_THREADS='1',
        PYTHON=sys.executable,
    )
    for name in ('MMSEG_CLIPSEG_DEBUG', 'PORT'):
        environment.pop(name, None)
    return environment
