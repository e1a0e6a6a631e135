"""The 80 benchmark configs: model, dataset, class names and protocol as BENCHMARKS.md says."""
import itertools
import json
import re
import runpy
from pathlib import Path

import mmseg_clipseg  # noqa: F401  (first: mmcv-lite shim; registers the datasets)

import pytest
from mmengine.config import Config
from mmseg.registry import DATASETS

from mmseg_clipseg.apis.cli import run_cli
from mmseg_clipseg.class_names import load_class_names

REPO = Path(__file__).resolve().parents[1]
# Short model name -> (open_clip model, pretrained tag).
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
# Benchmark key -> dataset class.
DATASET_TYPES = {
    'voc20': 'PascalVOC20Dataset',
    'voc21': 'PascalVOCDataset',
    'context59': 'PascalContextDataset59',
    'context60': 'PascalContextDataset',
    'context459': 'PascalContext459Dataset',
    'coco_stuff': 'COCOStuffDataset',
    'coco_object': 'COCOObjectDataset',
    'ade150': 'ADE20KDataset',
    'ade847': 'ADE20K847Dataset',
    'cityscapes': 'CityscapesDataset',
}
BACKGROUND = {'voc21', 'context60', 'coco_object'}
WIDE_LABELS = {'context459', 'ade847'}  # 16-bit label maps, 65535 = ignore
CASES = list(itertools.product(MODELS, DATASET_TYPES))
# Names of the background class on VOC21 and COCO-Object (PEERS.md).
STUFF_BACKGROUND_NAMES = [
    'sky', 'wall', 'tree', 'wood', 'grass', 'road', 'sea', 'river', 'mountain', 'sands', 'desk',
    'bed', 'building', 'cloud', 'lamp', 'door', 'window', 'wardrobe', 'ceiling', 'shelf',
    'curtain', 'stair', 'floor', 'hill', 'rail', 'fence'
]


def test_every_benchmark_has_a_config_per_model():
    expected = {f'clipseg_{model}_{key}.py' for model, key in CASES}
    assert expected <= {path.name for path in (REPO / 'configs').glob('clipseg_*.py')}


@pytest.mark.parametrize('model,key', CASES)
def test_config(model, key):
    cfg = Config.fromfile(str(REPO / 'configs' / f'clipseg_{model}_{key}.py'))
    assert (cfg.model.clip.model_name, cfg.model.clip.pretrained) == MODELS[model]

    head = cfg.model.decode_head
    assert head.class_names == key
    assert 'bg_threshold' not in head  # replaced by background / prob_thd
    if key in BACKGROUND:
        # METHOD.md, Classification: class 0 is a text class; prob_thd as SCLIP and NACLIP.
        assert head.background == 'text'
        assert head.prob_thd == 0.1
        assert head.get('background_names') == (
            None if key == 'context60' else STUFF_BACKGROUND_NAMES)
    else:
        assert head.get('background') is None
        assert head.get('prob_thd', 0.0) == 0.0
        assert head.get('background_names') is None
    assert head.get('area_thd') is None
    # The benchmark's head settings are stated once, in its dataset base.
    assert {name: head[name] for name in cfg.classification} == cfg.classification

    dataset = cfg.test_dataloader.dataset
    assert dataset.type == DATASET_TYPES[key]
    assert cfg.test_dataloader.batch_size == 1
    assert cfg.test_evaluator.type == 'CheckedIoUMetric'
    assert cfg.test_evaluator.iou_metrics == ['mIoU']
    steps = [step['type'] for step in dataset.pipeline]
    loader = 'LoadUInt16Annotations' if key in WIDE_LABELS else 'LoadAnnotations'
    # TCL protocol: labels load after the resize to a short side of 448.
    assert steps == ['LoadImageFromFile', 'Resize', loader, 'PackSegInputs']
    assert dataset.pipeline[1].scale == (2048, 448) and dataset.pipeline[1].keep_ratio
    # Up to 8 workers, fitted to the machine when the loader is built (test_quiet_runs.py).
    assert cfg.test_dataloader.num_workers == 8
    assert cfg.test_dataloader.pin_memory and cfg.test_dataloader.persistent_workers
    assert 'crop_batch_size' not in cfg.model.test_cfg  # the segmentor's default applies
    ignore_index = 65535 if key in WIDE_LABELS else 255
    assert dataset.get('ignore_index', 255) == ignore_index
    assert cfg.test_evaluator.get('ignore_index', 255) == ignore_index


def test_benchmark_configs_are_only_their_bases():
    for model, key in CASES:
        text = (REPO / 'configs' / f'clipseg_{model}_{key}.py').read_text()
        assert text == (f"_base_ = [\n    './_base_/models/clipseg_{model}.py',\n"
                        f"    './_base_/datasets/{key}.py',\n"
                        "    './_base_/default_runtime.py',\n]\n"
                        'model = dict(decode_head={{_base_.classification}})\n')


