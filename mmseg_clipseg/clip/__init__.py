"""open_clip loading (read once per process, one copy per build), prompt templates and text
embeddings."""
from pathlib import Path

import open_clip

from .loader import CLIPConfig, clear_clip_cache, load_clip, shared_clip_models
from .templates import resolve_templates
from .text_encoder import TextEmbedder

# Model configs shipped with the package (the tiny trained CLIP) become open_clip names.
open_clip.add_model_config(Path(__file__).parent / 'model_configs')

__all__ = ['CLIPConfig', 'TextEmbedder', 'clear_clip_cache', 'load_clip', 'resolve_templates',
           'shared_clip_models']
