"""The ten benchmarks' datasets, test pipelines and metrics on tiny synthetic copies.

Each copy is written in the benchmark's real on-disk layout; the dataset, pipeline and metric
are built from the benchmark's config file, as ``tools/test.py`` builds them.
"""
import json
import os
import os.path as osp
import runpy
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import cv2
import mmseg_clipseg  # noqa: F401  (first: mmcv-lite shim; registers datasets and transforms)
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.datasets import PascalVOCDataset
from mmseg.registry import DATASETS, METRICS, TRANSFORMS
from PIL import Image

from mmseg_clipseg.datasets.palette import label_colormap

REPO = Path(__file__).resolve().parents[1]
HEIGHT, WIDTH = 64, 80
# Columns of the three classes of a synthetic label map, and rows of its ignored band.
COLUMNS_A, COLUMNS_B, COLUMNS_C = slice(0, 20), slice(20, 50), slice(50, WIDTH)
IGNORED_ROWS = slice(0, 8)


@dataclass(frozen=True)
class Layout:
    """A benchmark's on-disk layout and label conventions (see docs/datasets.md)."""
    key: str
    num_classes: int
    image_file: str  # relative to the data root; {name} is the image name
    label_file: str
    split_file: Optional[str]
    ignore: int  # the on-disk ignore label
    reduce_zero_label: bool  # on-disk 0 is ignored and labels shift down by one
    disk_classes: Tuple[Tuple[int, int, int], ...]  # on-disk labels A, B, C of each image
    names: Tuple[str, ...] = ('img_a', 'img_b')


VOC = dict(image_file='JPEGImages/{name}.jpg', label_file='SegmentationClass/{name}.png',
           split_file='ImageSets/Segmentation/val.txt', ignore=255)
CONTEXT = dict(image_file='JPEGImages/{name}.jpg',
               split_file='ImageSets/SegmentationContext/val.txt')
COCO_IMAGE = 'images/val2017/{name}.jpg'
ADE = dict(image_file='images/validation/{name}.jpg',
           label_file='annotations/validation/{name}.png', split_file=None,
           names=('ADE_val_00000001', 'ADE_val_00000002'))
LAYOUTS = {layout.key: layout for layout in [
    Layout('voc20', 20, **VOC, reduce_zero_label=True,
           disk_classes=((1, 15, 20), (2, 7, 19))),
    Layout('voc21', 21, **VOC, reduce_zero_label=False,
           disk_classes=((0, 15, 20), (1, 7, 19))),
    Layout('context59', 59, **CONTEXT, label_file='SegmentationClassContext/{name}.png',
           ignore=255, reduce_zero_label=True, disk_classes=((1, 30, 59), (2, 40, 58))),
    Layout('context60', 60, **CONTEXT, label_file='SegmentationClassContext/{name}.png',
           ignore=255, reduce_zero_label=False, disk_classes=((0, 30, 59), (2, 40, 58))),
    Layout('context459', 459, **CONTEXT, label_file='SegmentationClassContext459/{name}.png',
           ignore=65535, reduce_zero_label=False,
           disk_classes=((0, 300, 458), (255, 256, 1))),
    Layout('coco_stuff', 171, image_file=COCO_IMAGE,
           label_file='annotations/val2017/{name}_labelTrainIds.png', split_file=None,
           ignore=255, reduce_zero_label=False, disk_classes=((0, 80, 170), (1, 100, 169)),
           names=('000000000139', '000000000285')),
    Layout('coco_object', 81, image_file=COCO_IMAGE,
           label_file='annotations/val2017/{name}_instanceTrainIds.png', split_file=None,
           ignore=255, reduce_zero_label=False, disk_classes=((0, 1, 80), (2, 40, 79)),
           names=('000000000139', '000000000285')),
    Layout('ade150', 150, **ADE, ignore=255, reduce_zero_label=True,
           disk_classes=((1, 75, 150), (2, 100, 149))),
    Layout('ade847', 847, **ADE, ignore=65535, reduce_zero_label=False,
           disk_classes=((0, 500, 846), (255, 256, 3))),
    Layout('cityscapes', 19, image_file='leftImg8bit/val/ulm/{name}_leftImg8bit.png',
           label_file='gtFine/val/ulm/{name}_gtFine_labelTrainIds.png', split_file=None,
           ignore=255, reduce_zero_label=False, disk_classes=((0, 10, 18), (1, 5, 17)),
           names=('ulm_000000_000019', 'ulm_000001_000019')),
]}


