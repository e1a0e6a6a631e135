"""Optional refinements of the per-name logits before the decision (off by default)."""
from .pamr import PAMR_DEFAULTS, pamr_affinity, pamr_propagate

__all__ = ['PAMR_DEFAULTS', 'pamr_affinity', 'pamr_propagate']
