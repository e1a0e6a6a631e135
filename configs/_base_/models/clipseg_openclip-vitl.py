# OpenCLIP ViT-L/14 (LAION-2B). `pretrained` may be replaced by a local checkpoint path.
_base_ = ['./clipseg.py']
model = dict(clip=dict(model_name='ViT-L-14', pretrained='laion2b_s32b_b82k', quick_gelu=False))
