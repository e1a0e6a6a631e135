"""Any image a user may have, as one kind of array: (H, W, 3) ``uint8`` in RGB order.

    from mmseg_clipseg.apis.image_io import read_rgb, to_rgb_array
    rgb = read_rgb('photo.jpg')              # a file: as tools/test.py decodes it, in RGB
    rgb = to_rgb_array(pil_image_or_array)   # an image already in memory

The channel order is always RGB (not OpenCV's and mmcv's BGR): ``rgb[..., 0]`` is red.
A user mistake (a folder, a file that is not an image, an array that is not an image) raises
:class:`~mmseg_clipseg.utils.errors.UserInputError` with a message that says what to do.

Files are decoded as MMSeg's ``LoadImageFromFile`` decodes them in ``tools/test.py``,
``inference_model`` and ``MMSegInferencer`` (``mmcv.imfrombytes``, OpenCV, ``flag='color'``),
as the peers decode their benchmark images, so a file gets the same labels from ``segment()``
as from a benchmark run, and 8-bit RGB JPEGs and PNGs (every benchmark image) are read as they
are. For other files: EXIF orientation is applied; grey images get three equal channels,
palette images their colours, CMYK is converted; transparency is ignored, as MMSeg ignores it
(to composite over white, give the image opened with PIL instead); 16-bit files keep their
high byte. Files that OpenCV cannot decode (e.g. float TIFFs; ``tools/test.py`` cannot read
them) are read with Pillow by the rules of in-memory images (:func:`to_rgb_array`), not by
mmcv's Pillow backend, which clips 16-bit values and drops transparency.
"""
import io
import os
import os.path as osp
import sys
from typing import Any, Optional

import cv2
import mmcv
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..utils.errors import MissingFileError, UserInputError

__all__ = ['decode_as_mmseg', 'read_rgb', 'to_rgb_array']

# Modes whose pixels carry an alpha channel (composited over white).
_ALPHA_MODES = ('RGBA', 'LA', 'PA', 'RGBa', 'La')
# Tolerance for float images in [0, 1] that overshoot a little through arithmetic.
_FLOAT_SLACK = 1e-3


def read_rgb(path: str) -> np.ndarray:
    """Read an image file as a (H, W, 3) ``uint8`` RGB array, as ``tools/test.py`` reads it.

    The pixels are those of MMSeg's ``LoadImageFromFile`` in its default settings (the test
    pipeline of every config here), in RGB order: see the module docstring. The file must
    also decode completely with Pillow, so that a truncated or damaged file is refused
    rather than read in part.

    Files OpenCV cannot decode are read with Pillow (else with OpenCV at any depth, e.g.
    TIFFs of three float channels) by the rules of :func:`to_rgb_array`, except for float
    values (a file's values are what they are, an array's are a choice): [0, 1] is scaled
    by 255, any other range stretched linearly to 0..255 (a constant image becomes black);
    NaN and infinite values become 0.

    Args:
        path: The image file.

    Returns:
        np.ndarray: (H, W, 3) ``uint8``, RGB order, C-contiguous.

    Raises:
        MissingFileError: ``path`` does not exist.
        UserInputError: ``path`` is a folder, or not an image file that can be decoded.
    """
    path = os.fspath(path)
    if osp.isdir(path):
        raise UserInputError(f'{path!r} is a folder, not an image file; give the path of '
                             'one image (e.g. photo.jpg).')
    if not osp.exists(path):
        raise MissingFileError(f'Image file {path!r} does not exist.')
    if not os.access(path, os.R_OK):
        raise UserInputError(f'Image file {path!r} cannot be read (no read permission).')
    with open(path, 'rb') as handle:
        data = handle.read()
    try:  # Pillow decodes the whole file: a truncated or damaged one is refused here
        pillow_image: Optional[Image.Image] = Image.open(io.BytesIO(data))
        pillow_image.load()
    except UnidentifiedImageError as error:
        pillow_image, pil_error = None, error
    except Image.DecompressionBombError as error:
        raise UserInputError(f'{path!r} is too large to decode safely ({error}).') from error
    except (OSError, SyntaxError, ValueError) as error:  # truncated or corrupt data
        raise UserInputError(f'{path!r} could not be decoded as an image ({error}); is the '
                             'file complete?') from error
    decoded = decode_as_mmseg(data)
    if decoded is not None:
        return decoded
    if pillow_image is not None:
        return _pil_to_rgb(ImageOps.exif_transpose(pillow_image), floats='stretch')
    array = decode_as_mmseg(data, flag='unchanged')
    if array is None:
        raise UserInputError(f'{path!r} is not an image file that can be read (Pillow: '
                             f'{pil_error}). Give a JPEG, PNG, TIFF, BMP or WebP image.')
    return _array_to_rgb(array, floats='stretch', where=repr(path))


