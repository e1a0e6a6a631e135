from .training_free import TrainingFreeSegmentor, check_test_cfg, sliding_windows

__all__ = ['TrainingFreeSegmentor', 'check_test_cfg', 'sliding_windows']
