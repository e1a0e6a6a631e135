from .class_names_check import ClassNamesCheckHook
from .test_only_wrapper import TestOnlyModelWrapper

__all__ = ['ClassNamesCheckHook', 'TestOnlyModelWrapper']
