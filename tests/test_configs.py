"""Every shipped config against the published protocol tables, and the names files it uses.

The tables below are transcribed from the design documents, not from configs/: BENCHMARKS.md
(benchmarks, models, TCL protocol) and PEERS.md (the peers' own protocols, as SCLIP's, NACLIP's
and ClearCLIP's code and configs set them). One test loads each config with
``Config.fromfile`` and compares every field its table row names. No model is built here.
"""
import hashlib
import re
from pathlib import Path
from typing import Any, Callable, Dict, NamedTuple

import mmseg_clipseg  # noqa: F401  (first: mmcv-lite shim; registers the datasets)
import pytest
from mmengine.config import Config
from mmseg.registry import DATASETS

from mmseg_clipseg.apis.results_table import split_run_name
from mmseg_clipseg.class_names import load_class_names
from mmseg_clipseg.models import DENSE_MODES

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / 'configs'
NAMES = REPO / 'mmseg_clipseg' / 'class_names'

# BENCHMARKS.md, "The nine benchmarks": key -> (classes, background class 0, 16-bit labels,
# dataset class; the "custom" ones are this project's).
BENCHMARKS = {
    'voc20': (20, False, False, 'PascalVOC20Dataset'),
    'voc21': (21, True, False, 'PascalVOCDataset'),
    'context59': (59, False, False, 'PascalContextDataset59'),
    'context60': (60, True, False, 'PascalContextDataset'),
    'context459': (459, False, True, 'PascalContext459Dataset'),
    'coco_stuff': (171, False, False, 'COCOStuffDataset'),
    'coco_object': (81, True, False, 'COCOObjectDataset'),
    'ade150': (150, False, False, 'ADE20KDataset'),
    'ade847': (847, False, True, 'ADE20K847Dataset'),
    'cityscapes': (19, False, False, 'CityscapesDataset'),
}
# BENCHMARKS.md, "The models": short name -> (open_clip model, pretrained tag).
MODELS = {
    'vitb': ('ViT-B-16', 'openai'),
    'vitl': ('ViT-L-14', 'openai'),
    'openclip-vitb': ('ViT-B-16', 'laion2b_s34b_b88k'),
    'openclip-vitl': ('ViT-L-14', 'laion2b_s32b_b82k'),
    'metaclip-vitb': ('ViT-B-16-quickgelu', 'metaclip_fullcc'),
    'metaclip-vitl': ('ViT-L-14-quickgelu', 'metaclip_fullcc'),
    'openclip-vith': ('ViT-H-14', 'laion2b_s32b_b79k'),
    'metaclip-vith': ('ViT-H-14-quickgelu', 'metaclip_fullcc'),
}
# PEERS.md, "Background": SCLIP's and NACLIP's class 0 on VOC21 and COCO-Object.
STUFF = ('sky', 'wall', 'tree', 'wood', 'grass', 'road', 'sea', 'river', 'mountain', 'sands',
         'desk', 'bed', 'building', 'cloud', 'lamp', 'door', 'window', 'wardrobe', 'ceiling',
         'shelf', 'curtain', 'stair', 'floor', 'hill', 'rail', 'fence')


def by_benchmark(default: Any, **exceptions: Any) -> Callable[[str], Any]:
    """A table cell such as "40; VOC21 65": ``default`` except on the named benchmarks."""
    return lambda key: exceptions.get(key, default)


# PEERS.md, "Per peer and dataset" (and "Common to all three": the background text class on
# VOC21, Context-60 and COCO-Object, prob_thd 0.1 there for SCLIP and NACLIP). NACLIP's names
# files are byte for byte SCLIP's, so both use class_names/peers/sclip/.
PEER_BENCHMARKS = ('voc21', 'voc20', 'context60', 'context59', 'coco_object', 'coco_stuff',
                   'cityscapes', 'ade150')
