# The training-free CLIP segmentor of METHOD.md; the per-model files set `model.clip`.
model = dict(
    type='TrainingFreeSegmentor',
    clip=dict(model_name='ViT-B-16', pretrained='openai', quick_gelu=True),
    data_preprocessor=dict(
        type='BatchPaddingSegDataPreProcessor',
        # CLIP's pixel statistics, in 0-255 RGB.
        mean=[122.771, 116.746, 104.094],
        std=[68.501, 66.632, 70.323],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
    ),
    backbone=dict(
        type='CLIPDenseBackbone',
        dense_mode='clipseg',
        attention='cra',
        cra=dict(layers=None, feature='residual', threshold=0.75, temperature=6.0),
        dsi=dict(num_layers=3, value_path='own'),
        precision='fp32',
    ),
    decode_head=dict(
        type='OpenVocabularyHead',
        class_names=None,  # set by each benchmark config
        templates='openai_imagenet',
        logit_scale=50.0,
        text_cache=True,
    ),
    # TCL protocol: 448x448 windows, stride 224. Windows go through the backbone in chunks of
    # test_cfg.crop_batch_size (default 8, TrainingFreeSegmentor.DEFAULT_CROP_BATCH_SIZE).
    # Predictions carry seg_logits (every class's probability), as MMSeg's; tools/test.py
    # keeps labels only unless test_cfg.keep_seg_logits is set.
    test_cfg=dict(mode='slide', crop_size=(448, 448), stride=(224, 224)),
)