def test_crop_batch_size_default_is_set_once():
    """Only TrainingFreeSegmentor.DEFAULT_CROP_BATCH_SIZE sets it; no config repeats it."""
    files = [path.relative_to(REPO / 'configs').as_posix()
             for path in (REPO / 'configs').rglob('*.py')
             if re.search(r'crop_batch_size\s*=', path.read_text())]
    assert files == []


def test_the_background_names_are_line_one_of_the_peers_file():
    assert list(load_class_names('peers/sclip/voc21')[0]) == STUFF_BACKGROUND_NAMES
    assert list(load_class_names('peers/sclip/coco_object')[0]) == STUFF_BACKGROUND_NAMES


@pytest.mark.parametrize('key', DATASET_TYPES)
def test_names_file_matches_dataset_classes(key):
    classes = DATASETS.get(DATASET_TYPES[key]).METAINFO['classes']
    names = load_class_names(key)
    assert len(names) == len(classes)
    # mmseg's ADE20K names 'bed ' with a trailing space; names files hold stripped names.
    assert [synonyms[0] for synonyms in names] == [name.strip() for name in classes]
    assert (names[0] == ('background',)) == (key in BACKGROUND)


# ---------------------------------------------------------------- tools/results_table.py

def results_table():
    return runpy.run_path(str(REPO / 'tools' / 'results_table.py'))


@pytest.mark.parametrize('model,key', CASES)
def test_results_table_reads_config_names(model, key):
    assert results_table()['split_run_name'](f'clipseg_{model}_{key}') == (
        f'clipseg_{model}', key)


def test_results_table_orders_columns_like_the_paper():
    table = results_table()['format_table']({
        'clipseg_vitl_voc20': 81.25,
        'clipseg_vitb_ade847': 5.0,
        'clipseg_vitb_voc20': 80.0,
        'clipseg_vitb_voc21': 60.04,
    })
    assert table == '\n'.join([
        '| Method | VOC21 | VOC20 | ADE847 | Avg |',
        '| --- | ---: | ---: | ---: | ---: |',
        '| clipseg_vitl | – | 81.2 | – | – |',
        '| clipseg_vitb | 60.0 | 80.0 | 5.0 | 70.0 |',
    ])


def test_results_table_averages_the_papers_eight_benchmarks():
    keys = ['voc21', 'context60', 'coco_object', 'voc20', 'context59', 'coco_stuff',
            'cityscapes', 'ade150', 'context459']
    results = {f'm_{key}': float(value) for value, key in enumerate(keys, start=1)}
    last_row = results_table()['format_table'](results, precision=2).splitlines()[-1]
    # Context459 (9.00) is shown but, as in the paper, not averaged: (1 + ... + 8) / 8.
    assert last_row == ('| m | 1.00 | 2.00 | 3.00 | 4.00 | 5.00 | 6.00 | 7.00 | 8.00 | 9.00 '
                        '| 4.50 |')


def write_test_run(work_dir: Path, timestamp: str, miou: float) -> Path:
    run = work_dir / timestamp
    run.mkdir(parents=True)
    result = run / f'{timestamp}.json'
    result.write_text(json.dumps({'aAcc': 90.0, 'mIoU': miou, 'mAcc': 50.0, 'step': 2}))
    return result


def test_results_table_collects_finished_runs(tmp_path, capsys):
    voc20 = tmp_path / 'clipseg_vitb_voc20'
    write_test_run(voc20, '20250101_000000', 10.0)
    write_test_run(voc20, '20250102_000000', 81.0)  # the newest run counts
    result = write_test_run(tmp_path / 'clipseg_vitb_voc21', '20250101_000000', 62.0)
    results_table()['main']([str(voc20), str(result)])
    assert capsys.readouterr().out.splitlines()[-1] == '| clipseg_vitb | 62.0 | 81.0 | 71.5 |'


def test_results_table_explains_an_unfinished_run(tmp_path, capsys):
    (tmp_path / 'clipseg_vitb_voc20' / '20250101_000000').mkdir(parents=True)
    assert run_cli(results_table()['main'], [str(tmp_path / 'clipseg_vitb_voc20')]) == 1
    assert 'holds no tools/test.py result' in capsys.readouterr().err


def test_results_table_rejects_an_unknown_benchmark(tmp_path, capsys):
    write_test_run(tmp_path / 'clipseg_vitb_kitti', '20250101_000000', 1.0)
    assert run_cli(results_table()['main'], [str(tmp_path / 'clipseg_vitb_kitti')]) == 1
    assert 'does not end with _<benchmark>' in capsys.readouterr().err
