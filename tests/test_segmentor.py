"""The segmentor: batched windows, batch-size invariance, slide vs whole, background."""
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmseg_clipseg.utils.errors import UserInputError
from mmseg_clipseg.models.segmentors import sliding_windows
from reference import peers_decision, peers_name_logits

CLASSES = ['cat', 'grass', 'sky, clouds', 'road']


def build(tiny_clip_cfg, **test_cfg):
    cfg = Config.fromfile('configs/_base_/models/clipseg.py').model
    cfg.clip = tiny_clip_cfg
    cfg.decode_head.class_names = CLASSES
    # Probabilities kept (the benchmark configs drop them), so that tests can compare them.
    cfg.test_cfg.update(dict(crop_size=(64, 64), stride=(32, 32), keep_seg_logits=True,
                             **test_cfg))
    return MODELS.build(cfg).eval()


def images(*sizes, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, (3, h, w), generator=generator, dtype=torch.uint8)
            for h, w in sizes]


def predict(model, batch):
    samples = [SegDataSample(metainfo=dict(ori_shape=tuple(img.shape[1:]),
                                           img_shape=tuple(img.shape[1:]))) for img in batch]
    with torch.no_grad():
        data = model.data_preprocessor(dict(inputs=list(batch), data_samples=samples))
        return model.predict(data['inputs'], data['data_samples'])


def test_sliding_windows_match_mmseg_placement():
    for height, width in [(64, 64), (100, 130), (40, 200), (97, 64), (30, 20)]:
        windows = sliding_windows(height, width, (64, 64), (32, 32))
        covered = torch.zeros(height, width)
        for y1, y2, x1, x2 in windows:
            assert 0 <= y1 < y2 <= height and 0 <= x1 < x2 <= width
            assert (y2 - y1, x2 - x1) == (min(64, height), min(64, width))
            covered[y1:y2, x1:x2] += 1
        assert covered.min() >= 1
        rows = max(height - 64 + 31, 0) // 32 + 1
        cols = max(width - 64 + 31, 0) // 32 + 1
        assert len(windows) == rows * cols


def test_batched_windows_equal_the_per_window_loop(tiny_clip_cfg, device):
    model = build(tiny_clip_cfg, crop_batch_size=8).to(device)
    inputs = torch.randn(2, 3, 80, 100, generator=torch.Generator().manual_seed(3))
    metas = [dict(img_shape=(80, 100), ori_shape=(80, 100)) for _ in range(2)]
    with torch.no_grad():
        batched = model.inference(inputs.to(device), metas).cpu()
        embeddings, class_index = model.decode_head.text_embeddings()
        for image, probabilities in zip(inputs, batched):
            # The peers' loop: one window at a time, per-name logits averaged, then the rule.
            logits = peers_name_logits(lambda crop: model.backbone(crop.to(device))[0].cpu(),
                                       image, embeddings.cpu(), (80, 100), mode='slide',
                                       crop=(64, 64), stride=(32, 32), patch=8)
            _, expected = peers_decision(logits, class_index.tolist(), len(CLASSES),
                                         model.decode_head.logit_scale)
            torch.testing.assert_close(probabilities, expected, atol=3e-5, rtol=1e-4)
    assert batched.shape == (2, len(CLASSES), 80, 100)


