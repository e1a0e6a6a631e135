# COCO-Object val2017 (80 things + background, 0 = background), TCL protocol.
_base_ = ['./tcl_protocol.py', './stuff_background.py']
test_dataloader = dict(
    dataset=dict(
        type='COCOObjectDataset',
        data_root='data/coco_stuff164k',
        data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017'),
    ),
)

# The head's classes on this benchmark (METHOD.md, Classification); each
# configs/clipseg_<model>_<benchmark>.py passes them to model.decode_head. Class 0 is a
# text class named by the 26 stuff names, and a pixel whose top class probability is
# below prob_thd is labelled 0 as well (both as SCLIP and NACLIP, configs/cfg_coco_object.py).
classification = dict(class_names='coco_object', background='text',
                      background_names={{_base_.stuff_background_names}}, prob_thd=0.1)
