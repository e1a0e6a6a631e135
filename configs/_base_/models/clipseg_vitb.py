# CLIP ViT-B/16 (OpenAI). `pretrained` may be replaced by a local checkpoint path.
_base_ = ['./clipseg.py']
model = dict(clip=dict(model_name='ViT-B-16', pretrained='openai', quick_gelu=True))
