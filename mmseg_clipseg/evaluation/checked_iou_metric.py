"""mmseg's IoUMetric, with a warning for label values that it would drop without a word."""
import logging
from typing import Dict, Sequence

from mmengine.logging import print_log
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS


@METRICS.register_module()
class CheckedIoUMetric(IoUMetric):
    """:class:`~mmseg.evaluation.IoUMetric` that counts ground-truth pixels whose label is
    neither a class index (``0..K-1``) nor ``ignore_index``.

    IoUMetric's histograms drop such pixels silently, so a dataset converted for another
    benchmark (or with a wrong ``ignore_index``) would give a plausible but wrong mIoU. The
    metrics are unchanged; the count is reported as a warning.

    Its results keep mmseg's names (``mIoU``, ``aAcc``: what ``tools/results_table.py`` and
    MMSeg users read): the default prefix is empty, set rather than left unset, which
    mmengine warns about each time a metric is built. ``prefix=...`` still adds one.
    """

    default_prefix = ''

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        first = len(self.results)
        super().process(data_batch, data_samples)
        if self.format_only:
            return
        num_classes = len(self.dataset_meta['classes'])
        for index, data_sample in zip(range(first, len(self.results)), data_samples):
            label = data_sample['gt_sem_seg']['data']
            outside = (label != self.ignore_index) & ((label < 0) | (label >= num_classes))
            # Kept with the image's areas, so that it is gathered across processes too.
            self.results[index] = (*self.results[index], int(outside.sum()))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        outside = [result[4] for result in results]
        if any(outside):
            num_classes = len(self.dataset_meta['classes'])
            print_log(f'{sum(outside)} ground-truth pixels in {sum(map(bool, outside))} of '
                      f'{len(results)} images have labels outside 0..{num_classes - 1} and '
                      f'other than ignore_index={self.ignore_index}; they are not counted. Is '
                      'the dataset converted for this benchmark (docs/datasets.md)?',
                      logger='current', level=logging.WARNING)
        return super().compute_metrics([result[:4] for result in results])
