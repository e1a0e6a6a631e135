"""The text head: embeddings, truncated text encoding, the decision rule, background, cache,
plain EncoderDecoder."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmseg_clipseg.clip import load_clip, resolve_templates
from mmseg_clipseg.clip import text_cache
from mmseg_clipseg.utils.errors import UserInputError
from mmseg_clipseg.models import OpenVocabularyHead
from reference import peers_decision

TEMPLATES = ['a photo of a {}.', 'a very very very long and detailed rendering of the {}.']


def build(tiny_clip_cfg, classes, **kwargs) -> OpenVocabularyHead:
    kwargs.setdefault('templates', TEMPLATES)
    return OpenVocabularyHead(class_names=classes, clip=tiny_clip_cfg, **kwargs).eval()


def open_clip_name_embedding(model, tokenizer, name, templates):
    """The text side as METHOD.md states it, with open_clip's own full-length encode_text."""
    with torch.no_grad():
        prompts = F.normalize(model.encode_text(tokenizer([t.format(name) for t in templates])),
                              dim=-1)
    return F.normalize(prompts.mean(dim=0), dim=-1)


def test_truncated_encoding_is_identical_to_full_length(tiny_clip_cfg):
    head = build(tiny_clip_cfg, ['cat'])
    embedder = head.text_embedder
    tokens = embedder.tokenizer(['a cat.', 'a photo of many small and very fluffy cats.',
                                 'sky', 'a bad photo of the traffic light.'])
    with torch.no_grad():
        full = embedder.encode_tokens(tokens, truncate=False)
        truncated = embedder.encode_tokens(tokens, truncate=True)
        reference = load_clip(tiny_clip_cfg).encode_text(tokens)
    assert embedder.can_truncate and embedder._used_length(tokens) < tokens.shape[1] // 3
    torch.testing.assert_close(truncated, full, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(full, reference, atol=1e-5, rtol=1e-5)


def test_class_embeddings_follow_the_definition(tiny_clip_cfg):
    classes = ['cat', 'traffic light, signal', 'sky']
    head = build(tiny_clip_cfg, classes, text_cache=False)
    embeddings, class_index = head.text_embeddings()
    model = load_clip(tiny_clip_cfg)
    tokenizer = head.text_embedder.tokenizer
    names = ['cat', 'traffic light', 'signal', 'sky']
    expected = torch.stack([open_clip_name_embedding(model, tokenizer, n, TEMPLATES)
                            for n in names])
    torch.testing.assert_close(embeddings, expected, atol=1e-5, rtol=1e-5)
    assert class_index.tolist() == [0, 1, 1, 2]


def test_default_templates_are_openai_imagenet_80():
    templates = resolve_templates('openai_imagenet')
    assert len(templates) == 80 and templates[0] == 'a bad photo of a {}.'


def test_forward_scores_are_max_over_synonyms_of_the_softmax_over_names(tiny_clip_cfg, device):
    head = build(tiny_clip_cfg, ['cat', 'traffic light, signal'], logit_scale=37.0).to(device)
    features = F.normalize(torch.randn(2, head.in_channels, 3, 4, device=device), dim=1)
    scores = head([features])
    embeddings, _ = head.text_embeddings()
    probabilities = (37.0 * torch.einsum('bchw,nc->bnhw', features, embeddings)).softmax(1)
    assert scores.shape == (2, 2, 3, 4) and head.out_channels == head.num_classes == 2
    torch.testing.assert_close(scores[:, 0], probabilities[:, 0])
    torch.testing.assert_close(scores[:, 1], probabilities[:, 1:].max(dim=1).values)


def given_logits(head, logits):
    """A ``name_logits`` callable for :meth:`decide` that returns fixed per-name logits
    (N, H, W) for whichever names (rows of the head's embeddings) it is asked for."""
    embeddings, _ = head.text_embeddings()

    def name_logits(chunk):
        rows = (chunk[:, None, :] == embeddings[None]).all(dim=-1).int().argmax(dim=1)
        return logits[rows]
    return name_logits


# Logits of two names at three pixels; softmax: 0.5/0.5, then ~0.73/0.27, then ~0.27/0.73.
TWO_NAMES = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]).view(2, 1, 3)


