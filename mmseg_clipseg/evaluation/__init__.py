from .checked_iou_metric import CheckedIoUMetric
from .loader_settings import FittedLoaderRunner, fit_loader_to_machine

__all__ = ['CheckedIoUMetric', 'FittedLoaderRunner', 'fit_loader_to_machine']
