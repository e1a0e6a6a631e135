"""Checks of the models' settings, by type and value: each failure is one
:class:`~mmseg_clipseg.utils.errors.UserInputError` that names the setting, what it takes and what
it got. The backbone, the head and the segmentor run them before loading CLIP."""
import math
import numbers
from typing import Any, Dict, Mapping, Optional, Sequence

from ..utils.errors import UserInputError


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> Any:
    """``value`` if it is one of ``choices``."""
    if isinstance(value, (list, dict, set)) or value not in choices:
        raise UserInputError(f'{name} must be one of {", ".join(map(repr, choices))}; '
                             f'got {value!r}')
    return value


def check_number(name: str, value: Any, low: float = -math.inf, high: float = math.inf,
                 low_open: bool = False, high_open: bool = False,
                 meaning: Optional[str] = None) -> float:
    """A finite real number in the interval from ``low`` to ``high`` (open ends where
    asked), as a float. ``meaning`` replaces "a number in [low, high]" in the message."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise UserInputError(f'{name} must be a number; got {value!r}')
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (math.isfinite(value) and above and below):
        interval = f'{"(" if low_open else "["}{low}, {high}{")" if high_open else "]"}'
        raise UserInputError(f'{name} must be {meaning or "a number in " + interval}; '
                             f'got {value!r}')
    return float(value)


def check_int(name: str, value: Any, low: int = 1, high: Optional[int] = None) -> int:
    """A whole number in ``low..high`` (no upper end with None)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low \
            or (high is not None and value > high):
        if high is not None:
            wanted = f'a whole number in {low}..{high}'
        else:
            wanted = 'a positive integer' if low == 1 else f'an integer >= {low}'
        raise UserInputError(f'{name} must be {wanted}; got {value!r}')
    return int(value)


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise UserInputError(f'{name} must be True or False; got {value!r}')
    return value


def check_known_keys(name: str, value: Any, known: Sequence[str], example: str) -> Mapping:
    """A dict whose keys are all ``known``."""
    if not isinstance(value, Mapping):
        raise UserInputError(f'{name} must be a dict like {example}; got {value!r}')
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise UserInputError(f'Unknown {name} setting(s) {unknown}; known: {", ".join(known)}')
    return value


def with_defaults(name: str, given: Optional[Mapping[str, Any]],
                  defaults: Mapping[str, Any]) -> Dict[str, Any]:
    """``given`` (None for none) over ``defaults``, refusing keys ``defaults`` lacks."""
    given = check_known_keys(name, {} if given is None else given, list(defaults),
                             f'dict({", ".join(f"{key}=..." for key in defaults)})')
    return {**defaults, **given}
