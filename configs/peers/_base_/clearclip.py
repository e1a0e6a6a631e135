# ClearCLIP (Lan et al., ECCV 2024) under its own protocol, as its code sets it
# (github.com/mc-lan/ClearCLIP: clearclip_segmentor.py and open_clip/transformer.py at
# afe06b8, configs/ at fd05ce4; PEERS.md). The segmentor's defaults, which every dataset
# keeps unless its configs/cfg_<dataset>.py says otherwise: logit_scale=50, prob_thd=0.0,
# slide_crop=448, slide_stride=224, ignore_residual=True; short side 448 everywhere.
# Dense mode: ClearCLIP's final block (q-q attention, no residual, no feed-forward). Note that
# ClearCLIP's configs/base_config.py ships model_type='vanilla' (plain q-k attention without
# residual and feed-forward); its paper's method is model_type='ClearCLIP', used here.
# Its ViT resizes the positional embeddings with a scale factor of (n + 0.1) / grid whenever
# the token count differs from the trained grid (pos_interpolation='naclip'): every 448x448
# window of ViT-B/16 (28x28 patches) goes through it.
# Names: only configs/cls_voc21.txt of ClearCLIP is in the searchable index this project reads
# peers from (verbatim in mmseg_clipseg/class_names/peers/clearclip/voc21.txt: no synonyms,
# class 0 'background'); the other datasets use SCLIP's files, which ClearCLIP's code is based
# on. Unverified: replace them if ClearCLIP's own files differ.
# Swap `model.clip` to run ClearCLIP's protocol on another CLIP.
_base_ = ['../../_base_/models/clipseg_vitb.py', './pipelines.py']
model = dict(
    backbone=dict(dense_mode='clearclip', pos_interpolation='naclip'),
    decode_head=dict(templates='openai_imagenet', logit_scale=50.0, background=None,
                     prob_thd=0.0, area_thd=None),
    test_cfg=dict(mode='slide', crop_size=(448, 448), stride=(224, 224), pamr=None),
)
