from .class_names_check import ClassNamesCheckHook

__all__ = ['ClassNamesCheckHook']