def decode_as_mmseg(data: bytes, flag: str = 'color') -> Optional[np.ndarray]:
    """The image in ``data`` as MMSeg's ``LoadImageFromFile`` decodes it (mmcv, OpenCV),
    in RGB order, C-contiguous; None if OpenCV cannot decode it.

    Args:
        flag: ``'color'`` (MMSeg's default): (H, W, 3) ``uint8``; ``'unchanged'``: the
            file's own depth and channels (RGB(A) order).
    """
    try:
        image = mmcv.imfrombytes(data, flag=flag, channel_order='rgb', backend='cv2')
    except cv2.error:  # e.g. no data at all
        return None
    if image is not None and flag == 'unchanged' and image.ndim == 3 \
            and image.shape[2] in (3, 4):  # mmcv gives RGB for flag='color' only
        image = np.concatenate([image[..., 2::-1], image[..., 3:]], axis=2)
    return None if image is None else np.ascontiguousarray(image)


def to_rgb_array(image: Any) -> np.ndarray:
    """An image in memory as a (H, W, 3) ``uint8`` RGB array.

    Accepts:

    - a PIL image (any mode; EXIF orientation applied, as :func:`read_rgb` does);
    - a numpy array, channels last: (H, W) grey, (H, W, 1) grey, (H, W, 2) grey + alpha,
      (H, W, 3) RGB, (H, W, 4) RGBA. The channel order is read as RGB: an image from
      ``cv2.imread`` (BGR) must be flipped first (``image[..., ::-1]``);
    - a torch tensor, (C, H, W) (PyTorch's order) or (H, W, C), C in 1..4, or (H, W); on
      any device.

    Grey, black-and-white and palette images get three equal (or looked-up) channels; CMYK,
    YCbCr, LAB and HSV are converted to RGB; transparency (RGBA, grey + alpha, palette with a
    transparent colour) is composited over a white background.

    Value types: ``uint8`` as is; ``bool`` as black/white; ``uint16`` scaled by 255/65535;
    other integers must lie in 0..255; floats must lie in [0, 1] (they are scaled by 255 and
    rounded) -- a float image in 0..255, or one normalised with a mean and std, is refused
    rather than guessed at.

    Returns:
        np.ndarray: (H, W, 3) ``uint8``, RGB order, C-contiguous (a new array; the input is
        never modified).

    Raises:
        UserInputError: ``image`` is not one of the above, or its values are out of range.
    """
    if isinstance(image, Image.Image):
        return _pil_to_rgb(ImageOps.exif_transpose(image), floats='strict')
    if isinstance(image, np.ndarray):
        if image.ndim == 3 and image.shape[2] not in (1, 2, 3, 4) \
                and image.shape[0] in (1, 3, 4):
            raise UserInputError(f'The image array has shape {image.shape}, channels first; '
                                 'numpy images are (H, W, C): use array.transpose(1, 2, 0).')
        return _array_to_rgb(image, floats='strict', where='the image array')
    if _is_tensor(image):
        return _array_to_rgb(_tensor_to_numpy(image), floats='strict',
                             where='the image tensor')
    if isinstance(image, (str, bytes, os.PathLike)):
        raise UserInputError(f'{image!r} is a path; read files with read_rgb(path).')
    raise UserInputError(f'An image must be a PIL image, a numpy array or a torch tensor; got '
                         f'{type(image).__name__}.')


# --- PIL images -------------------------------------------------------------------------

def _pil_to_rgb(image: Image.Image, floats: str) -> np.ndarray:
    mode = image.mode
    if mode == 'P':
        mode = 'RGBA' if 'transparency' in image.info else 'RGB'
        image = image.convert(mode)
    if mode in _ALPHA_MODES:
        return _composite_over_white(np.asarray(image.convert('RGBA')))
    if mode.startswith('I;16'):
        array = np.asarray(image).astype(np.uint16)
    elif mode == 'I':
        array = _int32_to_uint16(np.asarray(image))
    elif mode in ('RGB', 'L', 'F'):
        array = np.asarray(image)
    else:  # black-and-white as grey; CMYK, YCbCr, LAB, HSV and the rest: Pillow's conversion
        array = np.asarray(image.convert('L' if mode == '1' else 'RGB'))
    return _array_to_rgb(array, floats=floats, where='the image')


def _int32_to_uint16(array: np.ndarray) -> np.ndarray:
    """Pillow's 32-bit integer mode ``I`` holds 16-bit files (PNG, TIFF) on some versions."""
    if array.size and (array.min() < 0 or array.max() > 65535):
        # Not 16-bit data: stretch like a float image of an unknown range.
        return array.astype(np.float64)
    return array.astype(np.uint16)


# --- Arrays -----------------------------------------------------------------------------

def _is_tensor(value: Any) -> bool:
    # A tensor exists only once torch is imported: no need to import it (slow) to ask.
    torch = sys.modules.get('torch')
    return torch is not None and isinstance(value, torch.Tensor)


