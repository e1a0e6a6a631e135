"""The dataset converters on tiny inputs in each benchmark's official release format."""
import json
import os
import runpy
from pathlib import Path
from typing import Callable, Dict

import cv2
import mmseg_clipseg  # noqa: F401  (first: mmcv-lite shim)
import numpy as np
import pytest
import scipy.io
from PIL import Image

from mmseg_clipseg.datasets.ade20k_full_ids import ADE20K_FULL_847_OBJECT_IDS
from mmseg_clipseg.apis.cli import run_cli
from mmseg_clipseg.datasets.label_tables import (ade847_table, cityscapes_table,
                                                 coco_object_table, coco_stuff_table,
                                                 context60_table, context459_table)

TOOLS = Path(__file__).resolve().parents[1] / 'tools' / 'dataset_converters'
# The 459-class label ids of the 59 classes, from mmseg's Pascal Context converter
# (tools/dataset_converters/pascal_context.py, its sorted ``_mapping``).
CONTEXT59_IDS = [2, 9, 18, 19, 22, 23, 25, 31, 33, 34, 44, 45, 46, 59, 65, 68, 72, 80, 85, 98,
                 104, 105, 113, 115, 144, 158, 159, 162, 187, 189, 207, 220, 232, 258, 259,
                 260, 284, 295, 296, 308, 324, 326, 347, 349, 354, 355, 360, 366, 368, 397,
                 415, 416, 420, 424, 427, 440, 445, 454, 458]


def converter(name: str) -> Callable:
    """The ``main`` of ``tools/dataset_converters/<name>.py``."""
    return runpy.run_path(str(TOOLS / f'{name}.py'))['main']


def convert(name: str, *argv: str) -> int:
    """Run a converter as its command line does; return its exit status."""
    return run_cli(converter(name), list(argv))


def write_png(path: Path, array: np.ndarray) -> None:
    os.makedirs(path.parent, exist_ok=True)
    if array.dtype == np.uint16:
        assert cv2.imwrite(str(path), array)
    else:
        Image.fromarray(array).save(path)


def write_jpg(path: Path, height: int = 4, width: int = 6) -> None:
    os.makedirs(path.parent, exist_ok=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)


def read_png(path: Path) -> np.ndarray:
    labels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert labels is not None, path
    return labels


def assert_input_error(capsys, status: int, message: str) -> None:
    err = capsys.readouterr().err
    assert status == 1
    assert message in err and err.startswith('error: ') and 'Traceback' not in err


# ---------------------------------------------------------------- label tables


def test_coco_stuff_table_skips_unused_coco_ids():
    table = coco_stuff_table()
    expected = {0: 0, 10: 10, 11: 255, 12: 11, 89: 79, 90: 255, 91: 80, 181: 170, 182: 255,
                255: 255}
    assert {source: int(table[source]) for source in expected} == expected
    assert sorted(table[table != 255].tolist()) == list(range(171))


def test_coco_object_table_keeps_things_and_merges_stuff():
    table = coco_object_table()
    expected = {0: 1, 10: 11, 11: 255, 12: 12, 89: 80, 90: 255, 91: 0, 181: 0, 255: 255}
    assert {source: int(table[source]) for source in expected} == expected
    assert sorted(set(table.tolist())) == list(range(81)) + [255]


def test_context_tables_follow_the_standard_59_class_subset():
    table = context60_table()
    assert np.nonzero(table)[0].tolist() == CONTEXT59_IDS
    assert table[CONTEXT59_IDS].tolist() == list(range(1, 60))
    full = context459_table()
    assert full[0] == 65535 and full[1:].tolist() == list(range(459))


def test_ade847_table():
    assert len(set(ADE20K_FULL_847_OBJECT_IDS)) == 847
    table = ade847_table()
    assert table[2978] == 0 and table[312] == 1 and table[3148] == 846  # wall, building, last
    assert table[0] == 65535 and (table != 65535).sum() == 847


