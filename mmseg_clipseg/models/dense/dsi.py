"""DSI, Deep Semantic Integration (METHOD.md, "DSI: the value").

The value of the final block is the mean of the value paths of the last K blocks, each applied
to that block's own input, so that the deep layers' local semantics complement the final one.
"""
from typing import Sequence

from torch import Tensor, nn

from .projections import value_path

DSI_VALUE_PATHS = ('own', 'final')


def dsi_value(blocks: Sequence[nn.Module], inputs: Sequence[Tensor],
              value_path_of: str = 'own') -> Tensor:
    """``V = (1/K) Σ_l val(X_{l-1})`` over the last K blocks.

    Args:
        blocks: The last K blocks ``L-K+1 .. L``, in order.
        inputs: Their inputs ``X_{L-K} .. X_{L-1}`` (patch tokens), each (B, N, D).
        value_path_of: ``'own'``: each term uses its own block's value path (as written);
            ``'final'``: every term uses the final block's value path.

    Returns:
        Tensor: ``V``, shape (B, N, D).
    """
    if len(blocks) != len(inputs) or not blocks:
        raise ValueError('dsi_value needs one input per block, and at least one block')
    if value_path_of not in DSI_VALUE_PATHS:
        raise ValueError(f'dsi.value_path must be one of {DSI_VALUE_PATHS}, '
                         f'got {value_path_of!r}')
    total = None
    for block, block_input in zip(blocks, inputs):
        path_block = block if value_path_of == 'own' else blocks[-1]
        value = value_path(path_block, block_input)
        total = value if total is None else total + value
    return total / len(blocks)
