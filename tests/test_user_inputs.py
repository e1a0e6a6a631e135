"""Bad or unusual user input: names files, the text cache, config options and settings.

Each class of fault gives one clear UserInputError (or a right answer), never a traceback from
deep inside, never a silently wrong result.
"""
import os

import pytest
import torch

from mmseg_clipseg.class_names import load_class_names
from mmseg_clipseg.apis.cli import load_config, parse_cfg_options, parse_option_value
from mmseg_clipseg.clip import TextEmbedder, load_clip, text_cache
from mmseg_clipseg.engine.class_names_check import compare_class_names
from mmseg_clipseg.utils.errors import MissingFileError, UserInputError, shown_with_more

CONFIG = 'configs/clipseg_vitb_voc20.py'
TEMPLATES = ['a photo of {}.', 'a {}']


# --- names files -------------------------------------------------------------------------

def test_comment_lines_are_not_classes(tmp_path):
    path = tmp_path / 'names.txt'
    path.write_text('# my classes\ncat, kitty, kitten\n  # dogs next\ndog\n\n',
                    encoding='utf-8')
    assert load_class_names(str(path)) == [('cat', 'kitty', 'kitten'), ('dog', )]


def test_blank_line_between_classes_is_an_error(tmp_path):
    path = tmp_path / 'names.txt'
    path.write_text('cat\n\ndog\n', encoding='utf-8')
    with pytest.raises(UserInputError, match='line 2: empty class name'):
        load_class_names(str(path))


def test_names_file_that_is_not_utf8(tmp_path):
    path = tmp_path / 'names.txt'
    path.write_bytes('café\nchien\n'.encode('latin-1'))
    with pytest.raises(UserInputError, match='is not UTF-8 text.*save it as UTF-8'):
        load_class_names(str(path))


def test_utf8_with_byte_order_mark_and_non_latin_names(tmp_path):
    path = tmp_path / 'names.txt'
    path.write_text('猫\nсобака\n', encoding='utf-8-sig')
    assert load_class_names(str(path)) == [('猫', ), ('собака', )]


def test_a_missing_file_is_a_file_not_found_error():
    assert issubclass(MissingFileError, FileNotFoundError)  # callers may catch either


def test_folder_given_as_names_file(tmp_path):
    with pytest.raises(UserInputError, match='is a folder; give a names file'):
        load_class_names(str(tmp_path))


@pytest.mark.parametrize('spec', [[1, 2], [['cat', 3]], 7, [None]])
def test_class_lists_that_are_not_strings(spec):
    with pytest.raises(UserInputError, match='class'):
        load_class_names(spec)


# --- text embeddings and their cache -----------------------------------------------------

@pytest.fixture
def embedder(tiny_clip_cfg) -> TextEmbedder:
    return TextEmbedder(load_clip(tiny_clip_cfg), tiny_clip_cfg['model_name'])


def test_name_longer_than_the_context_is_refused(embedder):
    long_name = ' '.join(['word'] * 80)
    with pytest.raises(UserInputError, match="longer than the text tower's context"):
        embedder.class_embeddings([('cat', ), (long_name, )], TEMPLATES)
    # Start, 75 words and end fill the 77 positions exactly: nothing is cut.
    full = ' '.join(['word'] * 75)
    embeddings, _ = embedder.class_embeddings([('cat', ), (full, )], ['{}'])
    assert embeddings.shape[0] == 2
    with pytest.raises(UserInputError, match='longer than'):
        embedder.class_embeddings([('cat', ), (full + ' word', )], ['{}'])


@pytest.mark.parametrize('damage', ['other key', 'not unit', 'nan', 'rows', 'garbage',
                                    'bare tensor'])
