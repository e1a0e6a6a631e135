"""Open-vocabulary decode head: per-name cosine logits and the peers' decision rule."""
import functools
import math
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from torch import Tensor

from ...class_names import ClassNamesSpec, load_class_names
from ...clip import CLIPConfig, TextEmbedder, load_clip, resolve_templates
from ...clip.templates import TemplatesSpec
from ...clip.text_encoder import TEXT_PRECISIONS
from ...utils.errors import UserInputError
from ..decision import (RunningArgmax, add_logsumexp, area_suppressed_classes,
                        running_class_max)
from ..settings import check_bool, check_choice, check_int, check_number
from .tensor_store import TensorStore
from .vocabulary import Vocabulary, check_vocabulary
# Vocabularies whose embeddings stay in memory (each also stays in the disk cache).
_MAX_KEPT_VOCABULARIES = 32
# Reads a chunk of names' cosine logits at the output size: (n, C) embeddings -> (n, H, W).
NameLogits = Callable[[Tensor], Tensor]


@MODELS.register_module()
class OpenVocabularyHead(BaseDecodeHead):
    """Classify unit-norm patch embeddings against CLIP text embeddings of class names.

    The peers' rule (METHOD.md, "Classification"): per-name logits ``F · Tᵀ`` (one embedding
    per name, synonyms included) are brought to the output resolution per name (by the
    segmentor, see :meth:`decide`); then ``p = softmax(logit_scale · logits)`` over all names;
    a class's probability is the max over its names'; label = argmax over classes (ties: the
    lowest class). With a background, pixels whose top probability is below ``prob_thd`` are
    0. Text embeddings are computed once per vocabulary (on first use, on the module's
    device), kept in memory and in the disk cache unless ``text_cache=False``.

    Args:
        class_names: A benchmark key (e.g. ``'voc21'``), a names file, or a list of classes
            (strings with comma-separated synonyms, or lists of synonyms).
        clip (dict): The CLIP model, as for the backbone; the text tower is shared with it.
        templates: A template-set name (default ``'openai_imagenet'``, 80 templates) or a list
            of strings with ``{}`` for the name.
        logit_scale (float): Multiplies the cosines before the softmax. Default: 50.
        background (str, optional): None (default): no background class. ``'text'``: class
            0 is the background and a text class, named by ``background_names`` or else by
            its own line of ``class_names``. ``'threshold'`` (the former rule, for ablation):
            class 0 is not encoded, the softmax runs over the foreground names only, and a
            pixel whose top probability is below ``prob_thd`` is 0.
        background_names: With ``background='text'``: the names of class 0 (a list, or one
            comma-separated string), e.g. SCLIP's 26 stuff names on VOC21.
        prob_thd (float): Pixels whose top class probability is below it get label 0; needs
            a background class. Default: 0.
        area_thd (float, optional): SCLIP's rule: a foreground class whose predicted area
            is not above this share of the predicted foreground is suppressed (its
            probability set to 0 and its pixels re-decided among the other classes); needs
            a background class. Default: None (off).
        text_cache (bool): Keep text embeddings in the on-disk cache. Default: True.
        text_batch_size (int): Prompts per text-tower pass.
        precision (str): ``'fp32'`` (default), ``'fp16'`` or ``'bf16'``: autocast of the text
            transformer on its device (CPU included); the segmentor passes the backbone's
            unless set. Embeddings of each precision are cached apart.
        **kwargs: Other :class:`BaseDecodeHead` arguments (``align_corners``, ...).
    """

    # Settings that were removed, with what replaced them (read by the tools' option checks).
    REMOVED_SETTINGS = {
        'bg_threshold': 'decode_head.bg_threshold is gone: use background="text" and prob_thd '
                        '(the peers\' rule), or background="threshold" and prob_thd (the former '
                        'rule).'}

    def __init__(self,
                 class_names: ClassNamesSpec,
                 clip: Dict[str, Any],
                 templates: TemplatesSpec = 'openai_imagenet',
                 logit_scale: float = 50.0,
                 background: Optional[str] = None,
                 background_names: Optional[Union[str, Sequence[str]]] = None,
                 prob_thd: float = 0.0,
                 area_thd: Optional[float] = None,
                 text_cache: bool = True,
                 text_batch_size: int = 1024,
                 precision: str = 'fp32',
                 **kwargs: Any) -> None:
        if class_names is None:
            raise UserInputError('decode_head.class_names is not set: give a benchmark key, a '
                                 'names file or a list of class names.')
        for name in set(kwargs) & set(self.REMOVED_SETTINGS):
            raise UserInputError(self.REMOVED_SETTINGS[name])
        self.logit_scale = check_number('logit_scale', logit_scale, 0.0, low_open=True,
                                        meaning='a finite number > 0 (the peers use 40-50)')
        self.prob_thd = check_number('prob_thd', prob_thd, 0.0, 1.0,
                                     meaning='a probability in [0, 1]')
        self.area_thd = None if area_thd is None else check_number(
            'area_thd', area_thd, 0.0, 1.0, low_open=True, high_open=True,
            meaning='a share of the predicted foreground in (0, 1), e.g. 0.1, or None')
        check_bool('text_cache', text_cache)
        check_int('text_batch_size', text_batch_size)
        check_choice('precision', precision, tuple(TEXT_PRECISIONS))
        vocabulary = self._make_vocabulary(class_names, templates, background,
                                           background_names)
        clip_config = CLIPConfig.from_value(clip)
        clip_model = load_clip(clip_config)
        embed_dim = clip_model.visual.proj.shape[1]
        num_classes = len(vocabulary.classes)
        # No weights to initialise and no loss: the classifier is the text embeddings.
        kwargs.setdefault('init_cfg', None)
        kwargs.setdefault('loss_decode', [])
        super().__init__(in_channels=embed_dim, channels=embed_dim, num_classes=num_classes,
                         out_channels=num_classes, **kwargs)
        # BaseDecodeHead's 1x1 classifier conv is not used.
        self.conv_seg = None
        self.dropout = None
        self.text_embedder = TextEmbedder(clip_model, clip_config.model_name,
                                          batch_size=text_batch_size, precision=precision)
        self.text_cache_identity = clip_config.weights_identity() if text_cache else None
        # Embeddings per vocabulary, as buffers so that they follow the module's device.
        self.text_store = TensorStore(_MAX_KEPT_VOCABULARIES)
        self.register_buffer('name_class_index', None, persistent=False)
        self._use_vocabulary(vocabulary)
        self.requires_grad_(False)  # a frozen CLIP text tower: nothing here trains

    def _make_vocabulary(self, class_names: ClassNamesSpec, templates: TemplatesSpec,
                         background: Optional[str],
                         background_names: Optional[Union[str, Sequence[str]]]) -> Vocabulary:
        classes = load_class_names(class_names)
        names = check_vocabulary(classes, background, background_names)
        if background is None and (self.prob_thd > 0 or self.area_thd is not None):
            raise UserInputError(
                f'prob_thd={self.prob_thd} / area_thd={self.area_thd} turn pixels into class '
                f'0, but there is no background class: set background="text" or '
                f'"threshold", or prob_thd=0 and area_thd=None.')
        return Vocabulary(tuple(classes), tuple(resolve_templates(templates)), background,
                          names)

    def _use_vocabulary(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary
        self.num_classes = self.out_channels = len(vocabulary.classes)
        self.name_class_index = torch.tensor(vocabulary.name_classes, dtype=torch.long,
                                             device=self.text_embedder.device)

    def set_vocabulary(self, class_names: ClassNamesSpec,
                       templates: Optional[TemplatesSpec] = None,
                       background: Optional[str] = None,
                       background_names: Optional[Union[str, Sequence[str]]] = None) -> None:
        """Switch to other classes without rebuilding the model.

        Embeddings of earlier vocabularies stay in memory (and on disk), so switching back
        encodes nothing. ``logit_scale``, ``prob_thd`` and ``area_thd`` stay as they are.

        Args:
            class_names: As for the constructor.
            templates: Template set or list; None keeps the current templates.
            background: As for the constructor (None: no background class).
            background_names: As for the constructor.
        """
        self._use_vocabulary(self._make_vocabulary(
            class_names, self.vocabulary.templates if templates is None else templates,
            background, background_names))

    @property
    def classes(self) -> List[Tuple[str, ...]]:
        """The dataset's classes in label order (class 0 is the background if any)."""
        return list(self.vocabulary.classes)

    @property
    def text_classes(self) -> List[Tuple[str, ...]]:
        """The names encoded as text, per text class."""
        return self.vocabulary.text_classes

    @property
    def templates(self) -> List[str]:
        return list(self.vocabulary.templates)

    @property
    def has_background(self) -> bool:
        return self.vocabulary.background is not None

    @property
    def num_names(self) -> int:
        """Names encoded as text, synonyms and background names included."""
        return len(self.name_class_index)

    def patch_features(self, inputs: Union[Sequence[Tensor], Tensor]) -> Tensor:
        """The backbone output this head classifies (the one at ``in_index``): (B, C, h, w),
        unit-norm along C."""
        return self._transform_inputs(inputs)

    def text_embeddings(self) -> Tuple[Tensor, Tensor]:
        """Name embeddings (num_names, C) and each name's label (num_names,), on the module's
        device; encoded (or read from the disk cache) once per vocabulary and precision."""
        key = (tuple(self.text_classes), self.vocabulary.templates,
               self.text_embedder.precision)
        embeddings = self.text_store.get(key)
        if embeddings is None:
            with torch.no_grad():
                embeddings, _ = self.text_embedder.class_embeddings(
                    self.text_classes, self.templates, self.text_cache_identity)
            # In the dtype the buffer would have had if it had existed when the module moved.
            weight = self.text_embedder.token_embedding.weight
            embeddings = self.text_store.put(key, embeddings.to(device=weight.device,
                                                                dtype=weight.dtype))
        return embeddings, self.name_class_index

    def forward(self, inputs: Union[Sequence[Tensor], Tensor]) -> Tensor:
        """Class scores whose argmax is the decision rule (:meth:`decide`) at patch
        resolution, for MMSeg's plain ``EncoderDecoder``.

        A class scores its probability from :meth:`decide` (the max over its names of
        ``softmax(logit_scale · cos)`` over all names, ``area_thd`` applied per image);
        where the rule labels a pixel 0 (``prob_thd``), class 0 scores the pixel's top
        probability, which wins the argmax as the first of equals.

        Args:
            inputs: Backbone outputs; the one at ``in_index`` has shape (B, C, h, w) and is
                unit-norm along C.

        Returns:
            Tensor: Shape (B, K, h, w), fp32, K = ``num_classes`` (background included).
        """
        scores = []
        for image_features in self.patch_features(inputs):
            labels, probabilities = self.decide(
                functools.partial(name_cosines, image_features), self.num_names,
                keep_probabilities=True)
            top = probabilities.amax(dim=0)
            probabilities[0] = torch.where(labels[0] == 0, top, probabilities[0])
            scores.append(probabilities)
        return torch.stack(scores)

    def decide(self, name_logits: NameLogits, chunk_size: int,
               keep_probabilities: bool = False) -> Tuple[Tensor, Optional[Tensor]]:
        """Labels by the decision rule, reading per-name logits a chunk of names at a time.

        Args:
            name_logits: Maps name embeddings (n, C) to their cosine logits at the output
                resolution, (n, H, W), after window averaging, resizing and any refinement;
                a new tensor on each call (it is scaled in place).
            chunk_size (int): Names per call of ``name_logits``.
            keep_probabilities (bool): Also return every class's probability.

        Returns:
            tuple: Labels (1, H, W), int64; and, if asked, per-class probabilities (K, H, W),
            fp32: the max over the class's names of the softmax over all names; 0 for a
            class that is not encoded (``background='threshold'``) or that ``area_thd``
            suppressed. Labels are their argmax except where ``prob_thd`` made them 0.
        """
        # The rule runs in fp32 whatever autocast surrounds it (e.g. MMEngine's
        # TestLoop(fp16=True)): per-name logits, softmax and thresholds decide labels.
        with torch.autocast(self.name_class_index.device.type, enabled=False):
            return self._decide(name_logits, chunk_size, keep_probabilities)

    def _decide(self, name_logits: NameLogits, chunk_size: int,
                keep_probabilities: bool) -> Tuple[Tensor, Optional[Tensor]]:
        embeddings, class_index = self.text_embeddings()
        best, log_normaliser, class_max = RunningArgmax(), None, None
        for start in range(0, len(class_index), chunk_size):
            scaled = name_logits(embeddings[start:start + chunk_size]).mul_(self.logit_scale)
            best.update(scaled, start)
            log_normaliser = add_logsumexp(log_normaliser, scaled)
            if keep_probabilities:
                class_max = running_class_max(class_max, scaled,
                                              class_index[start:start + chunk_size],
                                              self.num_classes)
        labels, top_logit = class_index[best.index], best.value
        if self.area_thd is not None:
            suppressed = area_suppressed_classes(labels, self.num_classes, self.area_thd)
            if suppressed[labels].any():
                labels, top_logit = self._decide_without(suppressed, name_logits, chunk_size,
                                                         top_logit)
            if class_max is not None:
                class_max[suppressed] = -math.inf
        if self.has_background:
            top_probability = torch.exp(top_logit - log_normaliser)
            labels = labels.masked_fill(top_probability < self.prob_thd, 0)
        if class_max is not None:  # in place: K x H x W may be large
            class_max = class_max.sub_(log_normaliser).exp_()
        return labels[None], class_max

    def _decide_without(self, suppressed: Tensor, name_logits: NameLogits, chunk_size: int,
                        like: Tensor) -> Tuple[Tensor, Tensor]:
        """Argmax over the names of the classes not ``suppressed`` (K,), as SCLIP's argmax
        after zeroing suppressed probabilities: labels (H, W) and the top scaled logit
        (H, W), shaped ``like``; where no such name exists (``background='threshold'`` with
        every foreground class suppressed) the label is 0 and the logit -inf."""
        embeddings, class_index = self.text_embeddings()
        allowed = ~suppressed[class_index]
        best = RunningArgmax()
        for start in range(0, len(class_index), chunk_size):
            stop = start + chunk_size
            if not allowed[start:stop].any():
                continue  # the names of suppressed classes need not be computed
            scaled = name_logits(embeddings[start:stop]).mul_(self.logit_scale)
            best.update(scaled.masked_fill_(~allowed[start:stop, None, None], -math.inf), start)
        if best.value is None:
            return like.new_zeros(like.shape, dtype=torch.long), torch.full_like(like, -math.inf)
        found = best.value > -math.inf
        return torch.where(found, class_index[best.index], 0), best.value

    def loss(self, *args: Any, **kwargs: Any) -> Dict[str, Tensor]:
        raise RuntimeError('OpenVocabularyHead is training-free: there is nothing to train.')


def name_cosines(features: Tensor, embeddings: Tensor) -> Tensor:
    """Cosines of unit patch features (C, h, w) and unit name embeddings (n, C):
    (n, h, w), fp32."""
    return torch.einsum('chw,nc->nhw', features.float(), embeddings.float())