def disk_labels(layout: Layout, classes: Tuple[int, int, int]) -> np.ndarray:
    """A label map as stored: three column bands A, B, C under a band of ignored rows."""
    dtype = np.uint16 if layout.ignore > 255 else np.uint8
    labels = np.empty((HEIGHT, WIDTH), dtype)
    for columns, label in zip((COLUMNS_A, COLUMNS_B, COLUMNS_C), classes):
        labels[:, columns] = label
    labels[IGNORED_ROWS] = layout.ignore
    if layout.reduce_zero_label:
        labels[4:8] = 0  # background, which these benchmarks ignore
    return labels


def loaded_labels(layout: Layout, labels: np.ndarray) -> np.ndarray:
    """What the dataset must make of ``labels``: 0..num_classes - 1 and its ignore index."""
    labels = labels.astype(np.int64)
    if layout.reduce_zero_label:
        return np.where((labels == 0) | (labels == 255), 255, labels - 1)
    return labels


def write_label_map(path: str, labels: np.ndarray, voc_palette: bool) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    if labels.dtype == np.uint16:
        assert cv2.imwrite(path, labels)
        return
    image = Image.fromarray(labels, mode='P' if voc_palette else 'L')
    if voc_palette:  # VOC ships palette PNGs; the loader must read the indices
        image.putpalette([c for color in PascalVOCDataset.METAINFO['palette'] for c in color]
                         + [224, 224, 192] * 235)
    image.save(path)


def write_benchmark(layout: Layout, root: Path) -> List[np.ndarray]:
    """Write two images and their label maps under ``root``; return the label maps."""
    rng = np.random.default_rng(0)
    maps = []
    for name, classes in zip(layout.names, layout.disk_classes):
        image_path = osp.join(root, layout.image_file.format(name=name))
        os.makedirs(osp.dirname(image_path), exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)).save(image_path)
        labels = disk_labels(layout, classes)
        write_label_map(osp.join(root, layout.label_file.format(name=name)), labels,
                        voc_palette=layout.key.startswith('voc'))
        maps.append(labels)
    if layout.split_file:
        os.makedirs(osp.dirname(osp.join(root, layout.split_file)), exist_ok=True)
        Path(root, layout.split_file).write_text('\n'.join(layout.names) + '\n')
    return maps


def build_from_config(key: str, root: Path):
    """The test dataset and metric of ``configs/clipseg_vitb_<key>.py`` on ``root``."""
    cfg = Config.fromfile(str(REPO / 'configs' / f'clipseg_vitb_{key}.py'))
    cfg.test_dataloader.dataset.data_root = str(root)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    metric = METRICS.build(cfg.test_evaluator)
    metric.dataset_meta = dataset.metainfo
    return dataset, metric


def evaluate(dataset, metric, predictions: List[torch.Tensor]) -> Dict[str, float]:
    """Feed ``predictions`` (one (1, H, W) map per image) through the metric."""
    for index, prediction in enumerate(predictions):
        sample = dataset[index]['data_samples']
        sample.pred_sem_seg = PixelData(data=prediction)
        metric.process({}, [sample.to_dict()])
    return metric.evaluate(len(predictions))


@pytest.mark.parametrize('key', LAYOUTS)
def test_dataset_loads_labels_at_original_size(key, tmp_path):
    layout = LAYOUTS[key]
    disk_maps = write_benchmark(layout, tmp_path)
    dataset, _ = build_from_config(key, tmp_path)
    assert len(dataset) == 2
    assert len(dataset.metainfo['classes']) == layout.num_classes
    assert len(dataset.metainfo['palette']) == layout.num_classes
    for index, labels in enumerate(disk_maps):
        packed = dataset[index]
        # The image is resized to a short side of 448; the labels keep the original size.
        assert tuple(packed['inputs'].shape) == (3, 448, 560)
        loaded = packed['data_samples'].gt_sem_seg.data
        assert loaded.dtype == torch.int64
        np.testing.assert_array_equal(loaded[0].numpy(), loaded_labels(layout, labels))


