"""Shared test set-up: a private text-embedding cache, mmseg's default scope, tiny models."""
import os
import tempfile

import pytest
import torch

# Before the package is imported anywhere: never touch the user's cache folder.
os.environ['MMSEG_CLIPSEG_CACHE'] = tempfile.mkdtemp(prefix='mmseg_clipseg_test_cache_')

import mmseg_clipseg  # noqa: E402,F401
from mmengine.registry import init_default_scope  # noqa: E402

init_default_scope('mmseg')
torch.set_num_threads(2)

# A 6-block ViT (patch 8, width 64, 4 heads) with random weights, shipped with the package.
TINY_CLIP = dict(model_name='clipseg-test-tiny', pretrained=None)


@pytest.fixture
def tiny_clip_cfg() -> dict:
    return dict(TINY_CLIP)


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
