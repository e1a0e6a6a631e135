from .class_names_check import ClassNamesCheckHook
from .side_by_side_visualizer import SideBySideVisualizer
from .test_only_wrapper import TestOnlyModelWrapper
from .timed_logger_hook import TimedLoggerHook

__all__ = ['ClassNamesCheckHook', 'SideBySideVisualizer', 'TestOnlyModelWrapper',
           'TimedLoggerHook']
