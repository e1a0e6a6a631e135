"""A head's vocabulary: its classes, their names and templates, and the background rule."""
import dataclasses
from typing import List, Optional, Sequence, Tuple, Union

from ...class_names import parse_class
from ...utils.errors import UserInputError
from ..settings import check_choice

BACKGROUND_MODES = (None, 'text', 'threshold')


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """The classes a head predicts and how their names are encoded.

    Attributes:
        classes: The dataset's classes in label order, each a tuple of synonyms; with a
            background, class 0 is it.
        templates: Prompt templates, each with one ``{}``.
        background: None (no background class), ``'text'`` (class 0 is a text class) or
            ``'threshold'`` (class 0 is not encoded; uncertain pixels are background).
        background_names: With ``'text'``: the names encoding class 0, if not its own.
    """
    classes: Tuple[Tuple[str, ...], ...]
    templates: Tuple[str, ...]
    background: Optional[str] = None
    background_names: Optional[Tuple[str, ...]] = None

    @property
    def text_classes(self) -> List[Tuple[str, ...]]:
        """The names encoded for each class that is a text class, in label order."""
        if self.background == 'threshold':
            return list(self.classes[1:])
        if self.background_names is not None:
            return [self.background_names] + list(self.classes[1:])
        return list(self.classes)

    @property
    def name_classes(self) -> List[int]:
        """The label of each encoded name, names in encoding order."""
        first = 1 if self.background == 'threshold' else 0
        return [first + index for index, names in enumerate(self.text_classes)
                for _ in names]


def check_vocabulary(classes: List[Tuple[str, ...]], background: Optional[str],
                     background_names: Optional[Union[str, Sequence[str]]]
                     ) -> Optional[Tuple[str, ...]]:
    """Validate the background settings; returns ``background_names`` as a tuple."""
    check_choice('background', background, BACKGROUND_MODES)
    if background is not None and len(classes) < 2:
        raise UserInputError(f'background={background!r} makes class 0 the background, so at '
                             f'least one more class is needed; got {len(classes)} class(es).')
    if background_names is None:
        return None
    if background != 'text':
        raise UserInputError(f'background_names encode class 0 as text and need '
                             f'background="text"; got background={background!r}.')
    if not isinstance(background_names, (str, list, tuple)):
        raise UserInputError(f'background_names must be a list of names or a comma-separated '
                             f'string; got {background_names!r}')
    return parse_class(background_names, 'background_names')
