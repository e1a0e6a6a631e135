# ADE20K-full val, 847 classes (16-bit labels, 65535 = ignored), TCL protocol.
_base_ = ['./tcl_protocol.py']
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 448), keep_ratio=True),
    # mmseg's LoadAnnotations would cast these 16-bit labels to uint8.
    dict(type='LoadUInt16Annotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    dataset=dict(
        type='ADE20K847Dataset',
        data_root='data/ade/ADE20K_847',
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
        ignore_index=65535,
        pipeline=test_pipeline,
    ),
)
test_evaluator = dict(ignore_index=65535)
