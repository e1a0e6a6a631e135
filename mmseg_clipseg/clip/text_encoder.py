"""Class text embeddings from CLIP's text tower, batched and cut to the prompts' length."""
import contextlib
from typing import List, Optional, Sequence, Tuple

import open_clip
import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from open_clip.transformer import text_global_pool
from torch import nn

from ..errors import UserInputError
from . import text_cache
from .templates import fill_template

# Pool types that read the output at one token, the end of text; for these a causal text
# transformer gives the same result on the sequence cut right after that token.
_END_OF_TEXT_POOLS = ('argmax', 'eos')
# Precisions the text tower may run in (autocast on its device, CPU included); embeddings are
# returned in fp32 either way.
TEXT_PRECISIONS = {'fp32': None, 'fp16': torch.float16, 'bf16': torch.bfloat16}
# Encodings of at least this many batches log their progress.
_PROGRESS_MIN_BATCHES = 10


class TextEmbedder(nn.Module):
    """CLIP's text tower, taken from an open_clip ``CLIP`` model (its modules are shared).

    Args:
        clip_model: An open_clip ``CLIP`` model.
        model_name: Its open_clip name, to get the matching tokenizer.
        batch_size: Prompts encoded per forward pass.
        precision: ``'fp32'``, or ``'fp16'`` / ``'bf16'``: autocast of the text transformer
            on its device (CUDA or CPU). Pooling, projection and normalisation of the
            embeddings are in fp32.
    """

    def __init__(self, clip_model: nn.Module, model_name: str, batch_size: int = 1024,
                 precision: str = 'fp32') -> None:
        super().__init__()
        if precision not in TEXT_PRECISIONS:
            raise ValueError(f'precision must be one of {sorted(TEXT_PRECISIONS)}; '
                             f'got {precision!r}')
        self.precision = precision
        self.token_embedding = clip_model.token_embedding
        self.positional_embedding = clip_model.positional_embedding
        self.transformer = clip_model.transformer
        self.ln_final = clip_model.ln_final
        self.text_projection = clip_model.text_projection
        self.register_buffer('attn_mask', clip_model.attn_mask, persistent=False)
        self.pool_type = clip_model.text_pool_type
        self.eos_token_id = getattr(clip_model, 'text_eos_id', None)
        self.tokenizer = open_clip.get_tokenizer(model_name)
        self.batch_size = batch_size

    @property
    def device(self) -> torch.device:
        return self.token_embedding.weight.device

    def _autocast(self) -> contextlib.AbstractContextManager:
        """Autocast of the text transformer to ``precision`` on the tower's device; off for
        fp32, so that an outer autocast does not change the precision."""
        dtype = TEXT_PRECISIONS[self.precision]
        if dtype is None:
            return torch.autocast(self.device.type, enabled=False)
        return torch.autocast(self.device.type, dtype=dtype)

    @property
    def can_truncate(self) -> bool:
        """Whether cutting the sequence after the end-of-text token is exact."""
        return self.attn_mask is not None and self.pool_type in _END_OF_TEXT_POOLS

    def _used_length(self, tokens: torch.Tensor) -> int:
        """Positions up to and including the last end-of-text token in the batch."""
        if self.pool_type == 'argmax':
            end = tokens.argmax(dim=-1)
        else:
            end = (tokens == self.eos_token_id).int().argmax(dim=-1)
        return int(end.max()) + 1

    def encode_tokens(self, tokens: torch.Tensor, truncate: bool = True) -> torch.Tensor:
        """Encode token ids.

        Args:
            tokens (Tensor): Token ids, shape (P, context_length).
            truncate (bool): Cut the sequence after the last end-of-text token; exact for
                CLIP's causal text tower, and much faster for short prompts.

        Returns:
            Tensor: Unnormalised text embeddings, shape (P, C).
        """
        length = self._used_length(tokens) if truncate and self.can_truncate \
            else tokens.shape[1]
        tokens = tokens[:, :length]
        cast_dtype = self.transformer.get_cast_dtype()
        x = self.token_embedding(tokens).to(cast_dtype)
        x = x + self.positional_embedding[:length].to(cast_dtype)
        attn_mask = self.attn_mask[:length, :length] if self.attn_mask is not None else None
        with self._autocast():
            x = self.transformer(x, attn_mask=attn_mask)
        # Only the pooled tokens are projected; in fp32, as the image side's ln_post/proj.
        with torch.autocast(x.device.type, enabled=False):
            x = self.ln_final(x.float())
            x = text_global_pool(x, tokens, self.pool_type, eos_token_id=self.eos_token_id)
            if isinstance(self.text_projection, nn.Linear):
                return self.text_projection(x)
            return x if self.text_projection is None else x @ self.text_projection.float()

    @torch.no_grad()
    def encode_prompts(self, prompts: Sequence[str], truncate: bool = True) -> torch.Tensor:
        """Encode prompts in batches of similar length.

        Returns:
            Tensor: L2-normalised embeddings in fp32, shape (P, C), in the order of
            ``prompts``.
        """
        device = self.device
        tokens = self.tokenizer(list(prompts))
        lengths = (tokens != 0).sum(dim=1)
        self._check_not_cut(prompts, lengths, tokens.shape[1])
        # Sorting by length makes each batch as short as its longest member allows.
        order = torch.argsort(lengths, stable=True)
        starts = range(0, len(prompts), self.batch_size)
        encoded = []
        for count, start in enumerate(starts, 1):
            encoded.append(self.encode_tokens(
                tokens[order[start:start + self.batch_size]].to(device), truncate).float())
            if len(starts) >= _PROGRESS_MIN_BATCHES and count % (len(starts) // 10) == 0:
                print_log(f'text encoding: {min(start + self.batch_size, len(prompts))} / '
                          f'{len(prompts)} prompts', logger='current')
        encoded = torch.cat(encoded)
        embeddings = torch.empty_like(encoded)
        embeddings[order.to(device)] = encoded
        return F.normalize(embeddings, dim=-1)

    def _check_not_cut(self, prompts: Sequence[str], lengths: torch.Tensor,
                       context: int) -> None:
        """Refuse prompts longer than the context: the tokenizer cuts them silently, and two
        long names could then get the same embedding. A prompt that fills the context is
        tokenized again with one more position to tell "exactly full" from "cut"."""
        full = [prompts[index] for index in torch.nonzero(lengths >= context).flatten()]
        if not full:
            return
        longer = self.tokenizer(full, context_length=context + 1)
        for prompt, tokens in zip(full, longer):
            if int((tokens != 0).sum()) > context:
                raise UserInputError(
                    f'The prompt {prompt!r} is longer than the text tower\'s context of '
                    f'{context} tokens and would be cut; shorten the class name (or the '
                    'template).')

    def class_embeddings(self, classes: Sequence[Sequence[str]], templates: Sequence[str],
                         cache_identity: Optional[str] = None) -> Tuple[torch.Tensor,
                                                                        torch.Tensor]:
        """One embedding per class name: the template-averaged, re-normalised prompt embedding.

        Args:
            classes: Classes, each a sequence of synonyms.
            templates: Format strings with ``{}`` for the name.
            cache_identity: The weights' identity; if given, results are read from and
                written to the on-disk cache.

        Returns:
            tuple: ``embeddings`` (num_names, C), fp32, unit norm, names of all classes in
            order; ``class_index`` (num_names,), the class each name belongs to.
        """
        names: List[str] = [name for synonyms in classes for name in synonyms]
        class_index = torch.tensor(
            [index for index, synonyms in enumerate(classes) for _ in synonyms])
        class_index = class_index.to(self.device)
        key = None
        if cache_identity is not None:
            # Half-precision embeddings differ slightly from fp32 ones: keep them apart.
            precision = self.precision
            identity = cache_identity if precision == 'fp32' else f'{cache_identity}|{precision}'
            key = text_cache.cache_key(identity, classes, templates)
            cached = text_cache.load(key, num_rows=len(names))
            if cached is not None:
                return cached.to(self.device), class_index
        prompts = [fill_template(template, name) for name in names for template in templates]
        per_prompt = self.encode_prompts(prompts)
        per_name = per_prompt.view(len(names), len(templates), -1).mean(dim=1)
        embeddings = F.normalize(per_name, dim=-1)
        if key is not None:
            text_cache.save(key, embeddings)
        return embeddings, class_index
