# Pascal VOC 2012 val with background (21 classes, 0 = background), TCL protocol.
_base_ = ['./tcl_protocol.py', './stuff_background.py']
test_dataloader = dict(
    dataset=dict(
        type='PascalVOCDataset',
        data_root='data/VOCdevkit/VOC2012',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt',
    ),
)

# The head's classes on this benchmark (METHOD.md, Classification); each
# configs/clipseg_<model>_<benchmark>.py passes them to model.decode_head. Class 0 is a
# text class named by the 26 stuff names, and a pixel whose top class probability is
# below prob_thd is labelled 0 as well (both as SCLIP and NACLIP, configs/cfg_voc21.py).
classification = dict(class_names='voc21', background='text',
                      background_names={{_base_.stuff_background_names}}, prob_thd=0.1)
