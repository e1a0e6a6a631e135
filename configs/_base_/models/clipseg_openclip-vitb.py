# OpenCLIP ViT-B/16 (LAION-2B). `pretrained` may be replaced by a local checkpoint path.
_base_ = ['./clipseg.py']
model = dict(clip=dict(model_name='ViT-B-16', pretrained='laion2b_s34b_b88k', quick_gelu=False))
