from .training_free import TrainingFreeSegmentor, sliding_windows

__all__ = ['TrainingFreeSegmentor', 'sliding_windows']
