"""The training-free segmentor: CLIP backbone + text head under MMSeg's EncoderDecoder."""
import logging
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log
from mmengine.structures import PixelData
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import ConfigType, OptConfigType, OptSampleList, SampleList
from torch import Tensor
from torch.profiler import record_function

from ...class_names import ClassNamesSpec
from ...clip import shared_clip_models
from ...clip.templates import TemplatesSpec
from ...datasets.palette import palette_for
from ...utils.errors import UserInputError, shown_with_more
from .image_meta import Box, flip_dims_of, image_box, unpadded
from .test_settings import check_test_cfg
from .windows import (GridToPixels, ImageNameLogits, Size, WindowFeatures, equal_size_chunks,
                      sliding_windows)

# Default names per chunk: as many as keep one chunk's per-name maps below this many floats
# (32 MiB in fp32), whatever the number of classes.
_CHUNK_FLOATS = 2 ** 23


@MODELS.register_module()
class TrainingFreeSegmentor(EncoderDecoder):
    """Open-vocabulary segmentation with a frozen CLIP, no training (METHOD.md).

    An :class:`~mmseg.models.EncoderDecoder` whose backbone is
    :class:`~mmseg_clipseg.models.CLIPDenseBackbone` and whose head is
    :class:`~mmseg_clipseg.models.OpenVocabularyHead`; both share one CLIP model.

    Prediction (the peers' rule, METHOD.md "Classification"): the backbone runs once per
    window (``slide``) or per image (``whole``); windows of all images in a batch go through
    it together, in chunks of ``test_cfg.crop_batch_size``, and every image is processed at
    its own size (a batch gives the same results as one image at a time). Only the windows'
    patch features are kept; then, a chunk of names at a time, the per-name logits are
    upsampled bilinearly to each window, averaged over overlapping windows, resized to the
    original image (in ``whole`` mode straight from the patch grid), optionally refined by
    PAMR, and handed to :meth:`OpenVocabularyHead.decide`, which keeps a running max and
    log-sum-exp over the names. So memory grows with the chunk, not with the vocabulary.

    Args:
        backbone (dict): Backbone config; gets ``clip`` unless it sets its own. Its
            ``partial_patches`` decides the upsampling: ``'pad'`` (patch grid upsampled to
            the padded window, then cut) or ``'drop'`` (grid stretched over the window, as
            NACLIP's whole-image mode).
        decode_head (dict): Head config; gets ``clip`` and the backbone's ``precision``
            unless it sets its own.
        clip (dict): The CLIP model: ``model_name``, ``pretrained`` (tag, file or None),
            ``quick_gelu``, ``init_seed``.
        test_cfg (dict): ``mode`` (``'slide'`` or ``'whole'``), ``crop_size``, ``stride``,
            ``crop_batch_size`` (crops per backbone pass, default 8), ``keep_seg_logits``
            (default True, as in MMSeg: store every class's probability, (K, H, W), as
            ``seg_logits``; with False nothing of size K x H x W is ever built),
            ``name_chunk_size`` (names per chunk; default None: as many as keep one chunk's
            maps below 2^23 floats) and ``pamr`` (None, or ``dict(steps=10,
            dilations=(8, 16))`` to refine the per-name logits with PAMR as NACLIP does).
        data_preprocessor (dict, optional): Usually
            :class:`~mmseg_clipseg.models.BatchPaddingSegDataPreProcessor`.
        train_cfg, pretrained: Only None is accepted (MMSeg's ``init_model`` sets both).
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
        test_cfg = check_test_cfg(test_cfg)  # before the (slow) model load
        backbone = dict(backbone)
        backbone.setdefault('clip', clip)
        decode_head = dict(decode_head)
        decode_head.setdefault('clip', clip)
        decode_head.setdefault('precision', backbone.get('precision', 'fp32'))
        # The backbone and the head share one CLIP model; other segmentors get their own.
        with shared_clip_models():
            super().__init__(backbone=backbone, decode_head=decode_head, test_cfg=test_cfg,
                             data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.mode = test_cfg['mode']
        self.crop_batch_size = test_cfg['crop_batch_size']
        self.name_chunk_size = test_cfg['name_chunk_size']
        self.keep_seg_logits = test_cfg['keep_seg_logits']
        self.pamr = test_cfg['pamr']
        self._palette: Optional[List[List[int]]] = None
        # How the backbone's patch-grid maps become pixel maps: fixed once built.
        self.grid_to_pixels = GridToPixels(tuple(self.backbone.patch_size),
                                           self.partial_patches, self.align_corners)
        # Nothing here trains: without gradients no call builds an autograd graph, and a
        # distributed run needs no gradient buckets (configs/_base_/default_runtime.py wraps
        # the model in TestOnlyModelWrapper instead of DDP).
        self.requires_grad_(False)
        self.register_load_state_dict_pre_hook(_refuse_foreign_state_dict)

    @property
    def dataset_meta(self) -> Dict[str, Any]:
        """``classes`` (each class's first name) and ``palette``, as MMSeg's inferencer and
        visualiser read them; they follow the vocabulary (see :meth:`set_vocabulary`)."""
        classes = [names[0] for names in self.decode_head.classes]
        return dict(classes=classes,
                    palette=self._palette or palette_for(self.decode_head.classes))

    @dataset_meta.setter
    def dataset_meta(self, meta: Optional[Mapping[str, Any]]) -> None:
        """Take another palette for the same classes; other classes are not taken.

        MMSeg's ``MMSegInferencer`` and ``init_model`` set Cityscapes' classes on a model
        loaded without a checkpoint; the classes of this segmentor are its vocabulary."""
        meta = dict(meta or {})
        given, own = list(meta.get('classes') or []), self.dataset_meta['classes']
        if given != own:
            print_log(f'dataset_meta names {len(given)} classes ({given[:2]}...), not the '
                      f'segmentor\'s {len(own)} ({own[:2]}...): the segmentor keeps its own. '
                      'Change the classes with set_vocabulary.', logger='current',
                      level=logging.WARNING)
            return
        palette = meta.get('palette')
        self._palette = None if palette is None else [list(color) for color in palette]

    @property
    def partial_patches(self) -> str:
        """How the backbone treats pixels past the last full patch (``'pad'`` | ``'drop'``)."""
        return getattr(self.backbone, 'partial_patches', 'pad')

    def set_vocabulary(self, class_names: ClassNamesSpec,
                       templates: Optional[TemplatesSpec] = None,
                       background: Optional[str] = None,
                       background_names: Optional[Sequence[str]] = None) -> None:
        """Switch the classes without rebuilding the model; see
        :meth:`OpenVocabularyHead.set_vocabulary`."""
        self.decode_head.set_vocabulary(class_names, templates, background, background_names)
        self.num_classes = self.out_channels = self.decode_head.num_classes
        self._palette = None

    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        raise RuntimeError('TrainingFreeSegmentor is training-free: there is nothing to '
                           'train. Run it with tools/test.py (no checkpoint needed).')

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """The head's class scores (the rule at patch resolution, as plain
        ``EncoderDecoder`` uses it), upsampled to the input.

        Args:
            inputs (Tensor): Images, shape (B, 3, H, W).
            batch_img_metas (list[dict]): Unused; kept for the EncoderDecoder interface.

        Returns:
            Tensor: Shape (B, K, H, W).
        """
        scores = self.decode_head(self.extract_feat(inputs))
        size = tuple(inputs.shape[-2:])
        return self.grid_to_pixels.fit_to_window(scores, size, size)

    def _boxes(self, height: int, width: int) -> List[Box]:
        """The windows of an image of ``height`` x ``width`` pixels."""
        if self.mode == 'slide':
            return sliding_windows(height, width, self.test_cfg.crop_size,
                                   self.test_cfg.stride)
        return [(0, height, 0, width)]

    def window_features(self, images: Sequence[Tensor]) -> List[WindowFeatures]:
        """Run the backbone on every window of every image, windows of equal size batched.

        Args:
            images: Normalised images, each (3, H_i, W_i).

        Returns:
            list: Per image, its windows in placement order: (box, features (C, h, w)).
        """
        jobs = [(index, box) for index, image in enumerate(images)
                for box in self._boxes(*image.shape[-2:])]
        per_image: List[WindowFeatures] = [[] for _ in images]
        for chunk in equal_size_chunks(jobs, self.crop_batch_size):
            crops = torch.stack([images[index][:, y1:y2, x1:x2]
                                 for index, (y1, y2, x1, x2) in chunk])
            features = self.decode_head.patch_features(self.extract_feat(crops))
            for (index, box), window_features in zip(chunk, features):
                per_image[index].append((box, window_features))
        return per_image

    def segment(self, image: Tensor, windows: WindowFeatures, out_size: Size,
                flip_dims: Tuple[int, ...] = (),
                keep_probabilities: bool = False) -> Tuple[Tensor, Optional[Tensor]]:
        """Labels of one image by the head's decision rule.

        Args:
            image (Tensor): The normalised image, (3, H, W) (for PAMR).
            windows: Its windows and their features, from :meth:`window_features`.
            out_size: (H0, W0) of the result.
            flip_dims: Dims to flip back (the test-time flip of the image).
            keep_probabilities: Also return every class's probability.

        Returns:
            tuple: Labels (1, H0, W0), int64, and per-class probabilities (K, H0, W0) or None.
        """
        logits = ImageNameLogits.of_image(self.grid_to_pixels, image, windows, out_size,
                                          self.mode == 'whole', flip_dims, self.pamr)
        chunk_size = self.name_chunk_size or self._default_chunk_size(logits.image_size,
                                                                      logits.out_size)
        with record_function('clipseg.head'):
            return self.decode_head.decide(logits, chunk_size, keep_probabilities)

    def _default_chunk_size(self, image_size: Size, out_size: Size) -> int:
        """Names per chunk such that a chunk's maps stay below ``_CHUNK_FLOATS`` floats, the
        names split into chunks of (nearly) equal size."""
        pixels = max(image_size[0] * image_size[1], out_size[0] * out_size[1])
        num_names = self.decode_head.num_names
        num_chunks = -(-num_names // max(1, _CHUNK_FLOATS // pixels))
        return -(-num_names // num_chunks)

    def predict(self, inputs: Tensor, data_samples: OptSampleList = None) -> SampleList:
        """Labels at each image's original size.

        Args:
            inputs (Tensor): Images padded to one size, shape (B, 3, H, W).
            data_samples (list[SegDataSample], optional): Samples with image meta;
                ``padding_size`` marks each image's padding, ``ori_shape`` its original size.

        Returns:
            list[SegDataSample]: With ``pred_sem_seg`` (1, H0, W0) and, unless
            ``test_cfg.keep_seg_logits`` is False, ``seg_logits``: every class's probability
            (K, H0, W0) (see :meth:`OpenVocabularyHead.decide`).
        """
        if data_samples is None:
            data_samples = [SegDataSample(metainfo=dict(ori_shape=tuple(inputs.shape[2:])))
                            for _ in range(inputs.shape[0])]
        metas = [sample.metainfo for sample in data_samples]
        images = [unpadded(inputs, index, meta) for index, meta in enumerate(metas)]
        features = self.window_features(images)
        for image, windows, sample in zip(images, features, data_samples):
            meta = sample.metainfo
            flip_dims = flip_dims_of(meta)
            out_size = tuple(meta.get('ori_shape', image.shape[-2:]))[:2]
            labels, probabilities = self.segment(image, windows, out_size, flip_dims,
                                                 self.keep_seg_logits)
            sample.set_data({'pred_sem_seg': PixelData(data=labels)})
            if probabilities is not None:
                sample.set_data({'seg_logits': PixelData(data=probabilities)})
        return data_samples

    def inference(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """Every class's probability by the decision rule, at the input's resolution
        (:meth:`predict` resizes the per-name logits to the original size instead).

        Args:
            inputs (Tensor): Images padded to one size, shape (B, 3, H, W).
            batch_img_metas (list[dict]): Image meta; ``padding_size`` marks the padding.

        Returns:
            Tensor: Shape (B, K, H, W); zero in padded areas.
        """
        images = [unpadded(inputs, index, meta)
                  for index, meta in enumerate(batch_img_metas)]
        probabilities = inputs.new_zeros((inputs.shape[0], self.decode_head.num_classes,
                                          *inputs.shape[-2:]))
        for index, (image, windows) in enumerate(zip(images, self.window_features(images))):
            top, bottom, left, right = image_box(inputs, batch_img_metas[index])
            _, image_probabilities = self.segment(image, windows, tuple(image.shape[-2:]),
                                                  keep_probabilities=True)
            probabilities[index, :, top:bottom, left:right] = image_probabilities
        return probabilities

    # `slide_inference`/`whole_inference` are the EncoderDecoder entry points of the two
    # modes; both go through the batched `inference` above.
    def slide_inference(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        return self.inference(inputs, batch_img_metas)

    def whole_inference(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        return self.inference(inputs, batch_img_metas)


def _refuse_foreign_state_dict(module: torch.nn.Module, state_dict: Mapping[str, Tensor],
                               prefix: str, *args: Any) -> None:
    """Refuse weights that are not this segmentor's (e.g. CLIP's own file given to
    ``mmseg.apis.init_model(config, checkpoint=...)``): nothing here is trained, and the CLIP
    weights are set by ``model.clip.pretrained``."""
    own = tuple(f'{prefix}{name}.' for name, _ in module.named_children())
    foreign = [key for key in state_dict if key.startswith(prefix) and not key.startswith(own)]
    if foreign:
        keys = shown_with_more(list(map(repr, foreign)), 1, 'such keys')
        raise UserInputError(
            f'The checkpoint is not a checkpoint of TrainingFreeSegmentor (it holds {keys}). '
            'Nothing here is trained: give no checkpoint, and set CLIP\'s weights with '
            'model.clip.pretrained (a tag or a file), e.g. '
            'init_model(config, cfg_options={"model.clip.pretrained": PATH}).')