@pytest.mark.parametrize('key', LAYOUTS)
def test_metric_on_ground_truth_and_on_a_known_error(key, tmp_path):
    layout = LAYOUTS[key]
    write_benchmark(layout, tmp_path)
    dataset, metric = build_from_config(key, tmp_path)
    truths = [dataset[index]['data_samples'].gt_sem_seg.data for index in range(2)]
    assert evaluate(dataset, metric, truths)['mIoU'] == 100.0

    wrong = []
    for truth in truths:
        prediction = truth.clone()
        class_a, class_b, class_c = (truth[0, HEIGHT - 1, columns.start]
                                     for columns in (COLUMNS_A, COLUMNS_B, COLUMNS_C))
        prediction[truth == class_c] = class_a  # every pixel of C is taken for A
        prediction[:, IGNORED_ROWS] = class_b  # ignored pixels do not count
        wrong.append(prediction)
    dataset, metric = build_from_config(key, tmp_path)
    result = evaluate(dataset, metric, wrong)
    # Per image, IoU(A) = 20 / (20 + 30) columns, IoU(B) = 1, IoU(C) = 0; six classes in all.
    assert result['mIoU'] == pytest.approx(100 * (0.4 + 1 + 0) / 3, abs=0.005)
    assert result['aAcc'] == 100 * 50 / 80


def test_16bit_loader_rejects_label_shifts(tmp_path):
    path = str(tmp_path / 'labels.png')
    cv2.imwrite(path, np.full((4, 5), 300, np.uint16))
    loader = TRANSFORMS.build(dict(type='LoadUInt16Annotations'))
    results = loader(dict(seg_map_path=path, seg_fields=[], reduce_zero_label=False))
    assert results['gt_seg_map'].dtype == np.uint16
    assert (results['gt_seg_map'] == 300).all()
    with pytest.raises(ValueError, match='reduce_zero_label'):
        loader(dict(seg_map_path=path, seg_fields=[], reduce_zero_label=True))


def test_16bit_loader_rejects_colour_images(tmp_path):
    path = str(tmp_path / 'colour.png')
    cv2.imwrite(path, np.zeros((4, 5, 3), np.uint8))
    loader = TRANSFORMS.build(dict(type='LoadUInt16Annotations'))
    with pytest.raises(ValueError, match='single-channel'):
        loader(dict(seg_map_path=path, seg_fields=[], reduce_zero_label=False))


def test_label_colormap_is_distinct_and_starts_like_voc():
    palette = label_colormap(847)
    assert len({tuple(color) for color in palette}) == 847
    # Labels 0, 1, 2 get VOC's colours of its classes 1, 2, 3.
    assert palette[:3] == PascalVOCDataset.METAINFO['palette'][1:4]
    assert [0, 0, 0] not in palette


# One benchmark per family (VOC, Pascal Context, COCO, ADE20K, Cityscapes), with the 16-bit
# label maps of Context-459 and ADE20K-847.
END_TO_END = ['voc21', 'context459', 'coco_object', 'ade847', 'cityscapes']


@pytest.mark.parametrize('key', END_TO_END)
def test_tools_test_runs_the_synthetic_benchmark(key, tmp_path):
    write_benchmark(LAYOUTS[key], tmp_path / 'data')
    test_main = runpy.run_path(str(REPO / 'tools' / 'test.py'))['main']
    work_dir = tmp_path / 'work_dir'
    test_main([
        str(REPO / 'configs' / f'clipseg_vitb_{key}.py'), '--data-root', str(tmp_path / 'data'),
        '--work-dir', str(work_dir), '--cfg-options',
        'model.clip.model_name=clipseg-test-tiny', 'model.clip.pretrained=None',
        # For speed: one prompt template, images at their size (64 x 80) instead of a short
        # side of 448, no dataloader workers.
        'model.decode_head.templates=[a photo of a {}.]',
        'test_dataloader.dataset.pipeline.1.scale=(2048,64)',
        'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False'])
    results = list(work_dir.glob('*/*.json'))
    assert len(results) == 1
    assert 0.0 <= json.loads(results[0].read_text())['mIoU'] <= 100.0