BACKGROUND_PROB_THD = by_benchmark(0.0, voc21=0.1, context60=0.1, coco_object=0.1)
PEERS = {
    'sclip': dict(names='sclip', window=(224, 112), whole=(),
                  logit_scale=by_benchmark(40.0, voc21=65.0, context60=50.0, coco_object=50.0),
                  short_side=by_benchmark(336, cityscapes=560, coco_stuff=448),
                  prob_thd=BACKGROUND_PROB_THD, area_thd=by_benchmark(None, voc21=0.1),
                  pamr=None),
    'naclip': dict(names='sclip', window=(224, 112), whole=('voc20', 'voc21'),
                   logit_scale=40.0, short_side=by_benchmark(336, cityscapes=560),
                   prob_thd=BACKGROUND_PROB_THD, area_thd=None,
                   pamr=dict(steps=10, dilations=(8, 16))),
    'clearclip': dict(names='clearclip', window=by_benchmark((448, 224), cityscapes=(224, 224)),
                      whole=(), logit_scale=50.0, short_side=448,
                      prob_thd=by_benchmark(0.0, voc21=0.5, context60=0.15, coco_object=0.4),
                      area_thd=None, pamr=None),
}

# What the fields below expect besides a plain value, which the config must set (a None is
# also met by an unset key).
ABSENT = object()  # the key is not set at all


class OrUnset(NamedTuple):
    """``value``, or the key unset: the component's default is ``value``."""
    value: Any


def protocol_fields(key: str, short_side: int) -> Dict[str, Any]:
    """BENCHMARKS.md, "Protocol": the data side of every config on benchmark ``key``."""
    wide_labels = BENCHMARKS[key][2]
    ignore_index = 65535 if wide_labels else OrUnset(255)
    return {
        'test_dataloader.dataset.type': BENCHMARKS[key][3],
        # Labels load after the resize, so that they keep the original size.
        'test_dataloader.dataset.pipeline': [
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(2048, short_side), keep_ratio=True),
            dict(type='LoadUInt16Annotations' if wide_labels else 'LoadAnnotations'),
            dict(type='PackSegInputs')],
        'test_dataloader.dataset.ignore_index': ignore_index,
        'test_dataloader.batch_size': 1,
        # Up to 8 workers, fitted to the machine when the loader is built (test_quiet_runs.py).
        'test_dataloader.num_workers': 8,
        'test_dataloader.pin_memory': True,
        'test_dataloader.persistent_workers': True,
        'test_evaluator.type': 'CheckedIoUMetric',  # mmseg's IoUMetric, checked
        'test_evaluator.iou_metrics': ['mIoU'],
        'test_evaluator.ignore_index': ignore_index,
        'model.test_cfg.crop_batch_size': ABSENT,  # the segmentor's default applies
        'model.decode_head.bg_threshold': ABSENT,  # replaced by background / prob_thd
    }


def benchmark_fields(model: str, key: str) -> Dict[str, Any]:
    """BENCHMARKS.md: configs/clipseg_<model>_<key>.py."""
    background = BENCHMARKS[key][1]
    return dict(
        protocol_fields(key, short_side=448), **{
            'model.clip.model_name': MODELS[model][0],
            'model.clip.pretrained': MODELS[model][1],
            'model.test_cfg.mode': 'slide',
            'model.test_cfg.crop_size': (448, 448),
            'model.test_cfg.stride': (224, 224),
            'model.test_cfg.pamr': None,
            'model.decode_head.class_names': key,
            # A text class with the peers' names and threshold; Context-60's names file
            # names its class 0 itself ('background').
            'model.decode_head.background': 'text' if background else None,
            'model.decode_head.prob_thd':
                BACKGROUND_PROB_THD(key) if background else OrUnset(0.0),
            'model.decode_head.background_names':
                list(STUFF) if key in ('voc21', 'coco_object') else None,
            'model.decode_head.area_thd': None,
        })


