"""The peers' protocols (configs/peers/) and names files (class_names/peers/), against a table
transcribed from the peers' own code and configs (PEERS.md): SCLIP (wangf3014/SCLIP),
NACLIP (sinahmr/NACLIP) and ClearCLIP (mc-lan/ClearCLIP). No model is built here."""
from pathlib import Path

import mmseg_clipseg  # noqa: F401  (first: mmcv-lite shim; registers the datasets)
import pytest
from mmengine.config import Config
from mmseg.registry import DATASETS

from mmseg_clipseg.class_names import load_class_names

REPO = Path(__file__).resolve().parents[1]
PEERS = REPO / 'configs' / 'peers'
NAMES = REPO / 'mmseg_clipseg' / 'class_names' / 'peers'

DATASET_TYPES = {
    'voc20': 'PascalVOC20Dataset',
    'voc21': 'PascalVOCDataset',
    'context59': 'PascalContextDataset59',
    'context60': 'PascalContextDataset',
    'coco_stuff': 'COCOStuffDataset',
    'coco_object': 'COCOObjectDataset',
    'ade150': 'ADE20KDataset',
    'cityscapes': 'CityscapesDataset',
}
DENSE_MODE = {'sclip': 'sclip', 'naclip': 'naclip', 'clearclip': 'clearclip'}
NACLIP_PAMR = dict(steps=10, dilations=(8, 16))
S, N = 'slide', None
# (peer, benchmark): short side S, windows (mode, crop, stride), logit scale, prob_thd,
# area_thd, PAMR, names key, background. From each peer's segmentor defaults and its
# configs/cfg_<dataset>.py (NACLIP at its latest commit, defb7c9).
TABLE = {
    ('sclip', 'voc21'): (336, (S, 224, 112), 65.0, 0.1, 0.1, N, 'peers/sclip/voc21', 'text'),
    ('sclip', 'voc20'): (336, (S, 224, 112), 40.0, 0.0, N, N, 'peers/sclip/voc20', N),
    ('sclip', 'context60'): (336, (S, 224, 112), 50.0, 0.1, N, N, 'peers/sclip/context60',
                             'text'),
    ('sclip', 'context59'): (336, (S, 224, 112), 40.0, 0.0, N, N, 'peers/sclip/context59', N),
    ('sclip', 'coco_object'): (336, (S, 224, 112), 50.0, 0.1, N, N, 'peers/sclip/coco_object',
                               'text'),
    ('sclip', 'coco_stuff'): (448, (S, 224, 112), 40.0, 0.0, N, N, 'peers/sclip/coco_stuff', N),
    ('sclip', 'cityscapes'): (560, (S, 224, 112), 40.0, 0.0, N, N, 'peers/sclip/cityscapes', N),
    ('sclip', 'ade150'): (336, (S, 224, 112), 40.0, 0.0, N, N, 'peers/sclip/ade150', N),
    ('naclip', 'voc21'): (336, ('whole', N, N), 40.0, 0.1, N, NACLIP_PAMR, 'peers/sclip/voc21',
                          'text'),
    ('naclip', 'voc20'): (336, ('whole', N, N), 40.0, 0.0, N, NACLIP_PAMR, 'peers/sclip/voc20',
                          N),
    ('naclip', 'context60'): (336, (S, 224, 112), 40.0, 0.1, N, NACLIP_PAMR,
                              'peers/sclip/context60', 'text'),
    ('naclip', 'context59'): (336, (S, 224, 112), 40.0, 0.0, N, NACLIP_PAMR,
                              'peers/sclip/context59', N),
    ('naclip', 'coco_object'): (336, (S, 224, 112), 40.0, 0.1, N, NACLIP_PAMR,
                                'peers/sclip/coco_object', 'text'),
    ('naclip', 'coco_stuff'): (336, (S, 224, 112), 40.0, 0.0, N, NACLIP_PAMR,
                               'peers/sclip/coco_stuff', N),
    ('naclip', 'cityscapes'): (560, (S, 224, 112), 40.0, 0.0, N, NACLIP_PAMR,
                               'peers/sclip/cityscapes', N),
    ('naclip', 'ade150'): (336, (S, 224, 112), 40.0, 0.0, N, NACLIP_PAMR, 'peers/sclip/ade150',
                           N),
    ('clearclip', 'voc21'): (448, (S, 448, 224), 50.0, 0.5, N, N, 'peers/clearclip/voc21',
                             'text'),
    ('clearclip', 'voc20'): (448, (S, 448, 224), 50.0, 0.0, N, N, 'peers/sclip/voc20', N),
    ('clearclip', 'context60'): (448, (S, 448, 224), 50.0, 0.15, N, N, 'peers/sclip/context60',
                                 'text'),
    ('clearclip', 'context59'): (448, (S, 448, 224), 50.0, 0.0, N, N, 'peers/sclip/context59',
                                 N),
    ('clearclip', 'coco_object'): (448, (S, 448, 224), 50.0, 0.4, N, N,
                                   'peers/sclip/coco_object', 'text'),
    ('clearclip', 'cityscapes'): (448, (S, 224, 224), 50.0, 0.0, N, N, 'peers/sclip/cityscapes',
                                  N),
}
# Names of class 0 where they are not the names file's own line 1 (PEERS.md: ClearCLIP's
# background is the single name 'background').
BACKGROUND_NAMES = {('clearclip', 'coco_object'): ['background']}
# The peers' names files stored here, by the peers' file name.
NAMES_FILES = {
    'sclip': {'voc21': 'cls_voc21.txt', 'voc20': 'cls_voc20.txt',
              'context60': 'cls_context60.txt', 'context59': 'cls_context59.txt',
              'coco_object': 'cls_coco_object.txt', 'coco_stuff': 'cls_coco_stuff.txt',
              'cityscapes': 'cls_city_scapes.txt', 'ade150': 'cls_ade20k.txt'},
    'clearclip': {'voc21': 'cls_voc21.txt'},
}
STUFF = ('sky', 'wall', 'tree', 'wood', 'grass', 'road', 'sea', 'river', 'mountain', 'sands',
         'desk', 'bed', 'building', 'cloud', 'lamp', 'door', 'window', 'wardrobe', 'ceiling',
         'shelf', 'curtain', 'stair', 'floor', 'hill', 'rail', 'fence')


