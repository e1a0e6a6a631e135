# The peers' test pipelines (SCLIP, NACLIP, ClearCLIP configs/cfg_<dataset>.py): mmseg's Resize
# to a short side S keeping the aspect ratio (the long side capped at 2048), the labels loaded
# after the resize so that they keep the original size. A peer config picks its S with
#   test_dataloader = dict(dataset=dict(pipeline={{_base_.pipeline_<S>}}))
# (mmengine does not let two bases of one config both set test_dataloader, so the dataset base
# keeps it and the per-dataset peer config swaps the pipeline in).
pipeline_336 = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 336), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
pipeline_448 = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 448), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
pipeline_560 = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 560), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