@pytest.mark.parametrize('chunk_size', [1, 2])
def test_threshold_background_is_not_encoded(tiny_clip_cfg, chunk_size):
    head = build(tiny_clip_cfg, ['background', 'cat', 'dog'], background='threshold',
                 prob_thd=0.6, logit_scale=1.0)
    assert head.text_classes == [('cat', ), ('dog', )]
    assert head.text_embeddings()[1].tolist() == [1, 2]
    labels, probabilities = head.decide(given_logits(head, TWO_NAMES), chunk_size, True)
    assert labels.view(-1).tolist() == [0, 1, 2]
    expected = torch.cat([torch.zeros(1, 1, 3), TWO_NAMES.softmax(dim=0)])
    torch.testing.assert_close(probabilities, expected)
    without_background = build(tiny_clip_cfg, ['cat', 'dog'], logit_scale=1.0)
    labels, _ = without_background.decide(given_logits(without_background, TWO_NAMES),
                                          chunk_size)
    assert labels.view(-1).tolist() == [0, 0, 1]


@pytest.mark.parametrize('chunk_size', [1, 3, 4])
def test_text_background_competes_in_the_softmax(tiny_clip_cfg, chunk_size):
    head = build(tiny_clip_cfg, ['background', 'cat', 'dog, puppy'], background='text',
                 background_names='sky, wall', prob_thd=0.4, logit_scale=1.0)
    assert head.text_classes == [('sky', 'wall'), ('cat', ), ('dog', 'puppy')]
    assert head.classes[0] == ('background', )  # the dataset's class 0 keeps its name
    assert head.text_embeddings()[1].tolist() == [0, 0, 1, 2, 2]
    # Names sky, wall, cat, dog, puppy at four pixels.
    logits = torch.tensor([[3.0, 0.0, 0.0, 0.0, 0.0],    # sky wins: background
                           [0.0, 0.0, 3.0, 0.0, 0.0],    # cat
                           [0.0, 0.0, 0.0, 0.0, 3.0],    # puppy: dog
                           [0.0, 0.0, 0.5, 0.0, 0.0]]).T.reshape(5, 1, 4)  # cat, < prob_thd
    labels, probabilities = head.decide(given_logits(head, logits), chunk_size, True)
    assert labels.view(-1).tolist() == [0, 1, 2, 0]
    softmax = logits.softmax(dim=0)
    expected = torch.stack([softmax[:2].max(0).values, softmax[2],
                            softmax[3:].max(0).values])
    torch.testing.assert_close(probabilities, expected)
    assert probabilities[:, 0, 3].argmax() == 1  # labelled 0 by prob_thd, not by argmax


def test_area_thd_reassigns_small_classes_as_sclip(tiny_clip_cfg):
    head = build(tiny_clip_cfg, ['background', 'cat', 'dog'], background='text',
                 area_thd=0.3, logit_scale=1.0)
    # Names background, cat, dog at 5 pixels: cat wins 4 foreground pixels, dog 1 (20% of
    # the foreground, below 30%): dog is suppressed and its pixel goes to its second class.
    logits = torch.tensor([[0.0, 2.0, 0.0],
                           [0.0, 2.0, 0.0],
                           [0.0, 2.0, 0.0],
                           [0.0, 2.0, 0.0],
                           [0.5, 1.0, 2.0]]).T.reshape(3, 1, 5)
    labels, probabilities = head.decide(given_logits(head, logits), 1, True)
    assert labels.view(-1).tolist() == [1, 1, 1, 1, 1]
    assert (probabilities[2] == 0).all()
    logits[0, 0, 4] = 1.5  # now the background is second at the dog's pixel
    labels, _ = head.decide(given_logits(head, logits), 2)
    assert labels.view(-1).tolist() == [1, 1, 1, 1, 0]


