"""The peers' protocols (configs/peers/) and names files (class_names/peers/), against a table
transcribed from the peers' own code and configs (PEERS.md): SCLIP (wangf3014/SCLIP),
NACLIP (sinahmr/NACLIP) and ClearCLIP (mc-lan/ClearCLIP). No model is built here."""
import hashlib
import re
from pathlib import Path

import mmseg_clipseg  # noqa: F401  (first: mmcv-lite shim; registers the datasets)
import pytest
from mmengine.config import Config
from mmseg.registry import DATASETS

from mmseg_clipseg.class_names import load_class_names
from mmseg_clipseg.models import DENSE_MODES

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
    ('clearclip', 'voc20'): (448, (S, 448, 224), 50.0, 0.0, N, N, 'peers/clearclip/voc20', N),
    ('clearclip', 'context60'): (448, (S, 448, 224), 50.0, 0.15, N, N,
                                 'peers/clearclip/context60', 'text'),
    ('clearclip', 'context59'): (448, (S, 448, 224), 50.0, 0.0, N, N,
                                 'peers/clearclip/context59', N),
    ('clearclip', 'coco_object'): (448, (S, 448, 224), 50.0, 0.4, N, N,
                                   'peers/clearclip/coco_object', 'text'),
    ('clearclip', 'coco_stuff'): (448, (S, 448, 224), 50.0, 0.0, N, N,
                                  'peers/clearclip/coco_stuff', N),
    ('clearclip', 'cityscapes'): (448, (S, 224, 224), 50.0, 0.0, N, N,
                                  'peers/clearclip/cityscapes', N),
    ('clearclip', 'ade150'): (448, (S, 448, 224), 50.0, 0.0, N, N, 'peers/clearclip/ade150', N),
}
# The peers' own names files, as read from their repositories: configs/cls_<file>.txt of
# SCLIP at b56bd30 (configs/ last changed in 57fa9aa), NACLIP at 0cac3a6 (unchanged since
# its first commit, cbb720d) and ClearCLIP at ad68a40 (added in fd05ce4). Per benchmark key:
# (number of lines, SHA-256 of the file's exact bytes).
PEER_FILE_NAMES = {'voc21': 'cls_voc21.txt', 'voc20': 'cls_voc20.txt',
                   'context60': 'cls_context60.txt', 'context59': 'cls_context59.txt',
                   'coco_object': 'cls_coco_object.txt', 'coco_stuff': 'cls_coco_stuff.txt',
                   'cityscapes': 'cls_city_scapes.txt', 'ade150': 'cls_ade20k.txt'}
SCLIP_FILES = {
    'voc21': (21, '80e643a9a143966800cd4a49324fd0be2f94c0d7bac817ea16a5f66ed706bc38'),
    'voc20': (20, 'c68f65a2b342397cdfe05ff5289517e1e370b1d574a218ff1a17db27f2576db1'),
    'context60': (60, '5e620446a8699f292a4c2e37fa8918a33dd4f14713dc1b3f22884d2be68b45a1'),
    'context59': (59, 'cd808465f06a16169edc25580073f0eda347e64f06cc1c2e24acd0b237f6497d'),
    'coco_object': (81, '3475d03d61f85ce03812ce62d019de8f2ea51053885374629d29a17fbd3f02a6'),
    'coco_stuff': (171, 'fb98709b9ab1baff4fd930bac4a77772a0458c7d534911de545f9a4081e14a3e'),
    'cityscapes': (19, '6f6782fc1bf92bfd9f5562192e92045e0e093870e613f387f6c98fc66d4ceba4'),
    'ade150': (150, 'e53ded02c488bdb903ef000a2d207e4ac4f2bb4502a72572e4aab7c2504aef3a'),
}
PEER_FILES = {
    'sclip': SCLIP_FILES,
    # NACLIP's eight files are byte for byte SCLIP's (same hashes, checked one by one).
    'naclip': SCLIP_FILES,
    # ClearCLIP's differ from SCLIP's on VOC21, VOC20 and COCO-Object.
    'clearclip': {
        'voc21': (21, '265d9ede93be451d724981c5ffde13a8eb3082674e98021aa8d5445f81f4498a'),
        'voc20': (20, '6b9a85ffb907e34ac920d704a520b45e1424bf96796ca7de5b1823ee202db119'),
        'context60': (60, '5e620446a8699f292a4c2e37fa8918a33dd4f14713dc1b3f22884d2be68b45a1'),
        'context59': (59, 'cd808465f06a16169edc25580073f0eda347e64f06cc1c2e24acd0b237f6497d'),
        'coco_object': (81, '1f17b53017e442257cad2025ab981ddeb28d048af00dcac8ae810bc25a6a9a77'),
        'coco_stuff': (171, 'fb98709b9ab1baff4fd930bac4a77772a0458c7d534911de545f9a4081e14a3e'),
        'cityscapes': (19, '6f6782fc1bf92bfd9f5562192e92045e0e093870e613f387f6c98fc66d4ceba4'),
        'ade150': (150, 'e53ded02c488bdb903ef000a2d207e4ac4f2bb4502a72572e4aab7c2504aef3a'),
    },
}
STUFF = ('sky', 'wall', 'tree', 'wood', 'grass', 'road', 'sea', 'river', 'mountain', 'sands',
         'desk', 'bed', 'building', 'cloud', 'lamp', 'door', 'window', 'wardrobe', 'ceiling',
         'shelf', 'curtain', 'stair', 'floor', 'hill', 'rail', 'fence')