def test_cityscapes_table():
    table = cityscapes_table()
    assert table[[7, 8, 11, 26, 33]].tolist() == [0, 1, 2, 13, 18]
    assert table[[0, 1, 9, 10, 14, 29, 30, 34, 255]].tolist() == [255] * 9


# ---------------------------------------------------------------- Pascal VOC


def write_voc(root: Path, label: int = 15) -> None:
    write_jpg(root / 'JPEGImages' / '2007_000033.jpg')
    labels = np.full((4, 6), label, np.uint8)
    labels[0, :] = 255
    labels[1, :] = 0
    write_png(root / 'SegmentationClass' / '2007_000033.png', labels)
    os.makedirs(root / 'ImageSets' / 'Segmentation')
    (root / 'ImageSets' / 'Segmentation' / 'val.txt').write_text('2007_000033\n')


def test_pascal_voc_accepts_the_release(tmp_path, capsys):
    write_voc(tmp_path)
    assert convert('pascal_voc', str(tmp_path)) == 0
    assert '1 validation images with valid labels' in capsys.readouterr().out


def test_pascal_voc_rejects_foreign_labels(tmp_path, capsys):
    write_voc(tmp_path, label=21)
    assert_input_error(capsys, convert('pascal_voc', str(tmp_path)), 'holds labels [21]')


def test_pascal_voc_names_a_missing_folder(tmp_path, capsys):
    status = convert('pascal_voc', str(tmp_path / 'VOC2012'))
    assert_input_error(capsys, status, 'is not a folder; expected the VOCdevkit/VOC2012')


# ---------------------------------------------------------------- Pascal Context


def write_context(root: Path) -> Dict[str, np.ndarray]:
    """VOC2010 images and full-label .mat files of two images; returns their LabelMaps."""
    maps = {}
    for index, image_id in enumerate(['2008_000002', '2008_000003']):
        write_jpg(root / 'JPEGImages' / f'{image_id}.jpg')
        # 0 unlabeled, 1 accordion, 2 aeroplane, 300 (a class outside the 59), 458 wood,
        # 459 wool.
        label_map = np.array([[0, 1, 2], [300, 458, 459 - index]], np.uint16)
        os.makedirs(root / 'trainval', exist_ok=True)
        scipy.io.savemat(str(root / 'trainval' / f'{image_id}.mat'), {'LabelMap': label_map})
        maps[image_id] = label_map
    return maps


def check_context_outputs(root: Path, label_map: np.ndarray, image_id: str) -> None:
    context = read_png(root / 'SegmentationClassContext' / f'{image_id}.png')
    assert context.dtype == np.uint8
    expected = {0: 0, 1: 0, 2: 1, 300: 0, 458: 59, 459: 0}
    np.testing.assert_array_equal(context, np.vectorize(expected.get)(label_map))
    full = read_png(root / 'SegmentationClassContext459' / f'{image_id}.png')
    assert full.dtype == np.uint16
    np.testing.assert_array_equal(full, np.where(label_map == 0, 65535, label_map - 1))


def test_pascal_context_with_detail_split(tmp_path):
    maps = write_context(tmp_path)
    split = tmp_path / 'trainval_merged.json'
    split.write_text(json.dumps({'images': [
        {'file_name': '2008_000002.jpg', 'phase': 'val'},
        {'file_name': '2008_000003.jpg', 'phase': 'train'}]}))
    assert convert('pascal_context', str(tmp_path), '--split-file', str(split)) == 0
    check_context_outputs(tmp_path, maps['2008_000002'], '2008_000002')
    assert not (tmp_path / 'SegmentationClassContext' / '2008_000003.png').exists()
    val_list = tmp_path / 'ImageSets' / 'SegmentationContext' / 'val.txt'
    assert val_list.read_text() == '2008_000002\n'


def test_pascal_context_with_voc_val_list(tmp_path):
    maps = write_context(tmp_path)
    os.makedirs(tmp_path / 'ImageSets' / 'Main')
    (tmp_path / 'ImageSets' / 'Main' / 'val.txt').write_text('2008_000002\n2008_000003\n')
    assert convert('pascal_context', str(tmp_path)) == 0
    for image_id, label_map in maps.items():
        check_context_outputs(tmp_path, label_map, image_id)


