# ClearCLIP (Lan et al., ECCV 2024) under its own protocol, as its code sets it
# (github.com/mc-lan/ClearCLIP: clearclip_segmentor.py and open_clip/transformer.py at
# afe06b8, configs/ at fd05ce4; PEERS.md). The segmentor's defaults, which every dataset
# keeps unless its configs/cfg_<dataset>.py says otherwise: logit_scale=50, prob_thd=0.0,
# slide_crop=448, slide_stride=224, ignore_residual=True; short side 448 everywhere.
# No post-processing (no PAMR, no area threshold).
# Names: ClearCLIP's own configs/cls_<dataset>.txt, verbatim in
# mmseg_clipseg/class_names/peers/clearclip/ under this project's benchmark keys. They differ
# from SCLIP's on VOC21, VOC20 and COCO-Object (no synonyms; class 0 'background').
# Dense mode: the paper's ClearCLIP final block (q-q attention, no residual, no feed-forward;
# model_type='ClearCLIP', as in ClearCLIP's demo.py). ClearCLIP's configs/base_config.py
# ships model_type='vanilla' with ignore_residual=True instead: the block's own q-k
# attention, no residual, no feed-forward. To run that variant, add
#   --cfg-options model.backbone.dense_mode=clearclip_qk
# The only numbers ClearCLIP's README gives (assets/results.png, "+ClearCLIP" rows; VOC20,
# Context-59, COCO-Stuff, Cityscapes, ADE20K) are labelled as the method, i.e. q-q; the
# repository does not say which model_type produced them (docs/peers.md).
# Its ViT resizes the positional embeddings with a scale factor of (n + 0.1) / grid whenever
# the token count differs from the trained grid (pos_interpolation='naclip'): every 448x448
# window of ViT-B/16 (28x28 patches) goes through it.
# Swap `model.clip` to run ClearCLIP's protocol on another CLIP.
_base_ = ['../../_base_/models/clipseg_vitb.py', './pipelines.py']
model = dict(
    backbone=dict(dense_mode='clearclip', pos_interpolation='naclip'),
    decode_head=dict(templates='openai_imagenet', logit_scale=50.0, background=None,
                     prob_thd=0.0, area_thd=None),
    test_cfg=dict(mode='slide', crop_size=(448, 448), stride=(224, 224), pamr=None),
)
