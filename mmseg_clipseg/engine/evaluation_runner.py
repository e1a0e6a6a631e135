"""The Runner of ``tools/test.py``: mmengine's, with a console that shows what a user reads
and a test loader fitted to the machine."""
import logging
import re

import torch

from .loader_settings import FittedLoaderRunner

# Console records that tell a user nothing (the log file keeps them).
_CONSOLE_DROPPED = ('Hooks will be executed in the following order',
                    'Config:\n',
                    'Distributed training is not used')


class _EnvironmentRecord(logging.Filter):
    """The environment record: on CPU, 'GPU number: 1' becomes the number of processes;
    torch's build flags (a screenful) are left out."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and 'Runtime environment:' in record.msg:
            text = re.sub(r'\n    PyTorch compiling details:.*?(?=\n    \S)', '', record.msg,
                          flags=re.S)
            if not torch.cuda.is_available():
                text = re.sub(r'GPU number: (\d+)', r'Processes: \1 (CPU, no GPU)', text)
            record.msg = text
        return True


class _ConsoleNoise(logging.Filter):

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(_CONSOLE_DROPPED))


class EvaluationRunner(FittedLoaderRunner):
    """mmengine's Runner with a console that shows what a user reads, and a test loader
    fitted to the machine (workers, pinned memory) when it is built."""

    def build_logger(self, *args, **kwargs):
        logger = super().build_logger(*args, **kwargs)
        logger.addFilter(_EnvironmentRecord())
        for handler in logger.handlers:
            if type(handler) is logging.StreamHandler:  # the console, not the log file
                handler.addFilter(_ConsoleNoise())
        return logger
