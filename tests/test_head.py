"""The text head: embeddings, truncated text encoding, logits, synonyms, background, cache."""
import pytest
import torch
import torch.nn.functional as F

from mmseg_clipseg.class_names import load_class_names
from mmseg_clipseg.clip import load_clip, resolve_templates
from mmseg_clipseg.clip import text_cache
from mmseg_clipseg.errors import MissingFileError, UserInputError
from mmseg_clipseg.models import OpenVocabularyHead

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


def test_logits_are_scaled_cosines_with_max_over_synonyms(tiny_clip_cfg):
    head = build(tiny_clip_cfg, ['cat', 'traffic light, signal'], logit_scale=37.0)
    features = F.normalize(torch.randn(2, head.in_channels, 3, 4), dim=1)
    logits = head([features])
    embeddings, _ = head.text_embeddings()
    per_name = 37.0 * torch.einsum('bchw,nc->bnhw', features, embeddings)
    assert logits.shape == (2, 2, 3, 4)
    torch.testing.assert_close(logits[:, 0], per_name[:, 0])
    torch.testing.assert_close(logits[:, 1], per_name[:, 1:].max(dim=1).values)


def test_background_is_not_encoded_and_decided_by_threshold(tiny_clip_cfg):
    head = build(tiny_clip_cfg, ['background', 'cat', 'dog'], bg_threshold=0.6)
    assert head.text_classes == [('cat', ), ('dog', )]
    assert head.text_embeddings()[0].shape[0] == 2
    # Softmax probabilities of (cat, dog): 0.5/0.5, then ~0.73/0.27, then ~0.27/0.73.
    logits = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]).view(2, 1, 3)
    assert head.predict_labels(logits).view(-1).tolist() == [0, 1, 2]
    without_background = build(tiny_clip_cfg, ['cat', 'dog'])
    assert without_background.predict_labels(logits).view(-1).tolist() == [0, 0, 1]


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


def test_names_file_with_synonyms(tmp_path):
    path = tmp_path / 'names.txt'
    path.write_text('person, man, woman\nsky\n\n')
    assert load_class_names(str(path)) == [('person', 'man', 'woman'), ('sky', )]
    path.write_text('person\n\nsky\n')
    with pytest.raises(UserInputError, match='line 2'):
        load_class_names(str(path))
    assert issubclass(MissingFileError, FileNotFoundError)


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
