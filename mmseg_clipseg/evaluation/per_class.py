"""Per-class IoU of a built model on a built test loader, with the config's own metric.

Shared by the tools that evaluate several variants in one process
(``tools/compare_dense_modes.py``, ``tools/ablate.py``): they build a runner with
:func:`quiet_runner` and call :func:`per_class_iou` per variant, instead of ``runner.test()``
which only logs the means.
"""
import tempfile
from typing import Any, Dict, List, Mapping, Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS

from ..apis.progress import Progress
from ..datasets.synthetic_scenes import SHAPE_CLASSES, STUFF_CLASSES
from ..engine.loader_settings import FittedLoaderRunner
from ..models.segmentors import keep_labels_only


def quiet_runner(cfg: Config, work_dir: Optional[str] = None, prefix: str = 'eval_') -> Runner:
    """An mmengine runner for ``cfg`` that logs only warnings and draws nothing, working in
    ``work_dir`` (default: a new temporary folder named with ``prefix``), its data loader
    fitted to the machine, keeping labels only."""
    keep_labels_only(cfg)
    cfg.work_dir = work_dir or tempfile.mkdtemp(prefix=prefix)
    cfg.log_level = 'WARNING'
    cfg.default_hooks.pop('visualization', None)
    return FittedLoaderRunner.from_cfg(cfg)


def per_class_iou(model: torch.nn.Module, dataloader: Any, evaluator: Mapping[str, Any],
                  progress: Optional[Progress] = None) -> Dict[str, List]:
    """Run ``model.test_step`` over ``dataloader`` and score it with ``evaluator``.

    Args:
        model: The segmentor (``test_step`` takes a loader batch).
        dataloader: The test loader; its dataset's ``metainfo`` names the classes.
        evaluator (dict): The metric config (``cfg.test_evaluator``: mmseg's IoUMetric or a
            subclass whose results start with IoUMetric's four areas).
        progress: Counts the images as they are done.

    Returns:
        dict: ``classes`` (names) and ``iou`` (percent per class; NaN for a class absent from
        both predictions and labels).
    """
    metric = METRICS.build(dict(evaluator))
    metric.dataset_meta = dataloader.dataset.metainfo
    model.eval()
    with torch.no_grad():
        for batch in dataloader:
            outputs = model.test_step(batch)
            metric.process(batch, [output.to_dict() for output in outputs])
            if progress is not None:
                progress.update(len(outputs))
    # Intersection, union, prediction and label areas per image (a subclass may add more).
    totals = [sum(areas) for areas in zip(*(result[:4] for result in metric.results))]
    per_class = IoUMetric.total_area_to_metrics(*totals, metrics=['mIoU'])['IoU']
    return dict(classes=list(metric.dataset_meta['classes']),
                iou=(100.0 * np.asarray(per_class, dtype=np.float64)).tolist())


def iou_summaries(classes: List[str], iou: List[float]) -> Dict[str, float]:
    """mIoU (the mean over classes that occur), and for the synthetic benchmark the means
    over its stuff and its shape classes."""
    values = np.array(iou, dtype=np.float64)
    out = dict(mIoU=float(np.nanmean(values)))
    if set(classes) == set(STUFF_CLASSES) | set(SHAPE_CLASSES):
        for key, group in (('stuff mIoU', STUFF_CLASSES), ('shape mIoU', SHAPE_CLASSES)):
            out[key] = float(np.nanmean([values[classes.index(name)] for name in group]))
    return out