def test_damaged_cache_entries_are_recomputed(embedder, monkeypatch, tmp_path, damage):
    monkeypatch.setenv('MMSEG_CLIPSEG_CACHE', str(tmp_path))
    classes = [('cat', 'kitty'), ('dog', )]
    expected, _ = embedder.class_embeddings(classes, TEMPLATES)
    embedder.class_embeddings(classes, TEMPLATES, 'weights')  # writes the entry
    key = text_cache.cache_key('weights', classes, TEMPLATES)
    path = tmp_path / 'text_embeddings' / f'{key}.pt'
    entry = torch.load(path, weights_only=True)
    if damage == 'other key':
        entry['key'] = 'something else'
    elif damage == 'not unit':
        entry['embeddings'] = entry['embeddings'] * 2
    elif damage == 'nan':
        entry['embeddings'][0, 0] = float('nan')
    elif damage == 'rows':
        entry['embeddings'] = entry['embeddings'][:2]
    elif damage == 'bare tensor':
        entry = entry['embeddings']
    if damage == 'garbage':
        path.write_bytes(b'not a torch file')
    else:
        torch.save(entry, path)
    assert text_cache.load(key, num_rows=3) is None
    embeddings, index = embedder.class_embeddings(classes, TEMPLATES, 'weights')
    torch.testing.assert_close(embeddings, expected)
    assert index.tolist() == [0, 0, 1]


@pytest.mark.parametrize('kind', ['file', 'read-only'])
def test_unusable_cache_folder_never_stops_a_run(embedder, monkeypatch, tmp_path, kind):
    root = tmp_path / 'cache'
    if kind == 'file':
        root.write_text('a file where the cache folder should be')
    else:
        root.mkdir()
        os.chmod(root, 0o500)
        if os.access(root, os.W_OK):  # root ignores permissions
            pytest.skip('this user can write to a read-only folder')
    monkeypatch.setenv('MMSEG_CLIPSEG_CACHE', str(root))
    embeddings, _ = embedder.class_embeddings([('cat', ), ('dog', )], TEMPLATES, 'weights')
    assert embeddings.shape[0] == 2


def test_file_shaped_cache_under_the_cache_root(embedder, monkeypatch, tmp_path):
    """The entries' folder itself is a file: also not fatal (works for root too)."""
    (tmp_path / 'text_embeddings').write_text('not a folder')
    monkeypatch.setenv('MMSEG_CLIPSEG_CACHE', str(tmp_path))
    embeddings, _ = embedder.class_embeddings([('cat', ), ('dog', )], TEMPLATES, 'weights')
    assert embeddings.shape[0] == 2


# --- --cfg-options -----------------------------------------------------------------------

def parse(*items):
    return parse_cfg_options(items)


def test_option_values_keep_their_spaces():
    options = parse("model.decode_head.templates=['a photo of {}.', 'itap of a {}.']",
                    'model.decode_head.class_names=[big cat, small dog]',
                    'names=traffic light,fire hydrant')
    assert options['model.decode_head.templates'] == ['a photo of {}.', 'itap of a {}.']
    assert options['model.decode_head.class_names'] == ['big cat', 'small dog']
    assert options['names'] == ['traffic light', 'fire hydrant']


@pytest.mark.parametrize('text,value', [
    ('None', None), ('0.1', 0.1), ('3', 3), ('true', True), ('(448, 448)', (448, 448)),
    ('maskclip', 'maskclip'), ('/data/my file.bin', '/data/my file.bin'), ('[]', []),
    ('[a, (1, 2)]', ['a', (1, 2)]),
])
def test_option_values_as_mmengine_reads_them(text, value):
    assert parse_option_value(text) == value


@pytest.mark.parametrize('key,message', [
    ('modell.backbone.dense_mode', "the config has no setting 'modell'. Did you mean 'model'"),
    ('model.backbon.dense_mode', "model has no setting 'backbon'. Did you mean 'backbone'"),
    ('model.backbone.dense_mod', "Did you mean 'dense_mode'"),
    ('test_dataloader.datset.data_root', "Did you mean 'dataset'"),
])
def test_misspelled_option_keys_are_refused(key, message):
    with pytest.raises(UserInputError, match=message):
        load_config(CONFIG, {key: 'x'})


def test_misspelled_settings_of_free_groups_are_refused_by_their_component(tiny_clip_cfg):
    from mmseg.registry import MODELS
    cfg = load_config(CONFIG, {'model.backbone.cra.layer': [5], 'model.clip': tiny_clip_cfg})
    with pytest.raises(UserInputError, match=r"Unknown cra setting\(s\) \['layer'\]"):
        MODELS.build(cfg.model)


