"""read_rgb and to_rgb_array on every kind of image a user may have (files written here)."""
import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from mmseg_clipseg.utils.errors import MissingFileError, UserInputError
from mmseg_clipseg.apis.image_io import read_rgb, to_rgb_array

RED, WHITE = (255, 0, 0), (255, 255, 255)


def _two_colours(height=20, width=40):
    """Left half red, right half blue: where each half ends up shows the orientation."""
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[:, :width // 2] = RED
    rgb[:, width // 2:] = (0, 0, 255)
    return rgb


def _check_rgb(array, shape):
    assert array.dtype == np.uint8 and array.shape == shape and array.flags.c_contiguous


@pytest.mark.parametrize('suffix', ['.jpg', '.png'])
def test_exif_orientation_is_applied(tmp_path, suffix):
    path = tmp_path / f'rotated{suffix}'
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(_two_colours()).save(path, exif=exif)
    rgb = read_rgb(str(path))
    _check_rgb(rgb, (40, 20, 3))  # upright: taller than wide
    # Turned clockwise, the left (red) half is now on top.
    assert np.abs(rgb[:18].astype(int) - RED).max() < 40
    assert np.abs(rgb[22:].astype(int) - (0, 0, 255)).max() < 40
    # A PIL image opened by the user comes out the same way.
    with Image.open(path) as image:
        np.testing.assert_array_equal(to_rgb_array(image), rgb)


def test_plain_rgb_keeps_its_values_and_channel_order(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (9, 7, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / 'a.png')
    np.testing.assert_array_equal(read_rgb(str(tmp_path / 'a.png')), rgb)


def test_16_bit_grey_png_is_scaled_not_white(tmp_path):
    grey = np.array([[0, 257, 32896, 65535]], np.uint16)
    Image.fromarray(grey).save(tmp_path / 'g16.png')
    rgb = read_rgb(str(tmp_path / 'g16.png'))
    _check_rgb(rgb, (1, 4, 3))
    np.testing.assert_array_equal(rgb[0, :, 0], [0, 1, 128, 255])
    assert (rgb == rgb[..., :1]).all()


def test_16_bit_rgb_png(tmp_path):
    rgb16 = np.zeros((2, 3, 3), np.uint16)
    rgb16[..., 0], rgb16[..., 1] = 65535, 32896
    cv2.imwrite(str(tmp_path / 'rgb16.png'), rgb16[..., ::-1])  # OpenCV writes BGR
    np.testing.assert_array_equal(read_rgb(str(tmp_path / 'rgb16.png'))[0, 0], [255, 128, 0])


def test_float_tiff_in_unit_range_is_scaled_by_255(tmp_path):
    values = np.array([[0.0, 0.5, 1.0]], np.float32)
    Image.fromarray(values).save(tmp_path / 'f.tif')
    with Image.open(tmp_path / 'f.tif') as image:
        assert image.mode == 'F'
    np.testing.assert_array_equal(read_rgb(str(tmp_path / 'f.tif'))[0, :, 1], [0, 128, 255])


def test_float_tiff_beyond_unit_range_is_stretched(tmp_path):
    values = np.array([[-10.0, 495.0, 1000.0, np.nan]], np.float32)
    Image.fromarray(values).save(tmp_path / 'f.tif')
    np.testing.assert_array_equal(read_rgb(str(tmp_path / 'f.tif'))[0, :, 2],
                                  [0, 128, 255, 3])  # NaN -> 0, then stretched with the rest


def test_three_channel_float_tiff_through_opencv(tmp_path):
    rgb = np.zeros((2, 2, 3), np.float32)
    rgb[..., 0] = 1.0
    cv2.imwrite(str(tmp_path / 'f3.tif'), rgb[..., ::-1])
    np.testing.assert_array_equal(read_rgb(str(tmp_path / 'f3.tif'))[0, 0], RED)


def test_grey_black_and_white_and_palette(tmp_path):
    Image.fromarray(np.array([[0, 100, 255]], np.uint8)).save(tmp_path / 'l.png')
    np.testing.assert_array_equal(read_rgb(str(tmp_path / 'l.png'))[0],
                                  [[0] * 3, [100] * 3, [255] * 3])
    Image.fromarray(np.array([[False, True]])).save(tmp_path / 'bw.png')
    np.testing.assert_array_equal(read_rgb(str(tmp_path / 'bw.png'))[0], [[0] * 3, [255] * 3])
    palette = Image.fromarray(np.array([[0, 1]], np.uint8), mode='P')
    palette.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    palette.save(tmp_path / 'p.png')
    np.testing.assert_array_equal(read_rgb(str(tmp_path / 'p.png'))[0], [RED, (0, 255, 0)])
    palette.save(tmp_path / 'p_transparent.png', transparency=1)
    # A file's transparency is ignored, as MMSeg's LoadImageFromFile ignores it; a PIL
    # image's is composited over white.
    np.testing.assert_array_equal(read_rgb(str(tmp_path / 'p_transparent.png'))[0],
                                  [RED, (0, 255, 0)])
    with Image.open(tmp_path / 'p_transparent.png') as image:
        np.testing.assert_array_equal(to_rgb_array(image)[0], [RED, WHITE])


def test_alpha_of_a_file_is_ignored_and_of_an_image_in_memory_composited(tmp_path):
    rgba = np.array([[[255, 0, 0, 255], [255, 0, 0, 0], [0, 0, 0, 128]]], np.uint8)
    Image.fromarray(rgba, mode='RGBA').save(tmp_path / 'rgba.png')
    np.testing.assert_array_equal(read_rgb(str(tmp_path / 'rgba.png'))[0], rgba[0, :, :3])
    composited = [RED, WHITE, [127, 127, 127]]
    np.testing.assert_array_equal(to_rgb_array(rgba)[0], composited)
    with Image.open(tmp_path / 'rgba.png') as image:
        np.testing.assert_array_equal(to_rgb_array(image)[0], composited)
    grey_alpha = np.array([[[0, 255], [0, 0]]], np.uint8)
    Image.fromarray(grey_alpha, mode='LA').save(tmp_path / 'la.png')
    np.testing.assert_array_equal(read_rgb(str(tmp_path / 'la.png'))[0], [[0] * 3, [0] * 3])
    np.testing.assert_array_equal(to_rgb_array(grey_alpha)[0], [[0] * 3, WHITE])


def test_cmyk_jpeg(tmp_path):
    cmyk = np.zeros((8, 8, 4), np.uint8)
    cmyk[:, 4:] = (0, 255, 255, 0)  # red
    Image.fromarray(cmyk, mode='CMYK').save(tmp_path / 'cmyk.jpg', quality=100)
    rgb = read_rgb(str(tmp_path / 'cmyk.jpg'))
    _check_rgb(rgb, (8, 8, 3))
    assert np.abs(rgb[:, :2].astype(int) - WHITE).max() < 20
    assert np.abs(rgb[:, 6:].astype(int) - RED).max() < 20


def test_a_folder_is_not_reported_as_missing(tmp_path):
    with pytest.raises(UserInputError, match='is a folder, not an image file') as caught:
        read_rgb(str(tmp_path))
    assert not isinstance(caught.value, MissingFileError)


def test_missing_file(tmp_path):
    with pytest.raises(MissingFileError, match='does not exist'):
        read_rgb(str(tmp_path / 'nowhere.jpg'))


@pytest.mark.parametrize('content', [b'not an image at all\n', b''])
def test_a_file_that_is_not_an_image(tmp_path, content):
    path = tmp_path / 'notes.jpg'
    path.write_bytes(content)
    with pytest.raises(UserInputError, match='not an image file'):
        read_rgb(str(path))


def test_a_truncated_image(tmp_path):
    Image.fromarray(_two_colours(64, 64)).save(tmp_path / 'full.png')
    data = (tmp_path / 'full.png').read_bytes()
    (tmp_path / 'cut.png').write_bytes(data[:len(data) // 2])
    with pytest.raises(UserInputError, match='cut.png'):
        read_rgb(str(tmp_path / 'cut.png'))


# --- In-memory images --------------------------------------------------------------------

def test_numpy_grey_and_rgb_layouts():
    grey = np.array([[0, 7], [200, 255]], np.uint8)
    expected = np.repeat(grey[..., None], 3, axis=2)
    np.testing.assert_array_equal(to_rgb_array(grey), expected)
    np.testing.assert_array_equal(to_rgb_array(grey[..., None]), expected)
    rgb = _two_colours()
    result = to_rgb_array(rgb)
    np.testing.assert_array_equal(result, rgb)
    result[:] = 0
    assert rgb.max() == 255  # a copy: the caller's array is untouched


def test_numpy_value_types():
    np.testing.assert_array_equal(to_rgb_array(np.array([[0, 32896, 65535]], np.uint16))[0, :, 0],
                                  [0, 128, 255])
    np.testing.assert_array_equal(to_rgb_array(np.array([[0.0, 0.5, 1.0]]))[0, :, 0],
                                  [0, 128, 255])
    np.testing.assert_array_equal(to_rgb_array(np.array([[0, 255]], np.int64))[0, :, 0],
                                  [0, 255])
    np.testing.assert_array_equal(to_rgb_array(np.array([[False, True]]))[0, :, 0], [0, 255])


@pytest.mark.parametrize('array, message', [
    (np.full((4, 4, 3), 200.0, np.float32), 'divide by 255'),
    (np.full((4, 4, 3), -1.5, np.float32), 'normalised'),
    (np.full((4, 4), np.nan, np.float32), 'NaN'),
    (np.full((4, 4), 300, np.int32), 'uint16'),
    (np.zeros((3, 32, 32), np.uint8), 'transpose'),
    (np.zeros((6, 6, 5), np.uint8), "RGBA"),
    (np.zeros((2, 4, 4, 3), np.uint8), 'batch'),
    (np.zeros((0, 4, 3), np.uint8), 'empty'),
    (np.zeros((4, 4), np.complex64), 'complex64'),
])
def test_numpy_mistakes(array, message):
    with pytest.raises(UserInputError, match=message):
        to_rgb_array(array)


def test_torch_channel_first_and_last_agree():
    rgb = _two_colours()
    chw = torch.from_numpy(rgb).permute(2, 0, 1)
    np.testing.assert_array_equal(to_rgb_array(chw), rgb)
    np.testing.assert_array_equal(to_rgb_array(torch.from_numpy(rgb)), rgb)
    np.testing.assert_array_equal(to_rgb_array(chw.float() / 255), rgb)
    np.testing.assert_array_equal(to_rgb_array(chw.half() / 255), rgb)
    np.testing.assert_array_equal(to_rgb_array(chw[0]), np.repeat(rgb[..., :1], 3, axis=2))


def test_torch_mistakes():
    with pytest.raises(UserInputError, match='batch'):
        to_rgb_array(torch.zeros(1, 3, 8, 8))
    with pytest.raises(UserInputError, match=r'\(C, H, W\)'):
        to_rgb_array(torch.zeros(8, 8, 8))
    with pytest.raises(UserInputError, match='normalised'):
        to_rgb_array(torch.randn(3, 8, 8) - 5)


def test_pil_modes_in_memory():
    np.testing.assert_array_equal(to_rgb_array(Image.new('CMYK', (2, 2), (0, 0, 0, 0))),
                                  np.full((2, 2, 3), 255, np.uint8))
    np.testing.assert_array_equal(to_rgb_array(Image.new('L', (2, 1), 9)), np.full((1, 2, 3), 9))
    np.testing.assert_array_equal(to_rgb_array(Image.new('RGBA', (1, 1), (0, 0, 0, 0))),
                                  np.full((1, 1, 3), 255))


@pytest.mark.parametrize('value, message', [('photo.jpg', 'read_rgb'), ([1, 2], 'list')])
def test_other_inputs_are_refused(value, message):
    with pytest.raises(UserInputError, match=message):
        to_rgb_array(value)
