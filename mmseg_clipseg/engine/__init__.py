from .class_names_check import ClassNamesCheckHook
from .loader_settings import FittedLoaderRunner, fit_loader_to_machine
from .side_by_side_visualizer import SideBySideVisualizer
from .test_only_wrapper import TestOnlyModelWrapper
from .timed_logger_hook import TimedLoggerHook

__all__ = ['ClassNamesCheckHook', 'FittedLoaderRunner', 'SideBySideVisualizer',
           'TestOnlyModelWrapper', 'TimedLoggerHook', 'fit_loader_to_machine']
