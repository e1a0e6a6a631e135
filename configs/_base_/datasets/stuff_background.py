# The names of the background class (class 0) on VOC21 and COCO-Object: 26 stuff names, as
# line 1 of SCLIP's and NACLIP's configs/cls_voc21.txt and cls_coco_object.txt (PEERS.md;
# verbatim in mmseg_clipseg/class_names/peers/sclip/voc21.txt).
stuff_background_names = [
    'sky', 'wall', 'tree', 'wood', 'grass', 'road', 'sea', 'river', 'mountain', 'sands', 'desk',
    'bed', 'building', 'cloud', 'lamp', 'door', 'window', 'wardrobe', 'ceiling', 'shelf',
    'curtain', 'stair', 'floor', 'hill', 'rail', 'fence'
]
