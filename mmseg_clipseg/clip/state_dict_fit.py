"""A checkpoint's state dict fitted to an open_clip model as open_clip's ``load_checkpoint``
fits it, and loaded only when every name and shape then fits the model; otherwise one line
naming what differs."""
from typing import Dict, List

import torch
from open_clip.convert import convert_state_dict
from open_clip.model import resize_pos_embed, resize_text_pos_embed
from torch import nn

from ..utils.errors import UserInputError, shown_with_more
from .checkpoint_files import describe_error

__all__ = ['load_fitted_state_dict']


def _fitted(model: nn.Module, state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """A copy of ``state`` changed as open_clip's ``load_checkpoint`` changes it before
    loading: third-party layouts converted, a scalar/1-d ``logit_scale`` or ``logit_bias``
    reshaped to the model's, a missing ``logit_bias`` added as zeros, and the image and text
    positional embeddings interpolated to the model's patch grid and context length.

    (Its conversions for custom text towers are left out: such models are refused before
    their weights are read.)"""
    state = convert_state_dict(model, dict(state))
    for name in ('logit_scale', 'logit_bias'):
        target = getattr(model, name, None)
        if name in state and target is not None and state[name].ndim != target.ndim:
            state[name] = state[name].reshape(target.shape)
    if 'logit_bias' not in state and getattr(model, 'logit_bias', None) is not None:
        state['logit_bias'] = torch.zeros_like(state['logit_scale'])
    resize_pos_embed(state, model)
    resize_text_pos_embed(state, model)
    return state


def _differences(model: nn.Module, state: Dict[str, torch.Tensor]) -> List[str]:
    """What keeps ``model.load_state_dict(state)`` from loading: missing and unexpected
    names, and tensors whose shapes differ."""
    expected = model.state_dict()
    missing = [name for name in expected if name not in state]
    unexpected = [name for name in state if name not in expected]
    resized = [f'{name}: {tuple(state[name].shape)} in the checkpoint, '
               f'{tuple(value.shape)} in the model'
               for name, value in expected.items()
               if name in state and state[name].shape != value.shape]
    differences = []
    if missing:
        differences.append(f'Missing keys ({len(missing)}): {shown_with_more(missing, 3)}')
    if unexpected:
        differences.append(f'Unexpected keys ({len(unexpected)}): '
                           f'{shown_with_more(unexpected, 3)}')
    if resized:
        differences.append('size mismatch for ' + shown_with_more(resized, 2, separator='; '))
    return differences


def _does_not_fit(source: str, model_name: str, differences: str) -> UserInputError:
    return UserInputError(f'{source[0].upper()}{source[1:]} does not fit model '
                          f'{model_name!r} (wrong model_name?): {differences}.')


def load_fitted_state_dict(model: nn.Module, state: Dict[str, torch.Tensor], source: str,
                           model_name: str) -> None:
    """Load ``state`` into ``model`` as open_clip loads a checkpoint (see :func:`_fitted`),
    strictly: every name of the model and only those, each with the model's shape.

    Args:
        model: The open_clip CLIP model, built without weights.
        state: The checkpoint's state dict (names to tensors; not changed).
        source: The weights, described for messages (e.g. ``"checkpoint 'a.pt'"``).
        model_name: The model name given, for messages.

    Raises:
        UserInputError: one line naming what does not fit.
    """
    try:
        fitted = _fitted(model, state)
    except Exception as error:  # on tensors of another architecture (e.g. a text width)
        raise _does_not_fit(source, model_name, '; '.join(_differences(model, state))
                            or describe_error(error)) from error
    differences = _differences(model, fitted)
    if differences:
        raise _does_not_fit(source, model_name, '; '.join(differences))
    model.load_state_dict(fitted, strict=True)
