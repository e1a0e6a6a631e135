"""MMSeg's own Python API (init_model, inference_model, MMSegInferencer) on our configs."""
import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmseg.apis import MMSegInferencer, inference_model, init_model
from mmseg.registry import MODELS

from mmseg_clipseg.datasets.synthetic_scenes import generate_scenes
from mmseg_clipseg.utils.errors import UserInputError

CONFIG = 'configs/clipseg_tiny_synthetic.py'


@pytest.fixture
def scene_file(tmp_path):
    """A synthetic 64x64 scene written as a PNG (BGR on disk, as cv2 reads it back)."""
    scene, = generate_scenes(1, seed=5)
    path = str(tmp_path / 'scene.png')
    mmcv.imwrite(np.ascontiguousarray(scene.image[..., ::-1]), path)
    return path


def with_uint16_loader(cfg: Config) -> Config:
    """The config with the 16-bit label loader in place of mmseg's LoadAnnotations."""
    for pipeline in (cfg.test_pipeline, cfg.test_dataloader.dataset.pipeline):
        for step in pipeline:
            if step['type'] == 'LoadAnnotations':
                step['type'] = 'LoadUInt16Annotations'
    return cfg


def reference_labels(cfg: Config, path: str) -> torch.Tensor:
    """Labels from the model built through the config, on the image loaded by the pipeline."""
    model = MODELS.build(cfg.model).eval()
    pipeline = Compose([step for step in cfg.test_dataloader.dataset.pipeline
                        if not step['type'].startswith('Load') or step['type'] ==
                        'LoadImageFromFile'])
    with torch.no_grad():
        result, = model.test_step(pseudo_collate([pipeline(dict(img_path=path))]))
    return result.pred_sem_seg.data


@pytest.mark.parametrize('loader', ['LoadAnnotations', 'LoadUInt16Annotations'])
def test_init_model_and_inference_model(scene_file, loader):
    cfg = Config.fromfile(CONFIG)
    if loader == 'LoadUInt16Annotations':
        cfg = with_uint16_loader(cfg)
    expected = reference_labels(cfg, scene_file)
    model = init_model(cfg.copy(), device='cpu')
    from_path = inference_model(model, scene_file)
    from_array = inference_model(model, mmcv.imread(scene_file))  # BGR, as from a file
    assert from_path.pred_sem_seg.shape == (64, 64)
    assert torch.equal(from_path.pred_sem_seg.data, expected)
    assert torch.equal(from_array.pred_sem_seg.data, expected)


def test_mmseg_inferencer(scene_file):
    expected = reference_labels(Config.fromfile(CONFIG), scene_file)
    inferencer = MMSegInferencer(model=CONFIG, device='cpu')
    result = inferencer(scene_file, return_datasamples=True)
    assert torch.equal(result.pred_sem_seg.data, expected)


def test_init_model_refuses_real_training_settings():
    cfg = Config.fromfile(CONFIG)
    cfg.model.pretrained = 'weights.pth'
    with pytest.raises(UserInputError, match="training-free and does not take \\['pretrained'\\]"):
        MODELS.build(cfg.model)
