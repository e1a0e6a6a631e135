# CLIP ViT-L/14 (OpenAI). `pretrained` may be replaced by a local checkpoint path.
_base_ = ['./clipseg.py']
model = dict(clip=dict(model_name='ViT-L-14', pretrained='openai', quick_gelu=True))
