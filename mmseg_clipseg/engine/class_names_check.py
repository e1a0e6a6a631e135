"""Fail early when the head's classes do not match the test dataset's."""
import logging
import re
from typing import Any, List, Optional, Sequence, Tuple

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

from ..utils.errors import UserInputError


def _normalise(name: str) -> str:
    """``'potted plant'``, ``'pottedplant'`` and ``'Potted_Plant'`` compare equal."""
    return re.sub(r'[^0-9a-z]', '', name.lower())


def compare_class_names(head_classes: Sequence[Sequence[str]], dataset_classes: Sequence[str],
                        skip_first: bool = False) -> Tuple[Optional[str], List[str]]:
    """Compare the head's classes (each a tuple of synonyms) with the dataset's names.

    A dataset class matches when one of the head's names for that index equals it up to case,
    spaces and punctuation. Names that differ are normal (peers rename ``boat`` to ``ship``);
    a dataset name found at another index of the head means the order is wrong.

    Args:
        head_classes: The head's classes, in label order.
        dataset_classes: The dataset's ``METAINFO['classes']``.
        skip_first: Class 0 is a background with names of its own (not compared).

    Returns:
        tuple: An error message (or None) and the differing names, as ``'index: dataset name
        vs head name'`` lines.
    """
    if len(head_classes) != len(dataset_classes):
        return (f'The head has {len(head_classes)} classes but the test dataset has '
                f'{len(dataset_classes)}.'), []
    position = {}
    for index, names in enumerate(head_classes):
        for name in names:
            position.setdefault(_normalise(name), index)
    differing, misplaced = [], []
    for index, (names, expected) in enumerate(zip(head_classes, dataset_classes)):
        if (skip_first and index == 0) or _normalise(expected) in map(_normalise, names):
            continue
        differing.append(f'{index}: {expected!r} vs {names[0]!r}')
        found = position.get(_normalise(expected))
        if found is not None and not (skip_first and found == 0):
            misplaced.append(f'{expected!r} is class {index} of the dataset but class {found} '
                             'of the head')
    if misplaced:
        return 'The class names are in another order than the dataset\'s: ' + \
            '; '.join(misplaced[:5]) + '.', differing
    if len(differing) > len(dataset_classes) // 2:
        return (f'{len(differing)} of the {len(dataset_classes)} class names differ from the '
                f'dataset\'s (first: {"; ".join(differing[:3])}); is it the right names list?'
                ), differing
    return None, differing


def check_head_classes(head: Any, dataset_classes: Optional[Sequence[str]]) -> List[str]:
    """Refuse a head whose classes are not the dataset's (:func:`compare_class_names`);
    returns the names that differ but match as synonyms. Nothing to compare (no head with
    classes, no dataset classes): nothing refused."""
    if head is None or dataset_classes is None or not hasattr(head, 'classes'):
        return []
    error, differing = compare_class_names(
        head.classes, dataset_classes, skip_first=getattr(head, 'has_background', False))
    if error:
        raise UserInputError(
            f'{error} Set model.decode_head.class_names to the dataset\'s classes in its '
            'order (a benchmark key, a names file or a list), and for a dataset whose '
            'class 0 is background, model.decode_head.background.')
    return differing


@HOOKS.register_module()
class ClassNamesCheckHook(Hook):
    """Before testing, check that the head predicts the dataset's classes, in its order.

    A names file with one line too many, a list in another order or a background dataset
    without a background class would otherwise give a silently wrong mIoU. Renamed classes
    (synonyms, the peers' wording) are reported as a warning.
    """

    def before_test(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        differing = check_head_classes(getattr(model, 'decode_head', None),
                                       runner.test_dataloader.dataset.metainfo.get('classes'))
        if differing:
            print_log('class names that differ from the dataset\'s (checked as synonyms): '
                      + '; '.join(differing), logger='current', level=logging.WARNING)
