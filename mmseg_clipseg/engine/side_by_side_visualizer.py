"""``tools/test.py --show-dir`` pictures: image, ground truth and prediction side by side."""
from typing import Any, Optional

import mmcv
import numpy as np
from mmseg.registry import VISUALIZERS
from mmseg.structures import SegDataSample
from mmseg.visualization import SegLocalVisualizer

from ..apis.visualization import render_panels
from ..datasets.palette import palette_for


@VISUALIZERS.register_module()
class SideBySideVisualizer(SegLocalVisualizer):
    """mmseg's SegLocalVisualizer drawing, for each test image, the image, its ground truth
    and the prediction side by side under titles, enlarged when small so that the legend
    (classes of the prediction with their share of pixels) stays readable.

    The colours are the dataset's palette, or :func:`palette_for` of its classes without
    one: the colours ``tools/demo.py`` gives the same vocabulary. ``alpha`` is the weight of
    the label colours, as in :class:`SegLocalVisualizer` (default: the demo's 0.55).

    The panels are drawn by :func:`render_panels` rather than ``SegLocalVisualizer``'s own
    drawing, which darkens pixels without a class (ignore_index) instead of leaving them as
    they are, and writes class names in OpenCV's Hershey font: ASCII only, and scaled down
    with the image until it cannot be read on small ones. Showing, saving and the
    visualisation backends are ``SegLocalVisualizer``'s.
    """

    def __init__(self, name: str = 'visualizer', alpha: float = 0.55, **kwargs: Any) -> None:
        super().__init__(name=name, alpha=alpha, **kwargs)

    def add_datasample(self, name: str, image: np.ndarray,
                       data_sample: Optional[SegDataSample] = None, draw_gt: bool = True,
                       draw_pred: bool = True, show: bool = False, wait_time: float = 0,
                       out_file: Optional[str] = None, step: int = 0,
                       with_labels: bool = True) -> None:
        """Draw ``image`` (RGB, (H, W, 3)) with the label maps of ``data_sample`` and save
        or show it as :class:`SegLocalVisualizer` does."""
        classes = list(self.dataset_meta.get('classes') or [])
        palette = self.dataset_meta.get('palette')
        if data_sample is None or not classes:
            return super().add_datasample(name, image, data_sample, draw_gt, draw_pred,
                                          show, wait_time, out_file, step, with_labels)
        maps = []
        for wanted, key, title in ((draw_gt, 'gt_sem_seg', 'ground truth'),
                                   (draw_pred, 'pred_sem_seg', 'prediction')):
            if wanted and key in data_sample:
                maps.append((title, data_sample.get(key).data[0].cpu().numpy()))
        if not maps:
            return super().add_datasample(name, image, data_sample, draw_gt, draw_pred,
                                          show, wait_time, out_file, step, with_labels)
        if not palette or len(palette) != len(classes):
            palette = palette_for(classes)
        drawn = np.asarray(render_panels(image, maps, classes, palette, opacity=self.alpha))
        self.set_image(drawn)  # what get_image() returns, e.g. to MMSegInferencer
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(mmcv.rgb2bgr(drawn), out_file)
        else:
            self.add_image(name, drawn, step)