def peer_fields(peer: str, key: str) -> Dict[str, Any]:
    """PEERS.md: configs/peers/<peer>_vitb_<key>.py."""
    row = {name: value(key) if callable(value) else value
           for name, value in PEERS[peer].items()}
    whole = key in row['whole']
    fields = dict(
        protocol_fields(key, row['short_side']), **{
            'model.clip.model_name': 'ViT-B-16',
            'model.clip.pretrained': 'openai',
            'model.backbone.dense_mode': peer,
            # All three resize positional embeddings by (n + 0.1) / grid, in every forward.
            'model.backbone.pos_interpolation': 'naclip',
            # NACLIP's whole image drops the pixels beyond the last full patch.
            'model.backbone.partial_patches': 'drop' if whole else OrUnset('pad'),
            'model.test_cfg.mode': 'whole' if whole else 'slide',
            'model.test_cfg.pamr': row['pamr'],
            'model.decode_head.class_names': f"peers/{row['names']}/{key}",
            'model.decode_head.templates': 'openai_imagenet',
            'model.decode_head.logit_scale': row['logit_scale'],
            'model.decode_head.prob_thd': row['prob_thd'],
            'model.decode_head.area_thd': row['area_thd'],
            'model.decode_head.background': 'text' if BENCHMARKS[key][1] else None,
            'model.decode_head.background_names': None,  # class 0 is the names file's line 1
        })
    if not whole:
        crop, stride = row['window']
        fields.update({'model.test_cfg.crop_size': (crop, crop),
                       'model.test_cfg.stride': (stride, stride)})
    return fields


CASES = {f'clipseg_{model}_{key}.py': benchmark_fields(model, key)
         for model in MODELS for key in BENCHMARKS}
CASES.update({f'peers/{peer}_vitb_{key}.py': peer_fields(peer, key)
              for peer in PEERS for key in PEER_BENCHMARKS})


def read(cfg: Config, field: str) -> Any:
    """The value at a dotted ``field``, ``ABSENT`` where a key on the way is not set."""
    value = cfg
    for name in field.split('.'):
        if name not in value:
            return ABSENT
        value = value[name]
    return value


@pytest.mark.parametrize('name', CASES)
def test_config_follows_its_published_table(name):
    cfg = Config.fromfile(str(CONFIGS / name))
    for field, expected in CASES[name].items():
        value = read(cfg, field)
        if isinstance(expected, OrUnset):
            expected, value = expected.value, expected.value if value is ABSENT else value
        elif expected is None and value is ABSENT:
            value = None
        assert (value is ABSENT) if expected is ABSENT else (value == expected), field
    if name.startswith('clipseg_'):
        # The benchmark's head settings are stated once, in its dataset base.
        head = cfg.model.decode_head
        assert {setting: head[setting] for setting in cfg.classification} == cfg.classification


def test_benchmark_configs_are_only_their_bases():
    for model in MODELS:
        for key in BENCHMARKS:
            text = (CONFIGS / f'clipseg_{model}_{key}.py').read_text()
            assert text == (f"_base_ = [\n    './_base_/models/clipseg_{model}.py',\n"
                            f"    './_base_/datasets/{key}.py',\n"
                            "    './_base_/default_runtime.py',\n]\n"
                            'model = dict(decode_head={{_base_.classification}})\n')


def test_results_table_reads_every_config_name():
    for model in MODELS:
        for key in BENCHMARKS:
            assert split_run_name(f'clipseg_{model}_{key}') == (f'clipseg_{model}', key)


def test_crop_batch_size_default_is_set_once():
    """Only TrainingFreeSegmentor.DEFAULT_CROP_BATCH_SIZE sets it; no config repeats it."""
    files = [path.relative_to(CONFIGS).as_posix() for path in CONFIGS.rglob('*.py')
             if re.search(r'crop_batch_size\s*=', path.read_text())]
    assert files == []


