"""CRA, DSI and the baseline final blocks: small pure functions on tensors and blocks."""
from .baselines import (clearclip_block, clearclip_qk_block, maskclip_block, naclip_block,
                        neighbourhood_bias, sclip_block, vanilla_block)
from .cra import (CRA_FEATURES, CRA_MIXES, attention_mix, check_cra_layers,
                  coherence_attention, coherence_similarity, default_cra_layers)
from .dsi import DSI_VALUE_PATHS, dsi_value

__all__ = [
    'CRA_FEATURES', 'CRA_MIXES', 'DSI_VALUE_PATHS', 'attention_mix', 'check_cra_layers',
    'clearclip_block', 'clearclip_qk_block', 'coherence_attention', 'coherence_similarity',
    'default_cra_layers', 'dsi_value', 'maskclip_block', 'naclip_block', 'neighbourhood_bias',
    'sclip_block', 'vanilla_block'
]
