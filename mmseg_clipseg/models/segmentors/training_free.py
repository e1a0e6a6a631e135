"""The training-free segmentor: CLIP backbone + text head under MMSeg's EncoderDecoder."""
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import ConfigType, OptConfigType, OptSampleList, SampleList
from torch import Tensor
from torch.profiler import record_function

from ...errors import UserInputError

Window = Tuple[int, int, int, int, int]  # image index, y1, y2, x1, x2
# Classes resized at a time when the full-resolution logits are not kept.
_CLASS_CHUNK = 32


def sliding_windows(height: int, width: int, crop: Tuple[int, int],
                    stride: Tuple[int, int]) -> List[Tuple[int, int, int, int]]:
    """Windows ``(y1, y2, x1, x2)`` covering an image, as MMSeg's slide inference places them:
    a regular grid with the last row and column shifted back inside the image (never dropped),
    and windows clipped to the image when it is smaller than the crop."""
    crop_h, crop_w = crop
    stride_h, stride_w = stride
    rows = max(height - crop_h + stride_h - 1, 0) // stride_h + 1
    cols = max(width - crop_w + stride_w - 1, 0) // stride_w + 1
    windows = []
    for row in range(rows):
        for col in range(cols):
            y2 = min(row * stride_h + crop_h, height)
            x2 = min(col * stride_w + crop_w, width)
            windows.append((max(y2 - crop_h, 0), y2, max(x2 - crop_w, 0), x2))
    return windows


def _image_box(inputs: Tensor, img_meta: Dict[str, Any]) -> Tuple[int, int, int, int]:
    """``(y1, y2, x1, x2)`` of an image inside a batch padded to one size."""
    left, right, top, bottom = img_meta.get('padding_size', (0, 0, 0, 0))
    return top, inputs.shape[-2] - bottom, left, inputs.shape[-1] - right


