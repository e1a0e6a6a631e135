"""A frozen CLIP ViT that outputs text-aligned patch embeddings (METHOD.md)."""
import contextlib
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from mmseg.utils import OptConfigType
from torch import Tensor
from torch.profiler import record_function

from ...clip import CLIPConfig, load_clip
from ..dense import (CRA_FEATURES, CRA_MIXES, DSI_VALUE_PATHS, attention_mix, check_cra_layers,
                     clearclip_block, clearclip_qk_block, coherence_attention,
                     coherence_similarity, dsi_value, maskclip_block, naclip_block, sclip_block,
                     vanilla_block)
from ...utils.errors import UserInputError
from ..dense.projections import project_key, project_query
from ..settings import check_choice, check_int, check_number, with_defaults
from .positional import POS_INTERPOLATIONS, interpolate_positional_embedding

DENSE_MODES = ('clipseg', 'maskclip', 'sclip', 'clearclip', 'clearclip_qk', 'naclip', 'vanilla')
ATTENTIONS = ('cra', 'identity')
PRECISIONS = {'fp32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}
PARTIAL_PATCHES = ('pad', 'drop')
# Attention over more patches than this (e.g. a 6000x6000 image as one window) needs more
# memory than any device has: such inputs are refused with a hint instead of an allocation
# failure deep inside.
MAX_TOKENS = 128 * 128
CRA_DEFAULTS = dict(layers=None, feature='residual', threshold=0.75, temperature=6.0,
                    mix='none', mix_weight=0.5)
DSI_DEFAULTS = dict(num_layers=3, value_path='own')


@MODELS.register_module()
class CLIPDenseBackbone(BaseModule):
    """CLIP ViT image tower whose final block is rebuilt for dense prediction.

    Blocks ``1..L-1`` run unchanged; the final block is replaced according to ``dense_mode``
    (``'clipseg'``: CRA attention times DSI value; or one of the baselines ``'maskclip'``,
    ``'sclip'``, ``'clearclip'`` (q-q, the paper's), ``'clearclip_qk'`` (q-k, as ClearCLIP's
    repository ships it), ``'naclip'``, ``'vanilla'``). The patch outputs go through
    ``ln_post`` and ``proj`` and are L2-normalised.

    Args:
        clip (dict): The CLIP model, see :class:`~mmseg_clipseg.clip.CLIPConfig`
            (``model_name``, ``pretrained``, ``quick_gelu``, ``init_seed``). Loaded once per
            process and shared with the text head.
        dense_mode (str): Which final block to use. Default: ``'clipseg'``.
        attention (str): In ``'clipseg'`` mode, ``'cra'`` (default) or ``'identity'``
            (each patch keeps its own value: the "DSI only" ablation).
        cra (dict, optional): CRA knobs: ``layers`` (1-indexed blocks; None: the middle
            third), ``feature`` (``'residual'`` | ``'key'`` | ``'query'``), ``threshold``
            (ε, default 0.75), ``temperature`` (τ, default 6.0), ``mix`` (``'none'``
            (default) | ``'kk'`` | ``'qq'``: blend in the final block's own key-key or
            query-query attention) and ``mix_weight`` (its weight w, default 0.5).
        dsi (dict, optional): DSI knobs: ``num_layers`` (K, default 3; 1 is the "CRA only"
            ablation) and ``value_path`` (``'own'`` | ``'final'``).
        precision (str): ``'fp32'`` (default), or ``'fp16'`` / ``'bf16'``: the blocks run
            under autocast to that dtype, on any device (CUDA, or CPU autocast). Each step
            that decides something sets its own precision: CRA's similarity product runs in
            fp16 (unit rows keep it in [-1, 1], and fp16 has 3 more mantissa bits than bf16),
            its mask, softmax and ``Attn · V`` in fp32, the baselines' self-similarity
            logits and softmaxes in fp32, ``ln_post``/``proj``/normalisation in fp32.
        partial_patches (str): Pixels past the last full patch: ``'pad'`` (default; padded
            with zeros into one more patch) or ``'drop'`` (ignored, as NACLIP's whole-image
            mode; the segmentor then stretches the logits over the image).
        pos_interpolation (str): Positional embeddings for another patch grid: ``'size'``
            (default; bicubic to the grid) or ``'naclip'`` (bicubic with
            ``scale_factor = (n + 0.1) / grid``, as NACLIP).
        init_cfg (dict, optional): Unused; the weights come from ``clip``.
    """

    def __init__(self,
                 clip: Dict[str, Any],
                 dense_mode: str = 'clipseg',
                 attention: str = 'cra',
                 cra: Optional[Dict[str, Any]] = None,
                 dsi: Optional[Dict[str, Any]] = None,
                 precision: str = 'fp32',
                 partial_patches: str = 'pad',
                 pos_interpolation: str = 'size',
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_choice('dense_mode', dense_mode, DENSE_MODES)
        check_choice('attention', attention, ATTENTIONS)
        check_choice('precision', precision, tuple(PRECISIONS))
        check_choice('partial_patches', partial_patches, PARTIAL_PATCHES)
        check_choice('pos_interpolation', pos_interpolation, POS_INTERPOLATIONS)
        # Validate every knob before the (possibly slow) model load.
        cra = with_defaults('cra', cra, CRA_DEFAULTS)
        check_choice('cra.feature', cra['feature'], CRA_FEATURES)
        check_choice('cra.mix', cra['mix'], CRA_MIXES)
        self.cra_threshold = check_number('cra.threshold (a cosine distance)',
                                          cra['threshold'], 0.0, 2.0)
        self.cra_temperature = check_number('cra.temperature', cra['temperature'], 0.0,
                                            low_open=True)
        self.cra_mix_weight = check_number('cra.mix_weight', cra['mix_weight'], 0.0, 1.0)
        self.cra_feature = cra['feature']
        self.cra_mix = cra['mix']
        dsi = with_defaults('dsi', dsi, DSI_DEFAULTS)
        check_choice('dsi.value_path', dsi['value_path'], DSI_VALUE_PATHS)
        self.dsi_value_path = dsi['value_path']

        self.clip_config = CLIPConfig.from_value(clip)
        self.visual = load_clip(self.clip_config).visual
        self.dense_mode = dense_mode
        self.attention = attention
        self.precision = precision
        self.partial_patches = partial_patches
        self.pos_interpolation = pos_interpolation
        num_layers = len(self.blocks)
        self.cra_layers = check_cra_layers(cra['layers'], num_layers)
        self.dsi_num_layers = check_int('dsi.num_layers', dsi['num_layers'], 1, num_layers)
        self.requires_grad_(False)  # a frozen CLIP: no call builds an autograd graph

    @property
    def blocks(self) -> torch.nn.ModuleList:
        return self.visual.transformer.resblocks

    @property
    def patch_size(self) -> Tuple[int, int]:
        return tuple(self.visual.patch_size)

    @property
    def embed_dim(self) -> int:
        """Channels of the output: CLIP's joint image-text embedding size."""
        return self.visual.proj.shape[1]

    def interpolated_positional_embedding(self, grid: Tuple[int, int]) -> Tensor:
        """Positional embedding for a ``grid`` of patches, bicubically interpolated.

        Returns:
            Tensor: Shape (1 + h*w, D), the ``[CLS]`` position first.
        """
        return interpolate_positional_embedding(self.visual.positional_embedding,
                                                self.visual.grid_size, grid,
                                                self.pos_interpolation)

    def embed(self, inputs: Tensor) -> Tuple[Tensor, Tuple[int, int]]:
        """Patch embedding, ``[CLS]``, positions and ``ln_pre``: ``X_0``.

        Args:
            inputs (Tensor): Normalised images, shape (B, 3, H, W). H and W are padded
                (bottom, right) up to multiples of the patch size, or cut down to them when
                ``partial_patches='drop'``.

        Returns:
            tuple: ``X_0`` of shape (B, 1 + h*w, D), and the patch grid (h, w).
        """
        inputs = self.fit_to_patches(inputs)
        x = self.visual.conv1(inputs.to(self.visual.conv1.weight.dtype))
        grid = (x.shape[-2], x.shape[-1])
        x = x.flatten(2).transpose(1, 2)
        cls_token = self.visual.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls_token, x], dim=1)
        x = x + self.interpolated_positional_embedding(grid).to(x.dtype)
        x = self.visual.patch_dropout(x)
        return self.visual.ln_pre(x), grid

    def fit_to_patches(self, inputs: Tensor) -> Tensor:
        """Pad (bottom, right) or cut images to whole patches, as ``partial_patches`` says.

        Args:
            inputs (Tensor): Shape (B, 3, H, W).

        Returns:
            Tensor: Shape (B, 3, H', W'), H' and W' multiples of the patch size.
        """
        patch_h, patch_w = self.patch_size
        height, width = inputs.shape[-2:]
        if self.partial_patches == 'drop':
            if height < patch_h or width < patch_w:
                raise UserInputError(f'An input of {height}x{width} pixels holds no whole '
                                     f'{patch_h}x{patch_w} patch; use partial_patches="pad".')
            size = (height - height % patch_h, width - width % patch_w)
        else:
            size = (height + -height % patch_h, width + -width % patch_w)
        tokens = size[0] // patch_h * (size[1] // patch_w)
        if tokens > MAX_TOKENS:
            raise UserInputError(
                f'An input of {height}x{width} pixels is {tokens} patches in one window; '
                f'attention over more than {MAX_TOKENS} needs more memory than a device has. '
                'Use sliding windows (test_cfg.mode="slide") or resize the image.')
        if self.partial_patches == 'drop':
            return inputs[..., :size[0], :size[1]]
        if size == (height, width):
            return inputs
        return F.pad(inputs, (0, size[1] - width, 0, size[0] - height))

    def _cra_feature(self, layer: int, x: Tensor) -> Tensor:
        """Layer ``layer``'s CRA feature from ``X_layer`` (all tokens): (B, N, D)."""
        if self.cra_feature == 'key':
            x = project_key(self.blocks[layer], x)  # blocks[layer] is block layer + 1
        elif self.cra_feature == 'query':
            x = project_query(self.blocks[layer], x)
        return x[:, 1:]

    def _run_to_final_block(self, x: Tensor) -> Tuple[Tensor, Dict[int, Tensor], List[Tensor]]:
        """Run blocks ``1..L-1`` and keep what the final block needs.

        Returns:
            tuple: ``X_{L-1}`` (B, T, D); CRA features by layer, each (B, N, D); and the DSI
            inputs ``X_{L-K}..X_{L-1}`` (patch tokens), each (B, N, D).
        """
        num_layers = len(self.blocks)
        clipseg = self.dense_mode == 'clipseg'
        cra_layers = set(self.cra_layers) if clipseg and self.attention == 'cra' else set()
        first_dsi_input = num_layers - self.dsi_num_layers
        cra_features: Dict[int, Tensor] = {}
        dsi_inputs: List[Tensor] = []
        for index in range(num_layers):  # x is X_index here
            if clipseg and index >= first_dsi_input:
                dsi_inputs.append(x[:, 1:])
            if index in cra_layers:
                cra_features[index] = self._cra_feature(index, x)
            if index == num_layers - 1:
                break
            x = self.blocks[index](x)
        return x, cra_features, dsi_inputs

    def _clipseg_block(self, x: Tensor, cra_features: Dict[int, Tensor],
                       dsi_inputs: List[Tensor]) -> Tensor:
        """``O = Attn_CRA · V_DSI`` for the patch tokens: (B, N, D).

        Args:
            x (Tensor): ``X_{L-1}``, all tokens, (B, 1 + N, D); used by ``cra.mix``.
        """
        with record_function('clipseg.dsi'):
            value = dsi_value(self.blocks[len(self.blocks) - self.dsi_num_layers:],
                              dsi_inputs, self.dsi_value_path)
        if self.attention == 'identity':
            return value
        with record_function('clipseg.cra'), _autocast_off(value.device):
            # Autocast is off: each step below runs in the dtype it names. Under half
            # precision the similarity product (the costly part) runs in fp16, also under
            # bf16 (autocast would re-cast it to bf16's 8-bit mantissa, deciding the ε-mask
            # on coarser cosines). Masking, softmax and Attn · V run in fp32.
            similarity = coherence_similarity(
                [cra_features[layer] for layer in self.cra_layers],
                compute_dtype=torch.float16 if self.precision != 'fp32' else None)
            attention = coherence_attention(similarity, self.cra_threshold,
                                            self.cra_temperature)
            if self.cra_mix != 'none':
                final = self.blocks[-1]
                project = project_key if self.cra_mix == 'kk' else project_query
                own = attention_mix(project(final, x.float())[:, 1:], final.attn.num_heads)
                attention = torch.lerp(attention, own, self.cra_mix_weight)
            return attention @ value.float()

    def _baseline_block(self, x: Tensor, grid: Tuple[int, int]) -> Tensor:
        """The baseline final block on all tokens, ``[CLS]`` dropped: (B, N, D)."""
        final = self.blocks[-1]
        if self.dense_mode == 'naclip':
            return naclip_block(final, x, grid)[:, 1:]
        block_fn = dict(maskclip=maskclip_block, sclip=sclip_block, clearclip=clearclip_block,
                        clearclip_qk=clearclip_qk_block, vanilla=vanilla_block)[self.dense_mode]
        return block_fn(final, x)[:, 1:]

    def _autocast(self, device: torch.device) -> contextlib.AbstractContextManager:
        """Autocast to ``precision`` on the input's device (CPU autocast included); off for
        fp32, so that an outer autocast does not change the model's precision."""
        if self.precision == 'fp32':
            return _autocast_off(device)
        return torch.autocast(device.type, dtype=PRECISIONS[self.precision])

    def forward(self, inputs: Tensor) -> Tuple[Tensor]:
        """Dense, text-aligned patch embeddings.

        Args:
            inputs (Tensor): Normalised images, shape (B, 3, H, W).

        Returns:
            tuple[Tensor]: One tensor of shape (B, C, h, w), unit-norm along C, where C is
            CLIP's embedding size and (h, w) = (ceil(H/p), ceil(W/p)) for the patch size p
            (floor with ``partial_patches='drop'``).
        """
        with record_function('clipseg.backbone'), self._autocast(inputs.device):
            x, grid = self.embed(inputs)
            x, cra_features, dsi_inputs = self._run_to_final_block(x)
            if self.dense_mode == 'clipseg':
                patches = self._clipseg_block(x, cra_features, dsi_inputs)
            else:
                patches = self._baseline_block(x, grid)
        with _autocast_off(inputs.device):
            features = self.visual.ln_post(patches.float()) @ self.visual.proj.float()
            features = F.normalize(features, dim=-1)
        return (features.transpose(1, 2).reshape(features.shape[0], -1, *grid), )


def _autocast_off(device: torch.device) -> contextlib.AbstractContextManager:
    """Turn autocast off, so that the steps inside run in the dtypes they name."""
    return torch.autocast(device.type, enabled=False)
