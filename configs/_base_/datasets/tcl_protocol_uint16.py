# The TCL protocol for benchmarks with more than 255 classes (Context-459, ADE20K-847): their
# 16-bit label maps are read with LoadUInt16Annotations (mmseg's LoadAnnotations would cast
# them to uint8), and 65535 marks the ignored pixels in the dataset and the metric.
_base_ = ['./tcl_protocol.py']
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 448), keep_ratio=True),
    dict(type='LoadUInt16Annotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(dataset=dict(ignore_index=65535, pipeline=test_pipeline))
test_evaluator = dict(ignore_index=65535)