def test_peer_configs_are_the_tables_rows_each_with_its_published_numbers():
    """configs/peers/ holds the table's configs and no other; docs/peers.md has a row for each
    (its published number, or why none)."""
    expected = sorted(name.split('/')[1] for name in CASES if name.startswith('peers/'))
    assert sorted(path.name for path in (CONFIGS / 'peers').glob('*.py')) == expected
    rows = re.findall(r'^\| `(\w+\.py)` \|', (REPO / 'docs' / 'peers.md').read_text(),
                      flags=re.MULTILINE)
    assert sorted(rows) == expected


def test_clearclip_shipped_variant_is_one_documented_override():
    """_base_/clearclip.py keeps the paper's q-q block and names the override that runs the
    q-k block ClearCLIP's configs/base_config.py ships; the override is a valid dense mode."""
    text = (CONFIGS / 'peers' / '_base_' / 'clearclip.py').read_text()
    override, = re.findall(r'--cfg-options (model\.backbone\.dense_mode)=(\w+)', text)
    assert override[1] == 'clearclip_qk' and override[1] in DENSE_MODES
    cfg = Config.fromfile(str(CONFIGS / 'peers' / 'clearclip_vitb_voc21.py'))
    assert cfg.model.backbone.dense_mode == 'clearclip'
    cfg.merge_from_dict({override[0]: override[1]})
    assert cfg.model.backbone.dense_mode == 'clearclip_qk'


# ------------------------------------------------------------------------- names files

# The peers' own names files, as read from their repositories: configs/cls_<file>.txt of
# SCLIP at b56bd30 (configs/ last changed in 57fa9aa), NACLIP at 0cac3a6 (unchanged since
# its first commit, cbb720d; byte for byte SCLIP's: same hashes, checked one by one) and
# ClearCLIP at ad68a40 (added in fd05ce4): the SHA-256 of each file's exact bytes.
PEER_FILE_NAMES = {'voc21': 'cls_voc21.txt', 'voc20': 'cls_voc20.txt',
                   'context60': 'cls_context60.txt', 'context59': 'cls_context59.txt',
                   'coco_object': 'cls_coco_object.txt', 'coco_stuff': 'cls_coco_stuff.txt',
                   'cityscapes': 'cls_city_scapes.txt', 'ade150': 'cls_ade20k.txt'}
PEER_FILES = {'sclip': {
    'voc21': '80e643a9a143966800cd4a49324fd0be2f94c0d7bac817ea16a5f66ed706bc38',
    'voc20': 'c68f65a2b342397cdfe05ff5289517e1e370b1d574a218ff1a17db27f2576db1',
    'context60': '5e620446a8699f292a4c2e37fa8918a33dd4f14713dc1b3f22884d2be68b45a1',
    'context59': 'cd808465f06a16169edc25580073f0eda347e64f06cc1c2e24acd0b237f6497d',
    'coco_object': '3475d03d61f85ce03812ce62d019de8f2ea51053885374629d29a17fbd3f02a6',
    'coco_stuff': 'fb98709b9ab1baff4fd930bac4a77772a0458c7d534911de545f9a4081e14a3e',
    'cityscapes': '6f6782fc1bf92bfd9f5562192e92045e0e093870e613f387f6c98fc66d4ceba4',
    'ade150': 'e53ded02c488bdb903ef000a2d207e4ac4f2bb4502a72572e4aab7c2504aef3a',
}}
# ClearCLIP's differ from SCLIP's on VOC21, VOC20 and COCO-Object.
PEER_FILES['clearclip'] = dict(
    PEER_FILES['sclip'],
    voc21='265d9ede93be451d724981c5ffde13a8eb3082674e98021aa8d5445f81f4498a',
    voc20='6b9a85ffb907e34ac920d704a520b45e1424bf96796ca7de5b1823ee202db119',
    coco_object='1f17b53017e442257cad2025ab981ddeb28d048af00dcac8ae810bc25a6a9a77')
