# MetaCLIP ViT-B/16 (2.5B). `pretrained` may be replaced by a local checkpoint path.
_base_ = ['./clipseg.py']
model = dict(
    clip=dict(model_name='ViT-B-16-quickgelu', pretrained='metaclip_fullcc', quick_gelu=False))
