# Pascal Context val with background (60 classes, 0 = background), TCL protocol.
_base_ = ['./tcl_protocol.py']
test_dataloader = dict(
    dataset=dict(
        type='PascalContextDataset',
        data_root='data/VOCdevkit/VOC2010',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
        ann_file='ImageSets/SegmentationContext/val.txt',
    ),
)

# The head's classes on this benchmark (METHOD.md, Classification); each
# configs/clipseg_<model>_<benchmark>.py passes them to model.decode_head. Class 0 is a
# text class named by its own line of context60.txt ('background'), and a pixel whose top
# class probability is below prob_thd is labelled 0 as well (both as SCLIP and NACLIP,
# configs/cfg_context60.py).
classification = dict(class_names='context60', background='text', prob_thd=0.1)