def test_text_embeddings_are_cached_on_disk(tiny_clip_cfg, monkeypatch, tmp_path):
    monkeypatch.setenv('MMSEG_CLIPSEG_CACHE', str(tmp_path))
    first = build(tiny_clip_cfg, ['cat', 'dog']).text_embeddings()[0]
    assert len(list(text_cache.cache_dir().glob('*.pt'))) == 1

    def no_encoding(*args, **kwargs):
        raise AssertionError('the text tower ran although the embeddings are cached')

    second_head = build(tiny_clip_cfg, ['cat', 'dog'])
    monkeypatch.setattr(second_head.text_embedder, 'encode_prompts', no_encoding)
    torch.testing.assert_close(second_head.text_embeddings()[0], first)
    # Other names, other templates or cache off: encoded anew.
    for other in (build(tiny_clip_cfg, ['cat', 'wolf']),
                  build(tiny_clip_cfg, ['cat', 'dog'], templates=['{}']),
                  build(tiny_clip_cfg, ['cat', 'dog'], text_cache=False)):
        monkeypatch.setattr(other.text_embedder, 'encode_prompts', no_encoding)
        with pytest.raises(AssertionError, match='text tower ran'):
            other.text_embeddings()


def kept_tensors(module: torch.nn.Module):
    """Every tensor a module tree holds: parameters, buffers and plain attributes (also inside
    tuples, lists and dicts), as (name, tensor)."""
    found = []
    for prefix, sub in module.named_modules():
        for name, value in list(vars(sub).items()):
            values = value.values() if isinstance(value, dict) else (
                value if isinstance(value, (tuple, list)) else [value])
            found.extend((f'{prefix}.{name}', item) for item in values
                         if isinstance(item, torch.Tensor))
    return found


def test_text_tensors_follow_the_module(tiny_clip_cfg, monkeypatch, tmp_path, device):
    monkeypatch.setenv('MMSEG_CLIPSEG_CACHE', str(tmp_path))
    classes = ['cat', 'traffic light, signal']
    for seed, source in ((101, 'cache'), (102, 'encoder')):
        # A CLIP model of its own (models are shared per config): it ends up on 'meta'.
        clip_cfg = dict(tiny_clip_cfg, init_seed=seed)
        if source == 'cache':
            build(clip_cfg, classes).text_embeddings()
        head = build(clip_cfg, classes, text_cache=source == 'cache').to(device)
        features = F.normalize(torch.randn(1, head.in_channels, 2, 3, device=device), dim=1)
        head([features])  # first use on `device`, then the module moves
        for target in (torch.float64, torch.device('meta')):
            head.to(target)
            kept = kept_tensors(head)  # before text_embeddings() gets a chance to move them
            returned = list(head.text_embeddings())
            for name, tensor in kept + [('returned', t) for t in returned]:
                assert tensor.device == head.text_embedder.device, (source, name)
                if tensor.is_floating_point():
                    assert tensor.dtype == torch.float64, (source, name)
            if target == torch.float64:
                assert returned[1].tolist() == [0, 1, 1]


