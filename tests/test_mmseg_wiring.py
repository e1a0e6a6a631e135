"""Our models behind MMSeg's and MMEngine's own pieces: their data preprocessor and its
padding, test-time flips, their model wrappers, dataset_meta, checkpoints and hooks."""
import copy
import logging
import types

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmseg.apis import MMSegInferencer, inference_model, init_model
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmseg_clipseg.clip import load_clip
from mmseg_clipseg.datasets.synthetic_scenes import generate_scenes
from mmseg_clipseg.engine import class_names_check
from mmseg_clipseg.utils.errors import UserInputError
from mmseg_clipseg.models import CLIPDenseBackbone

CONFIG = 'configs/clipseg_tiny_synthetic.py'
CLASS_NAMES = ['grass', 'water', 'sand', 'rock', 'circle', 'square', 'triangle']
TEST_CFGS = {
    'whole': dict(mode='whole'),
    'slide': dict(mode='slide', crop_size=(64, 64), stride=(32, 32)),
}


def model_cfg(**changes) -> Config:
    """The tiny synthetic config's model, with ``changes`` merged in."""
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict({'model.decode_head.text_cache': False,
                         **{f'model.{key}': value for key, value in changes.items()}})
    return cfg.model


def random_image(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """A uint8 (3, H, W) image as the loading pipeline gives it."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=generator)


def predicted_labels(model, images, **meta) -> list:
    samples = [SegDataSample(metainfo=dict(ori_shape=tuple(image.shape[-2:]),
                                           img_shape=tuple(image.shape[-2:]), **meta))
               for image in images]
    with torch.no_grad():
        results = model.test_step(dict(inputs=list(images), data_samples=samples))
    return [result.pred_sem_seg.data for result in results]


@pytest.mark.parametrize('padding', [dict(size_divisor=32), dict(size=(96, 128))])
@pytest.mark.parametrize('mode', sorted(TEST_CFGS))
def test_mmseg_preprocessor_padding_gives_the_unpadded_labels(mode, padding):
    ours = MODELS.build(model_cfg(test_cfg=TEST_CFGS[mode])).eval()
    preprocessor = dict(Config.fromfile(CONFIG).model.data_preprocessor,
                        type='SegDataPreProcessor', test_cfg=padding)
    theirs = MODELS.build(model_cfg(test_cfg=TEST_CFGS[mode],
                                    data_preprocessor=preprocessor)).eval()
    images = [random_image(50, 90, seed) for seed in (0, 1)]
    expected = predicted_labels(ours, images)
    for labels, reference in zip(predicted_labels(theirs, images), expected):
        assert labels.shape == (1, 50, 90)
        assert torch.equal(labels, reference)


@pytest.mark.parametrize('direction,dims', [('horizontal', (-1, )), ('vertical', (-2, )),
                                            ('diagonal', (-2, -1))])
def test_test_time_flips_are_undone_along_their_direction(direction, dims):
    model = MODELS.build(model_cfg()).eval()
    image = random_image(48, 80)
    flipped_labels, = predicted_labels(model, [image.flip(dims)], flip=True,
                                  flip_direction=direction)
    plain_labels, = predicted_labels(model, [image.flip(dims)])
    assert torch.equal(flipped_labels, plain_labels.flip(dims))


def test_unknown_flip_direction_is_refused():
    model = MODELS.build(model_cfg()).eval()
    with pytest.raises(UserInputError, match="flip_direction must be one of .*'diagonal'"):
        predicted_labels(model, [random_image(48, 80)], flip=True, flip_direction='sideways')


def test_the_frozen_clip_is_frozen():
    model = init_model(CONFIG, device='cpu')
    assert not any(parameter.requires_grad for parameter in model.parameters())
    result = inference_model(model, np.ascontiguousarray(generate_scenes(1, 2)[0].image))
    assert not result.seg_logits.data.requires_grad  # no autograd graph outside no_grad
    # Backbone and head are frozen on their own too (e.g. in a plain EncoderDecoder).
    tiny = dict(model_name='clipseg-test-tiny', pretrained=None)
    assert not any(parameter.requires_grad
                   for parameter in CLIPDenseBackbone(clip=tiny).parameters())


def test_distributed_runs_wrap_the_model_without_ddp():
    """As MMEngine's Runner.wrap_model does it in a distributed run (DDP would refuse a model
    without trainable parameters)."""
    cfg = Config.fromfile(CONFIG)
    model = MODELS.build(model_cfg()).eval()
    runner = types.SimpleNamespace(distributed=True, cfg=Config(),
                                   logger=logging.getLogger(__name__))
    wrapper = Runner.wrap_model(runner, copy.deepcopy(cfg.model_wrapper_cfg), model)
    assert is_model_wrapper(wrapper) and wrapper.module is model
    images = [random_image(64, 64)]
    samples = [SegDataSample(metainfo=dict(ori_shape=(64, 64), img_shape=(64, 64)))]
    with torch.no_grad():
        wrapped, = wrapper.test_step(dict(inputs=images, data_samples=samples))
    assert torch.equal(wrapped.pred_sem_seg.data, predicted_labels(model, images)[0])
    with pytest.raises(RuntimeError, match='testing only'):
        wrapper.train_step({}, None)


def test_dataset_meta_follows_the_vocabulary():
    model = MODELS.build(model_cfg())
    assert model.dataset_meta['classes'] == CLASS_NAMES
    assert len(model.dataset_meta['palette']) == len(CLASS_NAMES)
    model.dataset_meta = dict(classes=['road', 'sidewalk'], palette=[[1, 2, 3], [4, 5, 6]])
    assert model.dataset_meta['classes'] == CLASS_NAMES  # other classes are not taken
    palette = [[index, 0, 0] for index in range(len(CLASS_NAMES))]
    model.dataset_meta = dict(classes=CLASS_NAMES, palette=palette)
    assert model.dataset_meta['palette'] == palette
    model.set_vocabulary(['cat, kitten', 'dog'])
    assert model.dataset_meta['classes'] == ['cat', 'dog']
    assert len(model.dataset_meta['palette']) == 2


@pytest.fixture
def scene_file(tmp_path) -> str:
    scene, = generate_scenes(1, seed=5)
    path = str(tmp_path / 'scene.png')
    mmcv.imwrite(np.ascontiguousarray(scene.image[..., ::-1]), path)
    return path


def test_mmseg_inferencer_names_our_classes_with_our_palette(scene_file):
    inferencer = MMSegInferencer(model=CONFIG, device='cpu')
    inferencer(scene_file, return_vis=True)
    meta = inferencer.visualizer.dataset_meta
    assert list(meta['classes']) == CLASS_NAMES
    expected = MODELS.build(model_cfg()).dataset_meta['palette']
    assert [list(color) for color in meta['palette']] == expected


def test_inference_model_keeps_every_class_probability(scene_file):
    result = inference_model(init_model(CONFIG, device='cpu'), scene_file)
    assert result.seg_logits.data.shape == (len(CLASS_NAMES), 64, 64)
    assert torch.equal(result.seg_logits.data.argmax(dim=0, keepdim=True),
                       result.pred_sem_seg.data)


def test_clip_weights_given_as_a_segmentor_checkpoint_are_refused(tmp_path):
    path = str(tmp_path / 'clip.pth')
    torch.save(load_clip(dict(model_name='clipseg-tiny-synth',
                              pretrained='synthetic')).state_dict(), path)
    with pytest.raises(UserInputError, match='model.clip.pretrained'):
        init_model(CONFIG, checkpoint=path, device='cpu')


def test_float_image_in_unit_range_is_refused():
    model = init_model(CONFIG, device='cpu')
    image = generate_scenes(1, seed=5)[0].image.astype(np.float32) / 255
    with pytest.raises(UserInputError, match='floats in \\[0, 1\\].*multiply by 255'):
        inference_model(model, image)


def test_class_names_check_knows_the_heads_background(monkeypatch):
    """A VOC-like head whose class 0 is named by stuff names is checked without class 0."""
    model = MODELS.build(model_cfg(decode_head=dict(
        class_names=['sky, wall', 'grass', 'water'], background='text')))
    warnings = []
    monkeypatch.setattr(class_names_check, 'print_log',
                        lambda message, **kwargs: warnings.append(message))
    dataset = types.SimpleNamespace(metainfo=dict(classes=('background', 'grass', 'water')))
    runner = types.SimpleNamespace(model=model,
                                   test_dataloader=types.SimpleNamespace(dataset=dataset))
    class_names_check.ClassNamesCheckHook().before_test(runner)
    assert warnings == []
    dataset.metainfo = dict(classes=('background', 'grass', 'sand'))
    class_names_check.ClassNamesCheckHook().before_test(runner)
    assert len(warnings) == 1 and "2: 'sand' vs 'water'" in warnings[0]
    assert "'background'" not in warnings[0]


def test_repeated_cra_layers_are_refused():
    with pytest.raises(UserInputError, match='lists block\\(s\\) \\[3\\] more than once'):
        CLIPDenseBackbone(clip=dict(model_name='clipseg-test-tiny', pretrained=None),
                          cra=dict(layers=[3, 3, 4]))
