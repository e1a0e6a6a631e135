from .class_names_check import ClassNamesCheckHook
from .timed_logger_hook import TimedLoggerHook

__all__ = ['ClassNamesCheckHook', 'TimedLoggerHook']