def test_head_under_plain_encoder_decoder(tiny_clip_cfg, device):
    classes = ['background', 'cat', 'grass, lawn', 'sky, clouds']
    model = MODELS.build(ConfigDict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[122.8, 116.7, 104.1],
                               std=[68.5, 66.6, 70.3], bgr_to_rgb=True),
        backbone=dict(type='CLIPDenseBackbone', clip=tiny_clip_cfg),
        decode_head=dict(type='OpenVocabularyHead', class_names=classes, clip=tiny_clip_cfg,
                         templates=TEMPLATES, background='text', prob_thd=0.4),
        test_cfg=dict(mode='whole'))).eval().to(device)
    assert model.out_channels == model.num_classes == len(classes)
    inputs = torch.randn(2, 3, 48, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        features = model.extract_feat(inputs.to(device))
        scores = model.decode_head(features).cpu()
        embeddings, class_index = model.decode_head.text_embeddings()
    assert scores.shape == (2, len(classes), 6, 8)
    for image_features, image_scores in zip(features[0].cpu(), scores):
        logits = torch.einsum('chw,nc->nhw', image_features, embeddings.cpu())
        expected, probabilities = peers_decision(logits, class_index.tolist(), len(classes),
                                                 50.0, prob_thd=0.4)
        top2 = probabilities.topk(2, dim=0).values
        clear = (top2[0] - top2[1] > 1e-5) & ((top2[0] - 0.4).abs() > 1e-5)
        assert clear.float().mean() > 0.9
        assert torch.equal(image_scores.argmax(dim=0)[clear], expected[clear])
        assert (expected == 0).any() and (expected > 0).any()
    samples = [SegDataSample(metainfo=dict(img_shape=(48, 64), ori_shape=(48, 64)))
               for _ in range(2)]
    with torch.no_grad():
        results = model.predict(inputs.to(device), samples)
    labels = torch.stack([result.pred_sem_seg.data for result in results])
    assert labels.shape == (2, 1, 48, 64) and 0 <= labels.min() and labels.max() < 4


@pytest.mark.parametrize('settings,message', [
    (dict(logit_scale=0), 'logit_scale must be a finite number > 0'),
    (dict(logit_scale=float('inf')), 'logit_scale must be a finite number > 0'),
    (dict(logit_scale='50'), 'logit_scale must be a number'),
    (dict(prob_thd=-0.1), 'prob_thd must be a probability in \\[0, 1\\]'),
    (dict(prob_thd='0.1', background='text'), 'prob_thd must be a number'),
    (dict(prob_thd=0.1), 'no background class'),
    (dict(area_thd=0.1), 'no background class'),
    (dict(area_thd=1.0, background='text'), 'area_thd must be a share'),
    (dict(area_thd=0, background='text'), 'area_thd must be a share'),
    (dict(area_thd=True, background='text'), 'area_thd must be a number'),
    (dict(background='ignore'), "background must be one of None, 'text', 'threshold'"),
    (dict(background_names=['sky']), 'background_names .* need background="text"'),
    (dict(background='text', background_names=['sky', '']), 'empty class name'),
    (dict(background='text', background_names=3), 'background_names must be a list'),
    (dict(text_cache='yes'), 'text_cache must be True or False'),
    (dict(text_batch_size=0), 'text_batch_size must be a positive integer'),
    (dict(precision='fp8'), 'precision must be one of'),
    (dict(bg_threshold=0.5), 'bg_threshold is gone: use background='),
])
def test_bad_head_settings_fail_clearly(tiny_clip_cfg, settings, message):
    with pytest.raises(UserInputError, match=message):
        build(tiny_clip_cfg, ['background', 'cat'], **settings)


@pytest.mark.parametrize('background', ['text', 'threshold'])
def test_background_needs_another_class(tiny_clip_cfg, background):
    with pytest.raises(UserInputError, match='at least one more class'):
        build(tiny_clip_cfg, ['background'], background=background)


@pytest.mark.parametrize('classes,message', [
    ([], 'no classes'),
    (['cat', 'dog', 'cat'], "more than once: \\['cat'\\]"),
    (['cat', ''], 'empty class name'),
    (['cat, ', 'dog'], 'empty class name'),
    ('no_such_benchmark', 'neither a benchmark key nor a names file'),
])
def test_bad_class_names_fail_clearly(tiny_clip_cfg, classes, message):
    with pytest.raises(UserInputError, match=message):
        build(tiny_clip_cfg, classes)


@pytest.mark.parametrize('templates,message', [
    ('no_such_set', 'Unknown template set'),
    ([], 'templates is empty'),
    (['a photo of a cat'], 'exactly one {}'),
    (['{} and {}'], 'exactly one {}'),
])
def test_bad_templates_fail_clearly(tiny_clip_cfg, templates, message):
    with pytest.raises(UserInputError, match=message):
        build(tiny_clip_cfg, ['cat'], templates=templates)


def test_head_refuses_to_train(tiny_clip_cfg):
    with pytest.raises(RuntimeError, match='training-free'):
        build(tiny_clip_cfg, ['cat']).loss([], [], None)