def test_every_peer_benchmark_has_a_config_and_nothing_else():
    expected = {f'{peer}_vitb_{key}.py' for peer, key in TABLE}
    assert {path.name for path in PEERS.glob('*.py')} == expected


@pytest.mark.parametrize('peer,key', list(TABLE))
def test_peer_config(peer, key):
    short_side, (mode, crop, stride), logit_scale, prob_thd, area_thd, pamr, names, \
        background = TABLE[peer, key]
    cfg = Config.fromfile(str(PEERS / f'{peer}_vitb_{key}.py'))
    model = cfg.model
    assert (model.clip.model_name, model.clip.pretrained) == ('ViT-B-16', 'openai')

    backbone = model.backbone
    assert backbone.dense_mode == DENSE_MODE[peer]
    # All three resize positional embeddings by (n + 0.1) / grid, in every forward pass.
    assert backbone.pos_interpolation == 'naclip'
    assert backbone.get('partial_patches', 'pad') == ('drop' if mode == 'whole' else 'pad')

    test_cfg = model.test_cfg
    assert test_cfg.mode == mode
    if mode == 'slide':
        assert tuple(test_cfg.crop_size) == (crop, crop)
        assert tuple(test_cfg.stride) == (stride, stride)
    assert test_cfg.get('pamr') == pamr

    head = model.decode_head
    assert head.class_names == names
    assert head.templates == 'openai_imagenet'
    assert head.logit_scale == logit_scale
    assert head.prob_thd == prob_thd
    assert head.get('area_thd') == area_thd
    assert head.get('background') == background
    assert head.get('background_names') == BACKGROUND_NAMES.get((peer, key))
    assert 'bg_threshold' not in head

    dataset = cfg.test_dataloader.dataset
    assert dataset.type == DATASET_TYPES[key]
    steps = [step['type'] for step in dataset.pipeline]
    assert steps == ['LoadImageFromFile', 'Resize', 'LoadAnnotations', 'PackSegInputs']
    assert dataset.pipeline[1].scale == (2048, short_side) and dataset.pipeline[1].keep_ratio
    assert cfg.test_dataloader.batch_size == 1


@pytest.mark.parametrize('peer,key', list(TABLE))
def test_peer_names_match_the_dataset(peer, key):
    """The head's classes (names file lines) are the dataset's classes, background included."""
    classes = DATASETS.get(DATASET_TYPES[key]).METAINFO['classes']
    names = load_class_names(TABLE[peer, key][6])
    assert len(names) == len(classes)
    if TABLE[peer, key][7] == 'text':
        assert classes[0] == 'background'


@pytest.mark.parametrize('peer,key', [(peer, key) for peer in NAMES_FILES
                                      for key in NAMES_FILES[peer]])
def test_peer_names_file_parses_as_the_peer_splits_it(peer, key):
    """SCLIP and NACLIP split each line at ', ' and ClearCLIP at ','; neither strips more
    than the newline. Our parser splits at ',' and strips: the same names wherever no name
    has other surrounding spaces (context60's last line, 'wood ', differs only by a trailing
    space, which CLIP's tokenizer drops)."""
    text = (NAMES / peer / f'{key}.txt').read_text(encoding='utf-8')
    separator = ',' if peer == 'clearclip' else ', '
    theirs = [tuple(name.replace('\n', '') for name in line.split(separator))
              for line in text.splitlines(keepends=True)]
    ours = load_class_names(f'peers/{peer}/{key}')
    assert [tuple(name.strip() for name in names) for names in theirs] == ours


def test_sclip_background_names():
    for key in ('voc21', 'coco_object'):
        assert load_class_names(f'peers/sclip/{key}')[0] == STUFF
    assert load_class_names('peers/sclip/context60')[0] == ('background', )
    assert load_class_names('peers/clearclip/voc21')[0] == ('background', )


def test_peer_names_files_are_package_data():
    setup = (REPO / 'setup.py').read_text()
    assert "'class_names/*/*/*.txt'" in setup
    stored = sorted(path.relative_to(NAMES).as_posix() for path in NAMES.rglob('*.txt'))
    assert stored == sorted(f'{peer}/{key}.txt' for peer in NAMES_FILES
                            for key in NAMES_FILES[peer])