@MODELS.register_module()
class TrainingFreeSegmentor(EncoderDecoder):
    """Open-vocabulary segmentation with a frozen CLIP, no training (METHOD.md).

    An :class:`~mmseg.models.EncoderDecoder` whose backbone is
    :class:`~mmseg_clipseg.models.CLIPDenseBackbone` and whose head is
    :class:`~mmseg_clipseg.models.OpenVocabularyHead`; both share one CLIP model.

    Compared with ``EncoderDecoder``: windows (``slide``) and whole images (``whole``) of all
    images in a batch go through the backbone together, in chunks of
    ``test_cfg.crop_batch_size``; every image is processed at its own size, so a batch of
    images of different sizes gives the same results as one image at a time; and the
    background decision of the head is applied after the logits are resized to the original
    image.

    Args:
        backbone (dict): Backbone config; gets ``clip`` unless it sets its own.
        decode_head (dict): Head config; gets ``clip`` unless it sets its own.
        clip (dict): The CLIP model: ``model_name``, ``pretrained`` (tag, file or None),
            ``quick_gelu``, ``init_seed``.
        test_cfg (dict): ``mode`` (``'slide'`` or ``'whole'``), ``crop_size``, ``stride``,
            ``crop_batch_size`` (crops per backbone pass, default 8) and ``keep_seg_logits``
            (store full-resolution logits in the results, default True as in MMSeg).
        data_preprocessor (dict, optional): Usually
            :class:`~mmseg_clipseg.models.BatchPaddingSegDataPreProcessor`.
    """

    def __init__(self,
                 backbone: ConfigType,
                 decode_head: ConfigType,
                 clip: ConfigType,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 pretrained: Optional[str] = None,
                 **unsupported: Any) -> None:
        # mmseg's init_model sets both to None: an explicit "no training, no weights" is fine.
        refused = sorted(unsupported) + [
            name for name, value in (('train_cfg', train_cfg), ('pretrained', pretrained))
            if value is not None]
        if refused:
            raise UserInputError(f'TrainingFreeSegmentor is training-free and does not take '
                                 f'{refused}; the CLIP weights are set by model.clip.')
        backbone = dict(backbone)
        backbone.setdefault('clip', clip)
        decode_head = dict(decode_head)
        decode_head.setdefault('clip', clip)
        super().__init__(backbone=backbone, decode_head=decode_head, test_cfg=test_cfg,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        crop_batch_size = self.test_cfg.get('crop_batch_size', 8)
        if not isinstance(crop_batch_size, int) or crop_batch_size < 1:
            raise UserInputError(f'test_cfg.crop_batch_size must be a positive integer; '
                                 f'got {crop_batch_size!r}')
        self.crop_batch_size = crop_batch_size
        self.keep_seg_logits = bool(self.test_cfg.get('keep_seg_logits', True))

    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        raise RuntimeError('TrainingFreeSegmentor is training-free: there is nothing to '
                           'train. Run it with tools/test.py (no checkpoint needed).')

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """Text-class logits at the input's resolution.

        Args:
            inputs (Tensor): Images, shape (B, 3, H, W).
            batch_img_metas (list[dict]): Unused; kept for the EncoderDecoder interface.

        Returns:
            Tensor: Shape (B, K, H, W), K text classes.
        """
        features = self.extract_feat(inputs)
        with record_function('clipseg.head'):
            logits = self.decode_head(features)
        patch_h, patch_w = self.backbone.patch_size
        padded = (logits.shape[-2] * patch_h, logits.shape[-1] * patch_w)
        logits = F.interpolate(logits, size=padded, mode='bilinear',
                               align_corners=self.align_corners)
        return logits[..., :inputs.shape[-2], :inputs.shape[-1]]

    def _windows(self, inputs: Tensor, batch_img_metas: List[dict]) -> List[Window]:
        """All windows of all images, each within its image's unpadded area."""
        windows = []
        for index, img_meta in enumerate(batch_img_metas):
            top, bottom, left, right = _image_box(inputs, img_meta)
            if self.test_cfg.get('mode', 'whole') == 'slide':
                boxes = sliding_windows(bottom - top, right - left, self.test_cfg.crop_size,
                                        self.test_cfg.stride)
            else:
                boxes = [(0, bottom - top, 0, right - left)]
            windows.extend((index, y1 + top, y2 + top, x1 + left, x2 + left)
                           for y1, y2, x1, x2 in boxes)
        return windows

    def _window_chunks(self, windows: Sequence[Window]) -> Iterator[List[Window]]:
        """Windows of equal size, in chunks of at most ``crop_batch_size``."""
        by_size: Dict[Tuple[int, int], List[Window]] = {}
        for window in windows:
            _, y1, y2, x1, x2 = window
            by_size.setdefault((y2 - y1, x2 - x1), []).append(window)
        for group in by_size.values():
            for start in range(0, len(group), self.crop_batch_size):
                yield group[start:start + self.crop_batch_size]

    def inference(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """Logits of every image, averaged over overlapping windows.

        Args:
            inputs (Tensor): Images padded to one size, shape (B, 3, H, W).
            batch_img_metas (list[dict]): Image meta; ``padding_size`` marks each image's
                padding.

        Returns:
            Tensor: Text-class logits, shape (B, K, H, W); zero in padded areas.
        """
        mode = self.test_cfg.get('mode', 'whole')
        if mode not in ('slide', 'whole'):
            raise UserInputError(f'test_cfg.mode must be "slide" or "whole"; got {mode!r}')
        sums: Optional[Tensor] = None
        counts = inputs.new_zeros((inputs.shape[0], 1, *inputs.shape[-2:]))
        for chunk in self._window_chunks(self._windows(inputs, batch_img_metas)):
            crops = torch.stack([inputs[i, :, y1:y2, x1:x2] for i, y1, y2, x1, x2 in chunk])
            logits = self.encode_decode(crops, batch_img_metas)
            if sums is None:
                sums = inputs.new_zeros((inputs.shape[0], logits.shape[1],
                                         *inputs.shape[-2:]))
            for (i, y1, y2, x1, x2), crop_logits in zip(chunk, logits):
                sums[i, :, y1:y2, x1:x2] += crop_logits
                counts[i, :, y1:y2, x1:x2] += 1
        return sums / counts.clamp(min=1)

    # `slide_inference`/`whole_inference` are the EncoderDecoder entry points of the two
    # modes; both go through the batched `inference` above.
    def slide_inference(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        return self.inference(inputs, batch_img_metas)

    def whole_inference(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        return self.inference(inputs, batch_img_metas)

    def postprocess_result(self, seg_logits: Tensor,
                           data_samples: OptSampleList = None) -> SampleList:
        """Resize each image's logits to its original size, then label the pixels.

        Args:
            seg_logits (Tensor): Text-class logits, shape (B, K, H, W).
            data_samples (list[SegDataSample], optional): Samples with image meta.

        Returns:
            list[SegDataSample]: With ``pred_sem_seg`` (1, H0, W0) at the original size and,
            unless ``test_cfg.keep_seg_logits`` is False, ``seg_logits`` (K, H0, W0). Without
            them, the labels are computed a chunk of classes at a time, so that hundreds of
            classes at full resolution never sit in memory at once.
        """
        if data_samples is None:
            data_samples = [SegDataSample() for _ in range(seg_logits.shape[0])]
        for logits, data_sample in zip(seg_logits, data_samples):
            img_meta = data_sample.metainfo
            size = None
            if img_meta:
                top, bottom, left, right = _image_box(seg_logits, img_meta)
                logits = logits[:, top:bottom, left:right]
                if img_meta.get('flip', False):
                    dims = (2, ) if img_meta['flip_direction'] == 'horizontal' else (1, )
                    logits = logits.flip(dims=dims)
                size = img_meta['ori_shape']
            if self.keep_seg_logits:
                logits = self._resize(logits, size)
                data_sample.set_data({'seg_logits': PixelData(data=logits)})
                labels = self.decode_head.predict_labels(logits)
            else:
                labels = self.decode_head.labels_from_chunks(
                    self._resize(part, size) for part in logits.split(_CLASS_CHUNK))
            data_sample.set_data({'pred_sem_seg': PixelData(data=labels)})
        return data_samples

    def _resize(self, logits: Tensor, size: Optional[Tuple[int, int]]) -> Tensor:
        """Bilinear resize of (K, H, W) logits to ``size``; None keeps them as they are."""
        if size is None:
            return logits
        return F.interpolate(logits[None], size=size, mode='bilinear',
                             align_corners=self.align_corners)[0]
