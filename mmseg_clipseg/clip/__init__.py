"""open_clip loading (once per process), prompt templates and text embeddings."""
from pathlib import Path

import open_clip

from .loader import CLIPConfig, load_clip
from .templates import resolve_templates
from .text_encoder import TextEmbedder

# Model configs shipped with the package (e.g. the tiny test model) become open_clip names.
open_clip.add_model_config(Path(__file__).parent / 'model_configs')

__all__ = ['CLIPConfig', 'TextEmbedder', 'load_clip', 'resolve_templates']
