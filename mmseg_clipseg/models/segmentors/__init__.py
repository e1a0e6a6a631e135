from .test_settings import check_test_cfg, keep_labels_only
from .training_free import TrainingFreeSegmentor
from .windows import sliding_windows

__all__ = ['TrainingFreeSegmentor', 'check_test_cfg', 'keep_labels_only', 'sliding_windows']