def test_new_settings_are_checked_against_the_component():
    with pytest.raises(UserInputError, match="CLIPDenseBackbone has no setting 'speed'"):
        load_config(CONFIG, {'model.backbone.speed': 'fast'})
    cfg = load_config(CONFIG, {'model.backbone.partial_patches': 'drop'})
    assert cfg.model.backbone.partial_patches == 'drop'


def test_typo_inside_a_config_file_is_refused(tmp_path):
    path = tmp_path / 'mine.py'
    path.write_text(f"_base_ = ['{os.path.abspath(CONFIG)}']\n"
                    "model = dict(backbone=dict(dense_mdoe='maskclip'))\n")
    with pytest.raises(UserInputError, match="model.backbone.dense_mdoe.*'dense_mode'"):
        load_config(str(path))


def test_config_that_is_a_folder(tmp_path):
    with pytest.raises(UserInputError, match='is a folder, not a file'):
        load_config(str(tmp_path))


# --- class names against the dataset -----------------------------------------------------

VOC = ['background', 'aeroplane', 'bicycle', 'bird', 'boat']


def test_class_names_in_another_order_are_refused():
    head = [('background', ), ('aeroplane', ), ('bird', ), ('bicycle', ), ('boat', )]
    error, _ = compare_class_names(head, VOC)
    assert "'bicycle' is class 2 of the dataset but class 3 of the head" in error


def test_renamed_classes_and_background_names_pass_with_the_differences_listed():
    head = [('sky', 'wall'), ('aeroplane', ), ('bicycle', ), ('bird', ), ('ship', 'boat')]
    assert compare_class_names(head, VOC, skip_first=True) == (None, [])
    head[4] = ('ship', )
    assert compare_class_names(head, VOC, skip_first=True) == (None, ["4: 'boat' vs 'ship'"])
    # Spelling variants are the same class.
    assert compare_class_names([('potted plant', ), ('tv monitor', )],
                               ['pottedplant', 'tvmonitor']) == (None, [])


def test_a_different_names_list_is_refused():
    error, _ = compare_class_names([('cat', ), ('dog', ), ('cow', )], ['road', 'car', 'cow'])
    assert '2 of the 3 class names differ' in error
    error, _ = compare_class_names([('cat', ), ('dog', )], VOC)
    assert error == 'The head has 2 classes but the test dataset has 5.'


# --- labels the metric would drop --------------------------------------------------------

def test_labels_outside_the_classes_are_reported(capsys):
    from mmengine.logging import MMLogger
    from mmengine.structures import PixelData
    from mmseg.evaluation import IoUMetric
    from mmseg.structures import SegDataSample

    from mmseg_clipseg.evaluation import CheckedIoUMetric

    MMLogger.get_instance('test_labels_outside')
    metric = CheckedIoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dict(classes=('a', 'b', 'c'))
    samples = []
    for label in ([[0, 1], [2, 255]], [[0, 7], [9, 1]]):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=torch.tensor([label]))
        sample.pred_sem_seg = PixelData(data=torch.tensor([label]).clamp(max=2))
        samples.append(sample.to_dict())
    metric.process({}, samples)
    reference = IoUMetric(iou_metrics=['mIoU'])
    reference.dataset_meta = metric.dataset_meta
    reference.process({}, samples)
    checked = metric.compute_metrics(metric.results)
    assert checked == reference.compute_metrics(reference.results)
    assert '2 ground-truth pixels in 1 of 2 images have labels outside 0..2' in \
        capsys.readouterr().out


@pytest.mark.parametrize('items,limit,options,text', [
    (['a', 'b', 'c', 'd', 'e'], 3, {}, 'a, b, c and 2 more'),
    (['a', 'b', 'c'], 3, {}, 'a, b, c'),
    (['x', 'y'], 1, dict(kind='tensors'), 'x and 1 more tensors'),
    (['x'], 1, dict(kind='tensors'), 'x'),
    (['p (r)', 'q (r)', 's (r)'], 2, dict(separator='; '), 'p (r); q (r) and 1 more'),
    ([3, 7], 5, {}, '3, 7'),
])
def test_lists_in_messages_end_with_how_many_are_left_out(items, limit, options, text):
    assert shown_with_more(items, limit, **options) == text
