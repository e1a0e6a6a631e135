"""Fail early when the head's classes do not match the test dataset's."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

from ..errors import UserInputError


@HOOKS.register_module()
class ClassNamesCheckHook(Hook):
    """Before testing, check that the head predicts the dataset's number of classes.

    A mismatch (e.g. a names file with one line too many, or a background dataset without
    ``bg_threshold``) would otherwise give a silently wrong mIoU.
    """

    def before_test(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        head = getattr(model, 'decode_head', None)
        classes = runner.test_dataloader.dataset.metainfo.get('classes')
        if head is None or classes is None or not hasattr(head, 'classes'):
            return
        if len(head.classes) != len(classes):
            raise UserInputError(
                f'The head has {len(head.classes)} classes but the test dataset has '
                f'{len(classes)}. Set model.decode_head.class_names to the dataset\'s classes '
                '(a benchmark key, a names file or a list) and, for a dataset whose class 0 '
                'is background, model.decode_head.bg_threshold.')