def _tensor_to_numpy(tensor: Any) -> np.ndarray:
    import torch
    shape = tuple(tensor.shape)
    if tensor.dim() == 4:
        raise UserInputError(f'The image tensor has shape {shape}, a batch; give one image '
                             '(C, H, W), e.g. tensor[0].')
    if tensor.dim() == 3:
        if shape[0] in (1, 2, 3, 4) and shape[2] in (1, 2, 3, 4):
            # (3, 4, 3): three 4x3 channels or a 3x4 RGB image? Refused, not guessed.
            raise UserInputError(f'The image tensor has shape {shape}: its channels could be '
                                 'first or last. Give (C, H, W) or (H, W, C) with H and W '
                                 'above 4 pixels.')
        if shape[0] in (1, 2, 3, 4):
            tensor = tensor.permute(1, 2, 0)
        elif shape[2] not in (1, 2, 3, 4):
            raise UserInputError(f'The image tensor has shape {shape}; give (C, H, W) or '
                                 '(H, W, C) with 1 to 4 channels.')
    elif tensor.dim() != 2:
        raise UserInputError(f'The image tensor has shape {shape}; give (C, H, W), (H, W, C) '
                             'or (H, W).')
    tensor = tensor.detach().cpu()
    if tensor.dtype in (torch.bfloat16, torch.float16):
        tensor = tensor.float()
    return tensor.numpy()


def _array_to_rgb(array: np.ndarray, floats: str, where: str) -> np.ndarray:
    """(H, W) or (H, W, C), C in 1..4, of any value type -> (H, W, 3) uint8."""
    if array.ndim == 4:
        raise UserInputError(f'{where} has shape {array.shape}, a batch; give one image.')
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 2, 3, 4)):
        raise UserInputError(f'{where} has shape {array.shape}; an image is (H, W) grey or '
                             '(H, W, C) with C = 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 '
                             '(RGBA).')
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise UserInputError(f'{where} is empty (shape {array.shape}).')
    array = _to_uint8(array, floats, where)
    if array.ndim == 2:
        array = array[..., None]
    channels = array.shape[2]
    if channels == 2:  # grey + alpha
        array = np.concatenate([np.repeat(array[..., :1], 3, axis=2), array[..., 1:]], axis=2)
    if array.shape[2] == 4:
        return _composite_over_white(array)
    if array.shape[2] == 1:
        return np.repeat(array, 3, axis=2)
    return np.array(array, dtype=np.uint8, order='C')  # a copy, never the caller's array


def _to_uint8(array: np.ndarray, floats: str, where: str) -> np.ndarray:
    kind = array.dtype.kind
    if array.dtype == np.uint8:
        return array
    if kind == 'b':
        return array.astype(np.uint8) * 255
    if array.dtype == np.uint16:
        return np.round(array.astype(np.float32) * (255.0 / 65535.0)).astype(np.uint8)
    if kind in 'iu':
        low, high = int(array.min()), int(array.max())
        if low >= 0 and high <= 255:
            return array.astype(np.uint8)
        if floats == 'stretch':
            return _stretch(array.astype(np.float64))
        raise UserInputError(f'{where} is {array.dtype} with values {low}..{high}; integer '
                             'images must lie in 0..255 (uint8) or be uint16 (0..65535).')
    if kind == 'f':
        return _float_to_uint8(array, floats, where)
    raise UserInputError(f'{where} has values of type {array.dtype}; give uint8, uint16, '
                         'bool or float values.')


def _float_to_uint8(array: np.ndarray, floats: str, where: str) -> np.ndarray:
    array = array.astype(np.float64)
    finite = np.isfinite(array)
    if floats == 'strict' and not finite.all():
        raise UserInputError(f'{where} holds NaN or infinite values.')
    array = np.where(finite, array, 0.0)
    low, high = float(array.min()), float(array.max())
    if low >= -_FLOAT_SLACK and high <= 1.0 + _FLOAT_SLACK:
        return np.round(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)
    if floats == 'stretch':
        return _stretch(array)
    hint = ('it looks normalised with a mean and std: give the image before normalisation'
            if low < 0 else 'divide by 255, or give a uint8 array')
    raise UserInputError(f'{where} is float with values {low:.4g}..{high:.4g}; float images '
                         f'must lie in [0, 1] ({hint}).')


def _stretch(array: np.ndarray) -> np.ndarray:
    """Map the smallest value to 0 and the largest to 255 (constant: all 0)."""
    low, high = float(array.min()), float(array.max())
    if high <= low:
        return np.zeros(array.shape, np.uint8)
    return np.round((array - low) * (255.0 / (high - low))).astype(np.uint8)


def _composite_over_white(rgba: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8 RGBA -> (H, W, 3) uint8 RGB on a white background."""
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    rgb = rgba[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
    return np.ascontiguousarray(np.round(rgb).astype(np.uint8))