def test_pascal_context_rejects_a_mat_without_label_map(tmp_path, capsys):
    write_context(tmp_path)
    scipy.io.savemat(str(tmp_path / 'trainval' / '2008_000002.mat'), {'Other': np.zeros(2)})
    split = tmp_path / 'val.txt'
    split.write_text('2008_000002\n')
    status = convert('pascal_context', str(tmp_path), '--split-file', str(split))
    assert_input_error(capsys, status, 'has no 2-D LabelMap')


def test_pascal_context_names_missing_label_files(tmp_path, capsys):
    write_context(tmp_path)
    split = tmp_path / 'val.txt'
    split.write_text('2008_000002\n2008_000099\n')
    status = convert('pascal_context', str(tmp_path), '--split-file', str(split))
    assert_input_error(capsys, status, '1 of 2 val images are missing')


# ---------------------------------------------------------------- COCO


def write_stuffthingmap(root: Path) -> np.ndarray:
    write_jpg(root / 'images' / 'val2017' / '000000000139.jpg')
    source = np.array([[0, 11, 12, 89], [90, 91, 181, 255]], np.uint8)
    write_png(root / 'annotations' / 'val2017' / '000000000139.png', source)
    return source


def test_coco_stuff(tmp_path):
    write_stuffthingmap(tmp_path)
    assert convert('coco_stuff', str(tmp_path)) == 0
    # Running again must not take the outputs for inputs.
    assert convert('coco_stuff', str(tmp_path)) == 0
    folder = tmp_path / 'annotations' / 'val2017'
    assert sorted(os.listdir(folder)) == ['000000000139.png', '000000000139_labelTrainIds.png']
    np.testing.assert_array_equal(read_png(folder / '000000000139_labelTrainIds.png'),
                                  [[0, 255, 11, 79], [255, 80, 170, 255]])


def test_coco_object(tmp_path):
    write_stuffthingmap(tmp_path)
    assert convert('coco_object', str(tmp_path)) == 0
    labels = read_png(tmp_path / 'annotations' / 'val2017' / '000000000139_instanceTrainIds.png')
    np.testing.assert_array_equal(labels, [[1, 255, 12, 80], [255, 0, 0, 255]])


def test_coco_names_the_missing_stuffthingmaps(tmp_path, capsys):
    write_jpg(tmp_path / 'images' / 'val2017' / '000000000139.jpg')
    status = convert('coco_object', str(tmp_path))
    assert_input_error(capsys, status, 'stuffthingmaps_trainval2017.zip')


# ---------------------------------------------------------------- ADE20K


def test_ade20k_checks_the_release(tmp_path, capsys):
    write_jpg(tmp_path / 'images' / 'validation' / 'ADE_val_00000001.jpg')
    labels = tmp_path / 'annotations' / 'validation' / 'ADE_val_00000001.png'
    write_png(labels, np.array([[0, 1], [150, 7]], np.uint8))
    assert convert('ade20k', str(tmp_path)) == 0
    write_png(labels, np.array([[0, 151]], np.uint8))
    assert_input_error(capsys, convert('ade20k', str(tmp_path)), 'holds labels [151]')


def ade_full_seg(object_ids: np.ndarray) -> np.ndarray:
    """The RGB ``*_seg.png`` encoding (R // 10 * 256 + G) of per-pixel object ids."""
    seg = np.zeros(object_ids.shape + (3,), np.uint8)
    seg[..., 0] = object_ids // 256 * 10 + 7  # the encoding ignores R's last digit
    seg[..., 1] = object_ids % 256
    seg[..., 2] = 42  # instance ids, not used
    seg[object_ids == 0] = 0
    return seg


