from .open_vocab_head import OpenVocabularyHead

__all__ = ['OpenVocabularyHead']
