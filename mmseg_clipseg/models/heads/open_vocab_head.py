"""Open-vocabulary decode head: cosine similarity of patch and class-name embeddings."""
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import torch
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from torch import Tensor

from ...class_names import ClassNamesSpec, load_class_names
from ...clip import CLIPConfig, TextEmbedder, load_clip, resolve_templates
from ...clip.templates import TemplatesSpec
from ...errors import UserInputError


@MODELS.register_module()
class OpenVocabularyHead(BaseDecodeHead):
    """Classify unit-norm patch embeddings against CLIP text embeddings of class names.

    ``logits = logit_scale · F · Tᵀ``; a class with synonyms scores the maximum over its names.
    Text embeddings are computed once (on the first forward, on the model's device) and kept,
    and also cached on disk unless ``text_cache=False``.

    Args:
        class_names: A benchmark key (e.g. ``'voc20'``), a names file, or a list of classes
            (strings with comma-separated synonyms, or lists of synonyms).
        clip (dict): The CLIP model, as for the backbone; the text tower is shared with it.
        templates: A template-set name (default ``'openai_imagenet'``, 80 templates) or a list
            of strings with ``{}`` for the name.
        logit_scale (float): Multiplies the cosine similarities. Default: 50.
        bg_threshold (float, optional): If set, class 0 is the background: it is not a text
            class, and a pixel whose highest foreground softmax probability is below this
            threshold is labelled 0.
        text_cache (bool): Keep text embeddings in the on-disk cache. Default: True.
        text_batch_size (int): Prompts per text-tower pass.
        **kwargs: Other :class:`BaseDecodeHead` arguments (``align_corners``, ...).
    """

    def __init__(self,
                 class_names: ClassNamesSpec,
                 clip: Dict[str, Any],
                 templates: TemplatesSpec = 'openai_imagenet',
                 logit_scale: float = 50.0,
                 bg_threshold: Optional[float] = None,
                 text_cache: bool = True,
                 text_batch_size: int = 1024,
                 **kwargs: Any) -> None:
        if class_names is None:
            raise UserInputError('decode_head.class_names is not set: give a benchmark key, a '
                                 'names file or a list of class names.')
        self.classes = load_class_names(class_names)
        self.has_background = bg_threshold is not None
        if self.has_background and len(self.classes) < 2:
            raise UserInputError('With bg_threshold set, class 0 is the background and at least '
                                 'one more class is needed.')
        if self.has_background and not 0.0 <= bg_threshold <= 1.0:
            raise UserInputError(f'bg_threshold is a probability in [0, 1]; got {bg_threshold}')
        clip_config = CLIPConfig.from_value(clip)
        clip_model = load_clip(clip_config)
        embed_dim = clip_model.visual.proj.shape[1]
        # No weights to initialise and no loss: the classifier is the text embeddings.
        kwargs.setdefault('init_cfg', None)
        kwargs.setdefault('loss_decode', [])
        super().__init__(in_channels=embed_dim, channels=embed_dim,
                         num_classes=len(self.classes), out_channels=len(self.classes),
                         **kwargs)
        # BaseDecodeHead's 1x1 classifier conv is not used.
        self.conv_seg = None
        self.dropout = None
        self.text_embedder = TextEmbedder(clip_model, clip_config.model_name,
                                          batch_size=text_batch_size)
        self.templates = resolve_templates(templates)
        self.logit_scale = float(logit_scale)
        self.bg_threshold = bg_threshold
        self.text_cache_identity = clip_config.weights_identity() if text_cache else None
        # Filled on first use; as buffers they follow the module's device and dtype, whether
        # they came from the text tower or from the disk cache. Not saved in checkpoints.
        self.register_buffer('name_embeddings', None, persistent=False)
        self.register_buffer('name_class_index', None, persistent=False)

    @property
    def text_classes(self) -> List[Tuple[str, ...]]:
        """The classes that are encoded as text (all but the background)."""
        return self.classes[1:] if self.has_background else self.classes

    def text_embeddings(self) -> Tuple[Tensor, Tensor]:
        """Name embeddings (num_names, C) and each name's text-class index (num_names,),
        on the module's device; computed (or read from the disk cache) on the first call and
        kept as buffers."""
        if self.name_embeddings is None:
            with torch.no_grad():
                embeddings, class_index = self.text_embedder.class_embeddings(
                    self.text_classes, self.templates, self.text_cache_identity)
            # In the dtype the buffer would have had if it had existed when the module moved.
            weight = self.text_embedder.token_embedding.weight
            self.name_embeddings = embeddings.to(device=weight.device, dtype=weight.dtype)
            self.name_class_index = class_index.to(weight.device)
        return self.name_embeddings, self.name_class_index

    def forward(self, inputs: Union[Sequence[Tensor], Tensor]) -> Tensor:
        """Text-class logits.

        Args:
            inputs: Backbone outputs; the one at ``in_index`` has shape (B, C, h, w) and is
                unit-norm along C.

        Returns:
            Tensor: Logits of the text classes, shape (B, K, h, w), K = number of text
            classes (the background, if any, is decided in :meth:`predict_labels`).
        """
        features = self._transform_inputs(inputs).float()
        embeddings, class_index = self.text_embeddings()
        logits = self.logit_scale * torch.einsum('bchw,nc->bnhw', features, embeddings.float())
        num_classes = len(self.text_classes)
        if logits.shape[1] == num_classes:
            return logits
        # Synonyms: a class scores the maximum over its names.
        index = class_index.view(1, -1, 1, 1).expand_as(logits)
        per_class = logits.new_full((logits.shape[0], num_classes, *logits.shape[2:]),
                                    float('-inf'))
        return per_class.scatter_reduce(1, index, logits, reduce='amax')

    def predict_labels(self, logits: Tensor) -> Tensor:
        """Per-pixel labels in the dataset's class indices.

        Args:
            logits (Tensor): Text-class logits, shape (K, H, W).

        Returns:
            Tensor: Labels, shape (1, H, W), int64; with a background class, text class k
            is label k + 1 and pixels whose top softmax probability is below
            ``bg_threshold`` are 0.
        """
        return self.labels_from_chunks([logits])

    def labels_from_chunks(self, chunks: Iterable[Tensor]) -> Tensor:
        """:meth:`predict_labels` over logits given as consecutive chunks of classes, each
        (K_i, H, W), so that all K classes need never be in memory at once."""
        best = best_index = log_normaliser = None
        offset = 0
        for chunk in chunks:
            chunk = chunk.float()
            value, index = chunk.max(dim=0, keepdim=True)
            index += offset
            chunk_normaliser = chunk.logsumexp(dim=0, keepdim=True)
            if best is None:
                best, best_index, log_normaliser = value, index, chunk_normaliser
            else:
                better = value > best  # ties keep the earlier class, as argmax does
                best = torch.where(better, value, best)
                best_index = torch.where(better, index, best_index)
                log_normaliser = torch.logaddexp(log_normaliser, chunk_normaliser)
            offset += chunk.shape[0]
        if not self.has_background:
            return best_index
        top_probability = torch.exp(best - log_normaliser)
        return torch.where(top_probability < self.bg_threshold, 0, best_index + 1)

    def loss(self, *args: Any, **kwargs: Any) -> Dict[str, Tensor]:
        raise RuntimeError('OpenVocabularyHead is training-free: there is nothing to train.')
