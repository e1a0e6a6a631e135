"""A file gives the same pixels, and so the same labels, in tools/test.py's pipeline (MMSeg's
LoadImageFromFile) and in read_rgb / segment(), for every kind of file image_io reads."""
import glob

import cv2
import numpy as np
import pytest
import torch
from mmcv.transforms import LoadImageFromFile
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from PIL import Image

from mmseg_clipseg.apis import init_segmentor, segment
from mmseg_clipseg.datasets.synthetic_scenes import generate_scenes
from mmseg_clipseg.apis.image_io import read_rgb

CONFIG = 'configs/clipseg_tiny_synthetic.py'


def _smooth_rgb(height=24, width=32) -> np.ndarray:
    """A colourful image with gradients (JPEG's decoders differ most on such content)."""
    rows, cols = np.mgrid[0:height, 0:width]
    return np.stack([rows * 255 // height, cols * 255 // width,
                     (rows + cols) * 127 // (height + width) + 64], axis=2).astype(np.uint8)


def _orientation_exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation  # 6: turn clockwise to display, 8: counter-clockwise
    return exif


def _palette() -> Image.Image:
    image = Image.fromarray(np.array([[0, 1, 2], [2, 1, 0]], np.uint8), mode='P')
    image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 759)
    return image


def _write(kind: str, folder) -> str:
    """Write one kind of image file; returns its path."""
    rgb = _smooth_rgb()
    rng = np.random.default_rng(0)
    alpha = rng.integers(0, 256, rgb.shape[:2], dtype=np.uint8)
    grey16 = np.array([[0, 128, 129, 257, 32896, 65407, 65535]], np.uint16)
    pil = {
        'jpeg': (Image.fromarray(rgb), '.jpg', {}),
        'png_rgb': (Image.fromarray(rgb), '.png', {}),
        'jpeg_grey': (Image.fromarray(rgb[..., 0]), '.jpg', {}),
        'png_grey': (Image.fromarray(rgb[..., 1]), '.png', {}),
        'png_black_and_white': (Image.fromarray(rgb[..., 0] > 100), '.png', {}),
        'png_palette': (_palette(), '.png', {}),
        'png_palette_transparent': (_palette(), '.png', {'transparency': 1}),
        'png_rgba': (Image.fromarray(np.dstack([rgb, alpha]), mode='RGBA'), '.png', {}),
        'png_grey_alpha': (Image.fromarray(np.dstack([rgb[..., 2], alpha]), mode='LA'),
                           '.png', {}),
        'png_16_bit_grey': (Image.fromarray(grey16), '.png', {}),
        'jpeg_cmyk': (Image.fromarray(np.dstack([rgb, rgb[..., :1]]), mode='CMYK'), '.jpg',
                      {}),
        'jpeg_exif_rotated': (Image.fromarray(rgb), '.jpg', {'exif': _orientation_exif(6)}),
        'png_exif_rotated': (Image.fromarray(rgb), '.png', {'exif': _orientation_exif(8)}),
        'bmp': (Image.fromarray(rgb), '.bmp', {}),
        'webp': (Image.fromarray(rgb), '.webp', {}),
        'gif': (Image.fromarray(rgb).convert('P'), '.gif', {}),
        'tiff_rgb': (Image.fromarray(rgb), '.tif', {}),
    }
    path = str(folder / kind)
    if kind == 'png_16_bit_rgb':
        rgb16 = np.dstack([grey16, grey16[:, ::-1], grey16 // 2])
        cv2.imwrite(path + '.png', rgb16[..., ::-1])  # OpenCV writes BGR
        return path + '.png'
    image, suffix, options = pil[kind]
    image.save(path + suffix, **options)
    return path + suffix


KINDS = ['jpeg', 'png_rgb', 'jpeg_grey', 'png_grey', 'png_black_and_white', 'png_palette',
         'png_palette_transparent', 'png_rgba', 'png_grey_alpha', 'png_16_bit_grey',
         'png_16_bit_rgb', 'jpeg_cmyk', 'jpeg_exif_rotated', 'png_exif_rotated', 'bmp', 'webp',
         'gif', 'tiff_rgb']


def test_every_test_pipeline_loads_images_with_mmsegs_default_loader():
    """The pipelines the next test stands for: LoadImageFromFile in its default settings."""
    configs = sorted(glob.glob('configs/_base_/datasets/*.py')) + [CONFIG]
    for path in configs:
        pipeline = Config.fromfile(path).get('test_pipeline')
        if pipeline is not None:
            assert dict(pipeline[0]) == dict(type='LoadImageFromFile'), path


@pytest.mark.parametrize('kind', KINDS)
def test_read_rgb_equals_mmsegs_load_image_from_file(tmp_path, kind):
    path = _write(kind, tmp_path)
    loaded = LoadImageFromFile()(dict(img_path=path))['img']  # BGR, as the pipeline has it
    rgb = read_rgb(path)
    assert rgb.dtype == np.uint8 and rgb.flags.c_contiguous
    np.testing.assert_array_equal(rgb, loaded[..., ::-1])


def test_benchmark_images_are_read_unchanged(tmp_path):
    """8-bit RGB PNGs (lossless) give their pixels; JPEGs what OpenCV decodes."""
    rgb = _smooth_rgb()
    np.testing.assert_array_equal(read_rgb(_write('png_rgb', tmp_path)), rgb)
    jpeg = _write('jpeg', tmp_path)
    np.testing.assert_array_equal(read_rgb(jpeg), cv2.imread(jpeg)[..., ::-1])


def test_a_file_mmseg_cannot_decode_is_still_read(tmp_path):
    """Float TIFFs: OpenCV's colour decoding fails (tools/test.py stops); read_rgb reads
    them with Pillow by its own rules."""
    Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32)).save(tmp_path / 'f.tif')
    with pytest.raises(Exception):
        LoadImageFromFile()(dict(img_path=str(tmp_path / 'f.tif')))
    np.testing.assert_array_equal(read_rgb(str(tmp_path / 'f.tif'))[0, :, 0], [0, 128, 255])


def _pipeline_labels(cfg: Config, segmentor: torch.nn.Module, path: str) -> np.ndarray:
    """The labels tools/test.py gives: the config's pipeline from the file, without labels."""
    pipeline = Compose([step for step in cfg.test_pipeline
                        if step['type'] != 'LoadAnnotations'])
    with torch.no_grad():
        sample, = segmentor.test_step(pseudo_collate([pipeline(dict(img_path=path))]))
    return sample.pred_sem_seg.data[0].numpy()


@pytest.mark.parametrize('kind', ['png_rgba', 'png_16_bit', 'jpeg'])
def test_segment_and_the_test_pipeline_give_the_same_labels(tmp_path, kind):
    scene, = generate_scenes(1, seed=3)
    rgb = scene.image
    path = str(tmp_path / f'{kind}.png')
    if kind == 'png_rgba':  # half transparent: the stored colours are what MMSeg sees
        alpha = np.full(rgb.shape[:2], 255, np.uint8)
        alpha[:, 32:] = 0
        Image.fromarray(np.dstack([rgb, alpha]), mode='RGBA').save(path)
    elif kind == 'png_16_bit':
        cv2.imwrite(path, rgb[..., ::-1].astype(np.uint16) * 256 + 129)
    else:
        path = path[:-4] + '.jpg'
        Image.fromarray(rgb).save(path, quality=80)
    segmentor = init_segmentor(CONFIG, device='cpu')
    expected = _pipeline_labels(Config.fromfile(CONFIG), segmentor, path)
    result = segment(segmentor, path, 'synthetic')
    np.testing.assert_array_equal(result.labels, expected)