def test_crop_batch_size_does_not_change_results(tiny_clip_cfg):
    batch = images((100, 130), (90, 70))
    per_crop = predict(build(tiny_clip_cfg, crop_batch_size=1), batch)
    chunked = predict(build(tiny_clip_cfg, crop_batch_size=5), batch)
    for one, other in zip(per_crop, chunked):
        torch.testing.assert_close(one.seg_logits.data, other.seg_logits.data,
                                   atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize('mode', ['slide', 'whole'])
def test_predictions_do_not_depend_on_batch_size(tiny_clip_cfg, mode):
    model = build(tiny_clip_cfg, mode=mode)
    batch = images((100, 130), (72, 64), (130, 90), seed=1)
    together = predict(model, batch)
    for image, joint in zip(batch, together):
        alone, = predict(model, [image])
        assert joint.pred_sem_seg.shape == tuple(image.shape[1:])
        torch.testing.assert_close(joint.seg_logits.data, alone.seg_logits.data,
                                   atol=1e-4, rtol=1e-4)
        top2 = alone.seg_logits.data.topk(2, dim=0).values
        confident = (top2[0] - top2[1]) > 1e-3
        assert torch.equal(joint.pred_sem_seg.data[0][confident],
                           alone.pred_sem_seg.data[0][confident])


def test_slide_equals_whole_when_one_window_covers_the_image(tiny_clip_cfg):
    batch = images((64, 64), (48, 56), seed=2)
    slide = predict(build(tiny_clip_cfg, mode='slide'), batch)
    whole = predict(build(tiny_clip_cfg, mode='whole'), batch)
    for one, other in zip(slide, whole):
        torch.testing.assert_close(one.seg_logits.data, other.seg_logits.data)
    # With several windows they differ: slide is not a disguised whole.
    large = images((100, 130))
    slide_large, = predict(build(tiny_clip_cfg, mode='slide'), large)
    whole_large, = predict(build(tiny_clip_cfg, mode='whole'), large)
    assert not torch.allclose(slide_large.seg_logits.data, whole_large.seg_logits.data)


def test_predictions_are_at_the_original_size(tiny_clip_cfg):
    model = build(tiny_clip_cfg)
    image, = images((60, 90))
    sample = SegDataSample(metainfo=dict(ori_shape=(120, 180), img_shape=(60, 90)))
    with torch.no_grad():
        data = model.data_preprocessor(dict(inputs=[image], data_samples=[sample]))
        result, = model.predict(data['inputs'], data['data_samples'])
    assert result.pred_sem_seg.shape == (120, 180)
    assert result.seg_logits.data.shape == (len(CLASSES), 120, 180)


@pytest.mark.parametrize('background', ['threshold', 'text'])
def test_prob_thd_extremes(tiny_clip_cfg, background):
    cfg = Config.fromfile('configs/_base_/models/clipseg.py').model
    cfg.clip = tiny_clip_cfg
    cfg.decode_head.update(class_names=['background'] + CLASSES, background=background)
    cfg.test_cfg.update(crop_size=(64, 64), stride=(32, 32))
    batch = images((70, 80))
    labels = {}
    for prob_thd in (0.0, 1.0):
        cfg.decode_head.prob_thd = prob_thd
        result, = predict(MODELS.build(cfg).eval(), batch)
        labels[prob_thd] = result.pred_sem_seg.data
    if background == 'threshold':  # class 0 only by the threshold
        assert labels[0.0].min() >= 1 and labels[0.0].max() <= len(CLASSES)
    else:
        assert len(labels[0.0].unique()) > 1
    assert (labels[1.0] == 0).all()


def test_vocabulary_switch_equals_a_fresh_model(tiny_clip_cfg, device, monkeypatch):
    def build_with(**head):
        cfg = Config.fromfile('configs/_base_/models/clipseg.py').model
        cfg.clip = tiny_clip_cfg
        cfg.decode_head.update(dict(class_names=CLASSES, templates=['a {}.'], text_cache=False),
                               **head)
        cfg.test_cfg.update(crop_size=(64, 64), stride=(32, 32), keep_seg_logits=True)
        return MODELS.build(cfg).eval().to(device)

    other = dict(class_names=['background', 'tree', 'water, sea'], background='text',
                 background_names=['sky', 'wall'])
    batch = images((70, 80))
    model = build_with()
    first, = predict(model, batch)
    model.set_vocabulary(**other, templates=['a {}.'])
    switched, = predict(model, batch)
    fresh, = predict(build_with(**other), batch)
    assert model.num_classes == model.decode_head.out_channels == 3
    assert switched.seg_logits.data.shape[0] == 3
    assert torch.equal(switched.pred_sem_seg.data, fresh.pred_sem_seg.data)
    torch.testing.assert_close(switched.seg_logits.data, fresh.seg_logits.data)

    def no_encoding(*args, **kwargs):
        raise AssertionError('the text tower ran for a vocabulary it had seen')

    monkeypatch.setattr(model.decode_head.text_embedder, 'encode_prompts', no_encoding)
    for head, expected in ((dict(class_names=CLASSES), first), (other, switched)):
        model.set_vocabulary(**head)
        again, = predict(model, batch)
        assert torch.equal(again.pred_sem_seg.data, expected.pred_sem_seg.data)


def test_training_is_refused(tiny_clip_cfg):
    model = build(tiny_clip_cfg)
    with pytest.raises(RuntimeError, match='training-free'):
        model.loss(torch.zeros(1, 3, 64, 64), [SegDataSample()])
    cfg = Config.fromfile('configs/_base_/models/clipseg.py').model
    cfg.update(clip=tiny_clip_cfg, train_cfg=dict())
    cfg.decode_head.class_names = CLASSES
    with pytest.raises(UserInputError, match='training-free'):
        MODELS.build(cfg)


@pytest.mark.parametrize('key,value,message', [
    ('backbone.dense_mode', 'gem', 'dense_mode must be one of'),
    ('backbone.attention', 'softmax', 'attention must be one of'),
    ('backbone.cra', dict(layers=[0, 3]), 'cra.layers must be .*block numbers in 1..5'),
    ('backbone.cra', dict(layers=[6]), 'cra.layers must be .*block numbers in 1..5'),
    ('backbone.cra', dict(feature='value'), 'cra.feature must be one of'),
    ('backbone.cra', dict(eps=0.5), "Unknown cra setting"),
    ('backbone.dsi', dict(num_layers=7), 'dsi.num_layers must be .*in 1..6'),
    ('backbone.dsi', dict(value_path='first'), 'dsi.value_path must be one of'),
    ('backbone.precision', 'fp8', 'precision must be one of'),
    ('test_cfg.crop_batch_size', 0, 'crop_batch_size must be a positive integer'),
    ('test_cfg.name_chunk_size', 0, 'name_chunk_size must be a positive integer'),
    ('test_cfg.name_chunk_size', 2.5, 'name_chunk_size must be a positive integer'),
    ('test_cfg.keep_seg_logits', 'no', 'keep_seg_logits must be True or False'),
    ('test_cfg.mode', 'tiles', 'mode must be "slide" or "whole"'),
    ('test_cfg.stride', (0, 224), 'stride must be a positive integer'),
    ('test_cfg.stride', (500, 224), 'stride .* is larger than test_cfg.crop_size'),
    ('test_cfg.crop_size', 'big', r'crop_size must be \(height, width\)'),
    ('test_cfg.crop_size', (448, 448, 3), r'crop_size must be \(height, width\)'),
    ('test_cfg.batch', 2, r"Unknown test_cfg setting\(s\) \['batch'\]"),
    ('test_cfg.pamr', 10, r'pamr must be a dict like dict\(steps=10'),
    ('test_cfg.pamr', dict(iterations=10), 'Unknown test_cfg.pamr setting'),
    ('test_cfg.pamr', dict(steps=0), 'pamr.steps must be a positive integer'),
    ('test_cfg.pamr', dict(dilations=8), 'pamr.dilations must be a non-empty list'),
    ('test_cfg.pamr', dict(dilations=(8, -1)), 'pamr.dilations must be a positive integer'),
    ('decode_head.prob_thd', 1.5, 'prob_thd must be a probability'),
    ('decode_head.class_names', None, 'class_names is not set'),
])
def test_bad_settings_fail_at_construction(tiny_clip_cfg, key, value, message):
    cfg = Config.fromfile('configs/_base_/models/clipseg.py').model
    cfg.clip = tiny_clip_cfg
    cfg.decode_head.class_names = CLASSES
    section, field = key.split('.')
    cfg[section][field] = value
    with pytest.raises(UserInputError, match=message):
        MODELS.build(cfg)


@pytest.mark.parametrize('test_cfg', [None, dict(mode='whole')])
def test_test_cfg_defaults(tiny_clip_cfg, test_cfg):
    cfg = Config.fromfile('configs/_base_/models/clipseg.py').model
    cfg.clip = tiny_clip_cfg
    cfg.decode_head.class_names = CLASSES
    cfg.test_cfg = test_cfg
    segmentor = MODELS.build(cfg)
    assert segmentor.mode == 'whole' and segmentor.crop_batch_size == 8
    labels = segmentor.predict(torch.zeros(1, 3, 40, 56))[0].pred_sem_seg.data
    assert labels.shape == (1, 40, 56)


def test_text_tower_takes_the_backbone_precision(tiny_clip_cfg):
    cfg = Config.fromfile('configs/_base_/models/clipseg.py').model
    cfg.clip = tiny_clip_cfg
    cfg.decode_head.class_names = CLASSES
    cfg.backbone.precision = 'fp16'
    model = MODELS.build(cfg).eval()
    # The text tower follows the backbone's precision unless the head sets its own.
    assert model.decode_head.text_embedder.precision == 'fp16'
    cfg.decode_head.precision = 'fp32'
    assert MODELS.build(cfg).decode_head.text_embedder.precision == 'fp32'


def test_inputs_that_are_not_patch_multiples(tiny_clip_cfg):
    model = build(tiny_clip_cfg, mode='whole')
    features, = model.backbone(torch.randn(1, 3, 70, 61))
    assert features.shape[-2:] == (9, 8)  # ceil(70/8), ceil(61/8): padded, not cropped
    torch.testing.assert_close(features.norm(dim=1), torch.ones(1, 9, 8))
    result, = predict(model, images((70, 61)))
    assert result.pred_sem_seg.shape == (70, 61)


@pytest.mark.parametrize('background', [None, 'threshold', 'text'])
def test_labels_without_kept_logits_equal_labels_with_them(tiny_clip_cfg, background):
    cfg = Config.fromfile('configs/_base_/models/clipseg.py').model
    cfg.clip = tiny_clip_cfg
    classes = [f'class {index}' for index in range(70)]  # several chunks of names
    cfg.decode_head.update(class_names=['background'] + classes if background else classes,
                           background=background, prob_thd=0.05 if background else 0.0)
    cfg.test_cfg.update(crop_size=(64, 64), stride=(32, 32), name_chunk_size=16)
    batch = images((50, 70))
    kept, = predict(MODELS.build(cfg).eval(), batch)
    cfg.test_cfg.keep_seg_logits = False
    chunked, = predict(MODELS.build(cfg).eval(), batch)
    assert 'seg_logits' not in chunked
    assert torch.equal(kept.pred_sem_seg.data, chunked.pred_sem_seg.data)
    if background:
        assert (kept.pred_sem_seg.data == 0).any() and (kept.pred_sem_seg.data > 0).any()
