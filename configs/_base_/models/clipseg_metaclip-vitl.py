# MetaCLIP ViT-L/14 (2.5B). `pretrained` may be replaced by a local checkpoint path.
_base_ = ['./clipseg.py']
model = dict(
    clip=dict(model_name='ViT-L-14-quickgelu', pretrained='metaclip_fullcc', quick_gelu=False))
