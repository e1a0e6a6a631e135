"""The peers' decision rule end to end (METHOD.md "Classification"), against the slow
re-statement in tests/reference.py: per-name upsampling, window averaging and resizing before
the softmax and the max over synonyms; background as text or threshold; prob_thd; area_thd;
PAMR; NACLIP's whole-image grid; chunks of names."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmseg_clipseg.models.decision import RunningArgmax, add_logsumexp
from mmseg_clipseg.models.postprocess import pamr_affinity, pamr_propagate
from reference import pamr_slow, peers_decision, peers_name_logits

TEMPLATES = ['a photo of a {}.', 'a {} in the scene.']
CLASSES = ['background', 'cat, kitty', 'grass', 'sky, clouds, blue sky', 'road', 'tree']
STUFF = ['wall', 'floor, ground']


def build(tiny_clip_cfg, device, head=None, backbone=None, **test_cfg):
    cfg = Config.fromfile('configs/_base_/models/clipseg.py').model
    cfg.clip = tiny_clip_cfg
    cfg.decode_head.update(dict(class_names=CLASSES, templates=TEMPLATES), **(head or {}))
    cfg.backbone.update(backbone or {})
    cfg.test_cfg = dict(dict(mode='slide', crop_size=(32, 32), stride=(16, 16)), **test_cfg)
    return MODELS.build(cfg).eval().to(device)


def encoded_names(class_names, background, background_names=None):
    """Names in encoding order and the label of each, stated from the vocabulary spec."""
    classes = [[name.strip() for name in line.split(',')] for line in class_names]
    if background == 'threshold':
        return [n for names in classes[1:] for n in names], \
            [label for label, names in enumerate(classes) if label for _ in names]
    if background_names is not None:
        classes[0] = background_names
    return [n for names in classes for n in names], \
        [label for label, names in enumerate(classes) for _ in names]


def reference(model, image, ori_size, class_names, background, background_names=None):
    head = model.decode_head
    names, name_classes = encoded_names(class_names, background, background_names)
    embeddings, _ = head.text_embedder.class_embeddings([(name, ) for name in names],
                                                       TEMPLATES)
    device = next(model.parameters()).device
    logits = peers_name_logits(
        lambda crops: model.backbone(crops.to(device))[0].cpu(), image, embeddings.cpu(),
        ori_size, mode=model.mode, crop=model.test_cfg.get('crop_size'),
        stride=model.test_cfg.get('stride'), patch=8, partial_patches=model.partial_patches,
        pamr=model.pamr)
    return peers_decision(logits, name_classes, len(class_names), head.logit_scale,
                          head.prob_thd, head.area_thd)


def predict(model, image, ori_size):
    sample = SegDataSample(metainfo=dict(ori_shape=tuple(ori_size),
                                         img_shape=tuple(image.shape[-2:])))
    device = next(model.parameters()).device
    with torch.no_grad():
        result, = model.predict(image[None].to(device), [sample])
    return result.pred_sem_seg.data[0].cpu(), result.seg_logits.data.cpu()


def assert_same_decision(labels, probabilities, expected_labels, expected_probabilities,
                         prob_thd=0.0):
    torch.testing.assert_close(probabilities, expected_probabilities, atol=3e-5, rtol=1e-4)
    top2 = expected_probabilities.topk(2, dim=0).values
    clear = (top2[0] - top2[1] > 1e-4) & ((top2[0] - prob_thd).abs() > 1e-4)
    assert clear.float().mean() > 0.9
    assert torch.equal(labels[clear], expected_labels[clear])


def random_image(height, width, seed=0):
    return torch.randn(3, height, width, generator=torch.Generator().manual_seed(seed))


# Each case: head settings, backbone settings, test_cfg settings, image size, original size.
CASES = {
    'synonyms, no background, slide + resize': (
        dict(class_names=CLASSES[1:]), {}, {}, (40, 52), (50, 61)),
    'background text, own names, prob_thd': (
        dict(background='text', prob_thd=0.35), {}, {}, (40, 52), (40, 52)),
    'background text, stuff names, prob_thd, area_thd': (
        dict(background='text', background_names=STUFF, prob_thd=0.3, area_thd=0.2), {}, {},
        (48, 48), (60, 44)),
    'background threshold, prob_thd': (
        dict(background='threshold', prob_thd=0.5), {}, {}, (40, 52), (40, 52)),
    'background threshold, area_thd': (
        dict(background='threshold', prob_thd=0.2, area_thd=0.1), {}, {}, (40, 52), (33, 40)),
    'NACLIP whole image, drop partial patches': (
        dict(background='text', prob_thd=0.3), dict(partial_patches='drop'),
        dict(mode='whole'), (45, 61), (50, 70)),
    'whole image, padded partial patches': (
        dict(class_names=CLASSES[1:]), {}, dict(mode='whole'), (45, 61), (45, 61)),
    'PAMR': (
        dict(background='text', prob_thd=0.3), {}, dict(pamr=dict(steps=3, dilations=(1, 2))),
        (24, 20), (26, 22)),
}


@pytest.mark.parametrize('case', list(CASES))
def test_rule_matches_the_peers(tiny_clip_cfg, device, case):
    head, backbone, test_cfg, size, ori_size = CASES[case]
    model = build(tiny_clip_cfg, device, head, backbone, **test_cfg)
    image = random_image(*size)
    labels, probabilities = predict(model, image, ori_size)
    expected = reference(model, image, ori_size, head.get('class_names', CLASSES),
                         head.get('background'), head.get('background_names'))
    assert labels.shape == tuple(ori_size)
    assert_same_decision(labels, probabilities, *expected, head.get('prob_thd', 0.0))
    assert len(labels.unique()) >= 3  # a real decision, not one class everywhere
    if head.get('prob_thd', 0) > 0:
        assert (labels == 0).any() and (labels > 0).any()


def test_area_thd_suppresses_small_classes(tiny_clip_cfg):
    image = random_image(48, 48)
    head = dict(background='text', background_names=STUFF, prob_thd=0.3)
    without, _ = predict(build(tiny_clip_cfg, 'cpu', head), image, (60, 44))
    with_area, probabilities = predict(build(tiny_clip_cfg, 'cpu', dict(head, area_thd=0.2)),
                                       image, (60, 44))
    areas = torch.bincount(without.flatten(), minlength=len(CLASSES))
    small = [label for label in range(1, len(CLASSES))
             if 0 < areas[label] <= 0.2 * areas[1:].sum()]
    assert small, 'the case must have a small class to suppress'
    for label in small:
        assert not (with_area == label).any() and (probabilities[label] == 0).all()
    # Pixels of suppressed classes go to the next class, not always to the background.
    moved = torch.isin(without, torch.tensor(small))
    assert (with_area[moved] > 0).any()
    assert torch.equal(with_area[~moved & (with_area > 0)], without[~moved & (with_area > 0)])


def test_order_matters_max_over_synonyms_after_upsampling(tiny_clip_cfg):
    """The max over synonyms taken on the patch grid gives other labels: the test above
    would notice the wrong order."""
    model = build(tiny_clip_cfg, 'cpu', dict(class_names=CLASSES[1:]))
    image = random_image(40, 52)
    labels, _ = predict(model, image, (50, 61))
    embeddings, class_index = model.decode_head.text_embeddings()
    features = model.window_features([image])[0]
    per_class = []
    for label in range(len(CLASSES) - 1):
        names = embeddings[class_index == label]
        per_window = [(box, torch.einsum('chw,nc->nhw', f, names).max(0, keepdim=True).values)
                      for box, f in features]
        sums = torch.zeros(1, 40, 52)
        counts = torch.zeros(1, 40, 52)
        for (y1, y2, x1, x2), grid in per_window:
            sums[:, y1:y2, x1:x2] += model.grid_to_pixels.fit_to_window(
                grid[None], (y2 - y1, x2 - x1), (y2 - y1, x2 - x1))[0]
            counts[:, y1:y2, x1:x2] += 1
        per_class.append(sums / counts)
    early = F.interpolate(torch.cat(per_class)[None], size=(50, 61), mode='bilinear')[0]
    assert (early.argmax(0) != labels).float().mean() > 0.01


@pytest.mark.parametrize('chunk_size', [1, 2, 3, 5, None, 1000])
@pytest.mark.parametrize('keep', [True, False])
def test_chunks_of_names_equal_all_names_at_once(tiny_clip_cfg, device, chunk_size, keep):
    # 'sky, clouds, blue sky' (names 4-6 with the stuff names first) straddles chunks of 2,
    # 3 and 5; area_thd exercises the second pass over the chunks.
    head = dict(background='text', background_names=STUFF, prob_thd=0.3, area_thd=0.2)
    image = random_image(48, 48)
    whole_vocabulary = build(tiny_clip_cfg, device, head, name_chunk_size=1000)
    expected_labels, expected_probabilities = predict(whole_vocabulary, image, (60, 44))
    model = build(tiny_clip_cfg, device, head, name_chunk_size=chunk_size,
                  keep_seg_logits=keep)
    sample = SegDataSample(metainfo=dict(ori_shape=(60, 44), img_shape=(48, 48)))
    with torch.no_grad():
        result, = model.predict(image[None].to(device), [sample])
    if keep:
        torch.testing.assert_close(result.seg_logits.data.cpu(), expected_probabilities)
    else:
        assert 'seg_logits' not in result
    top2 = expected_probabilities.topk(2, dim=0).values
    clear = (top2[0] - top2[1] > 1e-5) & ((top2[0] - 0.3).abs() > 1e-5)
    assert torch.equal(result.pred_sem_seg.data[0].cpu()[clear], expected_labels[clear])


def test_running_argmax_and_logsumexp_over_chunks():
    values = torch.randn(7, 3, 4)
    values[5] = values[2]  # a tie across chunks: the first one wins, as argmax
    values[:, 0, 0] = 1.0  # a tie everywhere
    best, total = RunningArgmax(), None
    for start in range(0, 7, 3):
        best.update(values[start:start + 3], start)
        total = add_logsumexp(total, values[start:start + 3])
    assert torch.equal(best.index, values.argmax(dim=0))
    assert torch.equal(best.value, values.max(dim=0).values)
    torch.testing.assert_close(total, values.logsumexp(dim=0))


@pytest.mark.parametrize('size,dilations,steps', [((7, 9), (1, ), 1), ((12, 10), (1, 2), 3),
                                                  ((6, 5), (8, 16), 2)])
def test_pamr_matches_the_published_formula(device, size, dilations, steps):
    generator = torch.Generator().manual_seed(1)
    image = torch.randn(3, *size, generator=generator)
    masks = torch.randn(4, *size, generator=generator)
    affinity = pamr_affinity(image[None].to(device), dilations)
    refined = pamr_propagate(masks[None].to(device), affinity, steps, dilations)[0].cpu()
    torch.testing.assert_close(refined, pamr_slow(image, masks, steps, dilations).float(),
                               atol=1e-5, rtol=1e-5)
    # Linear in the masks: refining chunks of masks gives the same as all at once.
    halves = [pamr_propagate(part[None].to(device), affinity, steps, dilations)[0].cpu()
              for part in masks.split(2)]
    torch.testing.assert_close(torch.cat(halves), refined)
