"""Class text embeddings from CLIP's text tower, batched and cut to the prompts' length;
in a distributed run, optionally encoded once for all ranks (:func:`encoding_shared_by_ranks`).
"""
import contextlib
import contextvars
import hashlib
import json
from typing import Iterator, List, Optional, Sequence, Tuple

import open_clip
import torch
import torch.nn.functional as F
from mmengine import dist
from mmengine.logging import print_log
from open_clip.transformer import text_global_pool
from torch import nn

from ..utils.errors import UserInputError
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
# Whether the ranks of a distributed run encode vocabularies together (see below).
_SHARED_BY_RANKS: contextvars.ContextVar[bool] = contextvars.ContextVar(
    'mmseg_clipseg_text_encoding_shared_by_ranks', default=False)


@contextlib.contextmanager
def encoding_shared_by_ranks() -> Iterator[None]:
    """Within this context, in a distributed run, :meth:`TextEmbedder.class_embeddings`
    encodes each vocabulary once for all ranks: each rank encodes every N-th batch of
    prompts and the ranks gather the rest (ADE-847's 102,480 prompts cost each of N GPUs a
    1/N share). Rank 0 alone reads the disk cache (and sends what it finds to the others)
    and writes it.

    Every rank must then call ``class_embeddings`` for the same vocabularies in the same
    order, as in ``tools/test.py``'s test loop (each rank tests at least one sample);
    otherwise the ranks wait for each other forever. Outside this context each rank encodes
    on its own.
    """
    token = _SHARED_BY_RANKS.set(True)
    try:
        yield
    finally:
        _SHARED_BY_RANKS.reset(token)


def _shared_by_ranks() -> bool:
    return _SHARED_BY_RANKS.get() and dist.get_world_size() > 1


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
        """Encode prompts in batches of similar length; under :func:`encoding_shared_by_ranks`
        each rank of a distributed run encodes every N-th batch and gathers the others
        (the same batches as one process encodes, so the same result).

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
        batches = [order[start:start + self.batch_size]
                   for start in range(0, len(prompts), self.batch_size)]
        rank, world_size = (dist.get_rank(), dist.get_world_size()) if _shared_by_ranks() \
            else (0, 1)
        own, encoded = batches[rank::world_size], []
        for count, batch in enumerate(own, 1):
            encoded.append(self.encode_tokens(tokens[batch].to(device), truncate).float())
            if len(own) >= _PROGRESS_MIN_BATCHES and count % (len(own) // 10) == 0:
                print_log(f'text encoding: {sum(len(done) for done in own[:count])} / '
                          f'{sum(len(batch) for batch in own)} prompts', logger='current')
        if world_size > 1:
            encoded = self._gather_batches(encoded, [len(batch) for batch in batches])
        encoded = torch.cat(encoded)
        embeddings = torch.empty_like(encoded)
        embeddings[order.to(device)] = encoded
        return F.normalize(embeddings, dim=-1)

    @property
    def embed_dim(self) -> int:
        """The width C of the text embeddings."""
        if self.text_projection is None:
            return self.ln_final.normalized_shape[0]
        if isinstance(self.text_projection, nn.Linear):
            return self.text_projection.out_features
        return self.text_projection.shape[1]

    def _gather_batches(self, own: List[torch.Tensor],
                        sizes: List[int]) -> List[torch.Tensor]:
        """All batches in order, from each rank's own batches (rank r encoded batches r,
        r + N, ...; ``sizes`` are the rows of every batch)."""
        world_size = dist.get_world_size()
        counts = [sum(sizes[rank::world_size]) for rank in range(world_size)]
        padded = torch.zeros((max(counts), self.embed_dim), device=self.device)
        if own:
            padded[:counts[dist.get_rank()]] = torch.cat(own)
        gathered = dist.all_gather(padded)
        batches, taken = [], [0] * world_size
        for index, size in enumerate(sizes):
            owner = index % world_size
            batches.append(gathered[owner][taken[owner]:taken[owner] + size])
            taken[owner] += size
        return batches

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
            [index for index, synonyms in enumerate(classes) for _ in synonyms],
            device=self.device)
        shared = _shared_by_ranks()
        key, cached = None, None
        if cache_identity is not None:
            # Half-precision embeddings differ slightly from fp32 ones: keep them apart.
            precision = self.precision
            identity = cache_identity if precision == 'fp32' else f'{cache_identity}|{precision}'
            key = text_cache.cache_key(identity, classes, templates)
            if not shared or dist.get_rank() == 0:
                cached = text_cache.load(key, num_rows=len(names))
        if shared:
            cached = self._shared_from_rank_zero(cached, len(names), classes, templates)
        if cached is not None:
            return cached.to(self.device), class_index
        prompts = [fill_template(template, name) for name in names for template in templates]
        per_prompt = self.encode_prompts(prompts)
        per_name = per_prompt.view(len(names), len(templates), -1).mean(dim=1)
        embeddings = F.normalize(per_name, dim=-1)
        if key is not None and (not shared or dist.get_rank() == 0):
            text_cache.save(key, embeddings)
        return embeddings, class_index

    def _shared_from_rank_zero(self, cached: Optional[torch.Tensor], num_names: int,
                               classes: Sequence[Sequence[str]],
                               templates: Sequence[str]) -> Optional[torch.Tensor]:
        """The embeddings rank 0 found in the disk cache (``cached`` there), sent to every
        rank; None if it found none (then all ranks encode them together). Refuses ranks
        that ask for different vocabularies."""
        vocabulary = json.dumps([[list(names) for names in classes], list(templates),
                                 self.precision])
        digest = hashlib.sha256(vocabulary.encode('utf-8')).hexdigest()
        states = dist.all_gather_object((digest, cached is not None))
        if len({state[0] for state in states}) > 1:
            raise RuntimeError('The ranks asked for text embeddings of different '
                               'vocabularies inside encoding_shared_by_ranks(); each rank '
                               'must encode the same vocabularies in the same order.')
        if not states[0][1]:
            return None
        if cached is None:
            cached = torch.empty((num_names, self.embed_dim), device=self.device)
        cached = cached.to(self.device)
        dist.broadcast(cached, src=0)
        return cached