STORED = [(peer, key) for peer in PEER_FILES for key in PEER_BENCHMARKS]
PERSON = ('person', 'person in shirt', 'person in jeans', 'person in dress', 'person in sweater',
          'person in skirt', 'person in jacket')
TV = ('television monitor', 'tv monitor', 'monitor', 'television', 'screen')
# Lines of the peers' files (1-based) as read there: where the peers differ (PEERS.md).
SPOT_CHECKS = {
    ('sclip', 'voc21'): {1: STUFF, 16: PERSON, 21: TV},
    ('sclip', 'voc20'): {15: PERSON, 20: TV},
    ('sclip', 'coco_object'): {1: STUFF, 2: PERSON + ('body', )},
    ('sclip', 'context60'): {1: ('background', )},
    ('clearclip', 'voc21'): {1: ('background', ), 16: ('person', ), 21: ('tvmonitor', )},
    ('clearclip', 'voc20'): {15: ('person', ), 20: ('tvmonitor', )},
    ('clearclip', 'coco_object'): {1: ('background', ), 2: ('person', )},
    ('clearclip', 'context60'): {1: ('background', )},
}


@pytest.mark.parametrize('names_key,key', [(key, key) for key in BENCHMARKS] +
                         [(f'peers/{peer}/{key}', key) for peer, key in STORED])
def test_names_file_fits_the_dataset(names_key, key):
    """A names file has a line per class of the dataset (BENCHMARKS.md's count), class 0
    being 'background' exactly where the benchmark has one; ours name the dataset's classes."""
    classes = DATASETS.get(BENCHMARKS[key][3]).METAINFO['classes']
    names = load_class_names(names_key)
    assert len(names) == len(classes) == BENCHMARKS[key][0]
    assert (classes[0] == 'background') == BENCHMARKS[key][1]
    if not names_key.startswith('peers/'):
        # mmseg's ADE20K names 'bed ' with a trailing space; names files hold stripped names.
        assert [synonyms[0] for synonyms in names] == [name.strip() for name in classes]
        assert (names[0] == ('background', )) == BENCHMARKS[key][1]


@pytest.mark.parametrize('peer,key', STORED)
def test_peer_names_file_is_the_peers_own(peer, key):
    """class_names/peers/<peer>/<key>.txt is the peer's file byte for byte, and parses to the
    names the peer reads: SCLIP and NACLIP split each line at ', ' and ClearCLIP at ','; neither
    strips more than the newline. Our parser splits at ',' and strips: the same names wherever
    no name has other surrounding spaces (context60's last line, 'wood ', differs only by a
    trailing space, which CLIP's tokenizer drops)."""
    data = (NAMES / 'peers' / peer / f'{key}.txt').read_bytes()
    assert hashlib.sha256(data).hexdigest() == PEER_FILES[peer][key], \
        f"not {peer}'s {PEER_FILE_NAMES[key]}"
    text = data.decode('utf-8')
    assert len(text.splitlines()) == BENCHMARKS[key][0]  # a line per class
    ours = load_class_names(f'peers/{peer}/{key}')
    for line, names in SPOT_CHECKS.get((peer, key), {}).items():
        assert ours[line - 1] == names, (line, ours[line - 1])
    separator = ',' if peer == 'clearclip' else ', '
    theirs = [tuple(name.replace('\n', '') for name in line.split(separator))
              for line in text.splitlines(keepends=True)]
    assert [tuple(name.strip() for name in names) for names in theirs] == ours


def test_peer_names_files_are_package_data():
    assert "'class_names/*/*/*.txt'" in (REPO / 'setup.py').read_text()
    stored = sorted(path.relative_to(NAMES / 'peers').as_posix()
                    for path in (NAMES / 'peers').rglob('*.txt'))
    assert stored == sorted(f'{peer}/{key}.txt' for peer, key in STORED)