def write_ade_full(root: Path) -> np.ndarray:
    """One validation image, 64 x 80, its class map constant on 2 x 2 blocks."""
    folder = root / 'images' / 'ADE' / 'validation' / 'home_or_hotel' / 'bathroom'
    write_jpg(folder / 'ADE_val_00000001.jpg', 64, 80)
    # wall (class 0), building (1), the last class (846), a class outside the 847, unlabeled.
    blocks = np.array([[2978, 312, 3148, 1, 0]] * 32, np.int64)
    object_ids = np.kron(blocks, np.ones((1, 16), np.int64)).repeat(2, axis=0)
    write_png(folder / 'ADE_val_00000001_seg.png', ade_full_seg(object_ids))
    expected = {2978: 0, 312: 1, 3148: 846, 1: 65535, 0: 65535}
    return np.vectorize(expected.get)(object_ids)


def test_ade20k_full_keeps_small_images(tmp_path):
    expected = write_ade_full(tmp_path)
    out = tmp_path / 'ade847'
    assert convert('ade20k_full', str(tmp_path), '--out-dir', str(out),
                   '--max-short-side', '0') == 0
    labels = read_png(out / 'annotations' / 'validation' / 'ADE_val_00000001.png')
    assert labels.dtype == np.uint16
    np.testing.assert_array_equal(labels, expected)
    source = tmp_path / 'images/ADE/validation/home_or_hotel/bathroom/ADE_val_00000001.jpg'
    copied = out / 'images' / 'validation' / 'ADE_val_00000001.jpg'
    assert copied.read_bytes() == source.read_bytes()


def test_ade20k_full_resizes_large_images(tmp_path):
    expected = write_ade_full(tmp_path)
    out = tmp_path / 'ade847'
    assert convert('ade20k_full', str(tmp_path), '--out-dir', str(out),
                   '--max-short-side', '32') == 0
    labels = read_png(out / 'annotations' / 'validation' / 'ADE_val_00000001.png')
    np.testing.assert_array_equal(labels, expected[::2, ::2])
    with Image.open(out / 'images' / 'validation' / 'ADE_val_00000001.jpg') as image:
        assert image.size == (40, 32)


def test_ade20k_full_names_a_missing_seg_file(tmp_path, capsys):
    write_jpg(tmp_path / 'images' / 'ADE' / 'validation' / 'x' / 'ADE_val_00000001.jpg')
    status = convert('ade20k_full', str(tmp_path), '--out-dir', str(tmp_path / 'out'))
    assert_input_error(capsys, status, '1 of 1 *_seg.png class maps are missing')


# ---------------------------------------------------------------- Cityscapes


def test_cityscapes(tmp_path):
    write_jpg(tmp_path / 'leftImg8bit' / 'val' / 'ulm' / 'ulm_000000_000019_leftImg8bit.png')
    mapping = {0: 255, 7: 0, 8: 1, 9: 255, 26: 13, 33: 18}  # label id -> train id
    source, expected = np.array([list(mapping)], np.uint8), [list(mapping.values())]
    folder = tmp_path / 'gtFine' / 'val' / 'ulm'
    write_png(folder / 'ulm_000000_000019_gtFine_labelIds.png', source)
    assert convert('cityscapes', str(tmp_path)) == 0
    labels = read_png(folder / 'ulm_000000_000019_gtFine_labelTrainIds.png')
    np.testing.assert_array_equal(labels, expected)


def test_cityscapes_names_the_missing_images(tmp_path, capsys):
    os.makedirs(tmp_path / 'gtFine' / 'val')
    status = convert('cityscapes', str(tmp_path))
    assert_input_error(capsys, status, 'leftImg8bit/val (from leftImg8bit_trainvaltest.zip)')


@pytest.mark.parametrize('name', ['pascal_voc', 'pascal_context', 'coco_stuff', 'coco_object',
                                  'ade20k', 'ade20k_full', 'cityscapes'])
def test_every_converter_explains_a_wrong_folder(name, tmp_path, capsys):
    extra = ['--out-dir', str(tmp_path / 'out')] if name == 'ade20k_full' else []
    status = convert(name, str(tmp_path / 'missing'), *extra)
    assert_input_error(capsys, status, 'is not a folder')
