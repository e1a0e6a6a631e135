from .checked_iou_metric import CheckedIoUMetric

__all__ = ['CheckedIoUMetric']