PERSON = ('person', 'person in shirt', 'person in jeans', 'person in dress', 'person in sweater',
          'person in skirt', 'person in jacket')
TV = ('television monitor', 'tv monitor', 'monitor', 'television', 'screen')
# Lines of the peers' files (1-based) as read there: where the peers differ.
SPOT_CHECKS = {
    ('sclip', 'voc21'): {1: STUFF, 16: PERSON, 21: TV},
    ('sclip', 'voc20'): {15: PERSON, 20: TV},
    ('sclip', 'coco_object'): {1: STUFF, 2: PERSON + ('body', )},
    ('sclip', 'context60'): {1: ('background', )},
    ('naclip', 'voc21'): {1: STUFF, 16: PERSON, 21: TV},
    ('naclip', 'voc20'): {15: PERSON, 20: TV},
    ('naclip', 'coco_object'): {1: STUFF, 2: PERSON + ('body', )},
    ('naclip', 'context60'): {1: ('background', )},
    ('clearclip', 'voc21'): {1: ('background', ), 16: ('person', ), 21: ('tvmonitor', )},
    ('clearclip', 'voc20'): {15: ('person', ), 20: ('tvmonitor', )},
    ('clearclip', 'coco_object'): {1: ('background', ), 2: ('person', )},
    ('clearclip', 'context60'): {1: ('background', )},
}


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
    assert head.get('background_names') is None  # class 0 is the names file's line 1
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


@pytest.mark.parametrize('peer,key', list(TABLE))
def test_config_encodes_the_peers_own_names_file(peer, key):
    """The names file a peer config points at is the peer's own file, byte for byte."""
    names_key = Config.fromfile(str(PEERS / f'{peer}_vitb_{key}.py')).model.decode_head.class_names
    data = (REPO / 'mmseg_clipseg' / 'class_names' / f'{names_key}.txt').read_bytes()
    lines, sha256 = PEER_FILES[peer][key]
    assert len(data.decode('utf-8').splitlines()) == lines, PEER_FILE_NAMES[key]
    assert hashlib.sha256(data).hexdigest() == sha256, \
        f'{names_key} is not {peer}\'s {PEER_FILE_NAMES[key]}'
    classes = load_class_names(names_key)
    for line, names in SPOT_CHECKS.get((peer, key), {}).items():
        assert classes[line - 1] == names, (line, classes[line - 1])


STORED = [(peer, key) for peer in ('sclip', 'clearclip') for key in PEER_FILES[peer]]


@pytest.mark.parametrize('peer,key', STORED)
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


def test_peer_names_files_are_package_data():
    setup = (REPO / 'setup.py').read_text()
    assert "'class_names/*/*/*.txt'" in setup
    stored = sorted(path.relative_to(NAMES).as_posix() for path in NAMES.rglob('*.txt'))
    assert stored == sorted(f'{peer}/{key}.txt' for peer, key in STORED)


def test_clearclip_shipped_variant_is_one_documented_override():
    """_base_/clearclip.py keeps the paper's q-q block and names the override that runs the
    q-k block ClearCLIP's configs/base_config.py ships; the override is a valid dense mode."""
    text = (PEERS / '_base_' / 'clearclip.py').read_text()
    override, = re.findall(r'--cfg-options (model\.backbone\.dense_mode)=(\w+)', text)
    assert override[1] == 'clearclip_qk' and override[1] in DENSE_MODES
    cfg = Config.fromfile(str(PEERS / 'clearclip_vitb_voc21.py'))
    assert cfg.model.backbone.dense_mode == 'clearclip'
    cfg.merge_from_dict({override[0]: override[1]})
    assert cfg.model.backbone.dense_mode == 'clearclip_qk'


def test_every_peer_config_has_its_published_numbers_documented():
    """docs/peers.md has a row for every peer config (its published number, or why none)."""
    rows = re.findall(r'^\| `(\w+\.py)` \|', (REPO / 'docs' / 'peers.md').read_text(),
                      flags=re.MULTILINE)
    assert sorted(rows) == sorted(path.name for path in PEERS.glob('*.py'))
