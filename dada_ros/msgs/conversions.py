# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Conversions between ROS 2 messages and numpy arrays (no cv_bridge, no sensor_msgs_py).

Everything the node translates lives here:

* :func:`image_to_rgb` - ``sensor_msgs/Image`` in ``rgb8``, ``bgr8``, ``rgba8``, ``bgra8`` or
  ``mono8`` to an ``(H, W, 3)`` uint8 array in RGB order.
* :func:`image_to_depth` - ``16UC1`` (millimetres, 0 = invalid) or ``32FC1`` (metres; 0,
  negative, NaN and Inf = invalid) to an ``(H, W)`` float32 array in metres, NaN = invalid
  (REP 118); :func:`image_to_depth_checked` also reports valid and infinite pixel counts.
* :func:`image_to_array` - the raw pixel array of any supported encoding.
* :func:`array_to_image`, :func:`depth_to_image`, :func:`rgb_to_image` - the other way.
* :func:`camera_info_to_k` - ``sensor_msgs/CameraInfo`` to a validated 3x3 float64 ``K``;
  :func:`camera_info_fits` and :func:`output_camera_info` - the camera_info published with
  the dense depth (shared by the node and the offline bag tool).
* point clouds (``PointCloud2``) in :mod:`dada_ros.msgs.clouds`.

Row padding (``step`` larger than ``width * bytes_per_pixel``) and ``is_bigendian`` are
honoured on input; malformed messages raise subclasses of :class:`ImageConversionError`
(a ``ValueError``) whose ``kind`` names the problem, so callers can count errors by kind.
Input messages and arrays are never modified.
"""

from __future__ import annotations

import array
import sys
from typing import Any, Dict, NamedTuple, Optional, Tuple

import numpy as np
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from ..core.geometry import validate_intrinsics
from ..core.params import BY_NAME

__all__ = [
    'ImageConversionError', 'UnsupportedEncodingError', 'EmptyImageError',
    'StepTooSmallError', 'DataTooShortError', 'DataTooLongError', 'ImageTooLargeError',
    'CameraInfoError', 'BadStampError',
    'MAX_PIXELS', 'check_image_size', 'check_stamp',
    'CloudMissingFieldError', 'CloudFieldError', 'CloudDataError', 'CloudByteOrderError',
    'ENCODINGS', 'COLOR_ENCODINGS', 'DEPTH_ENCODINGS', 'MILLIMETRE_ENCODINGS',
    'image_to_array', 'image_to_rgb', 'image_to_depth', 'image_to_depth_checked', 'DepthReport',
    'array_to_image', 'rgb_to_image', 'depth_to_image',
    'copy_header', 'camera_info_to_k', 'camera_info_fits', 'output_camera_info',
    'keeping_message',
]

_HOST_BIG_ENDIAN = sys.byteorder == 'big'
#: Whether this distro's generated messages take ``check_fields`` (Jazzy and later).
_CHECK_FIELDS = '_check_fields' in Image.__slots__


def keeping_message(message_type: Any) -> Any:
    """Return a new message of ``message_type`` whose byte-array setters keep the array.

    Since Jazzy a ``uint8[]`` setter copies an ``array('B')`` (1-4 ms for an image or a
    cloud at 1280x720) unless the message was made with ``check_fields=True``; then it
    checks the type and keeps the object (older distros always keep it). The other fields
    are then type-checked as they are set, which costs microseconds.
    """
    return message_type(check_fields=True) if _CHECK_FIELDS else message_type()


class ImageConversionError(ValueError):
    """A message that cannot be converted; ``kind`` is a short counter name."""

    kind = 'conversion_error'


class UnsupportedEncodingError(ImageConversionError):
    """The image encoding is unknown or not valid for this input."""

    kind = 'unknown_encoding'


class EmptyImageError(ImageConversionError):
    """The image has zero width or height."""

    kind = 'empty_image'


class StepTooSmallError(ImageConversionError):
    """``step`` is smaller than ``width * bytes_per_pixel``."""

    kind = 'step_too_small'


class DataTooShortError(ImageConversionError):
    """``data`` holds fewer than ``step * height`` bytes."""

    kind = 'data_too_short'


class DataTooLongError(ImageConversionError):
    """``data`` holds more than ``step * height`` bytes (the header does not fit the data)."""

    kind = 'data_too_long'


class BadStampError(ImageConversionError):
    """A header stamp that is not a valid time (``nanosec`` of 1e9 or more)."""

    kind = 'bad_stamp'


class CloudMissingFieldError(ImageConversionError):
    """A ``PointCloud2`` lacks one of the ``x``, ``y``, ``z`` fields."""

    kind = 'cloud_missing_field'


class CloudFieldError(ImageConversionError):
    """An ``x``/``y``/``z`` field is not a float32/float64 scalar inside ``point_step``."""

    kind = 'cloud_bad_field'


class CloudDataError(ImageConversionError):
    """``point_step``/``row_step`` do not fit the points, or ``data`` is too short."""

    kind = 'cloud_data_too_short'


class ImageTooLargeError(ImageConversionError):
    """An image declares more pixels than ``input.max_pixels`` (refused before decoding)."""

    kind = 'image_too_large'


class CloudByteOrderError(ImageConversionError):
    """A cloud whose coordinates only make sense in the other byte order than it says."""

    kind = 'cloud_byte_order'


class CameraInfoError(ValueError):
    """A ``CameraInfo`` whose ``K`` is unusable (all zero, wrong length, fx/fy <= 0)."""

    kind = 'bad_camera_info'


#: encoding -> (numpy scalar type, channels).
ENCODINGS: Dict[str, Tuple[type, int]] = {
    'rgb8': (np.uint8, 3),
    'bgr8': (np.uint8, 3),
    'rgba8': (np.uint8, 4),
    'bgra8': (np.uint8, 4),
    'mono8': (np.uint8, 1),
    '16UC1': (np.uint16, 1),
    'mono16': (np.uint16, 1),
    '32FC1': (np.float32, 1),
}
COLOR_ENCODINGS = ('rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8')
#: ``mono16`` is what some drivers (e.g. OpenNI-era and Orbbec cameras) call 16-bit depth;
#: it is read as ``16UC1`` millimetres.
DEPTH_ENCODINGS = ('16UC1', 'mono16', '32FC1')
#: Depth encodings holding uint16 millimetres.
MILLIMETRE_ENCODINGS = ('16UC1', 'mono16')


#: Default of ``input.max_pixels``: the largest image (width x height) any decoder accepts.
MAX_PIXELS: int = int(BY_NAME['input.max_pixels'].default)


def check_image_size(width: int, height: int, max_pixels: int, what: str) -> None:
    """Refuse an image that declares more than ``max_pixels`` pixels, before decoding it.

    The one bound of every decoder (raw images, PNG, JPEG, RVL): the declared size is read
    from the message or the codec's header, so a small message cannot make a huge array.

    Raises:
        ImageTooLargeError: ``width * height > max_pixels``.
    """
    pixels = int(width) * int(height)
    if pixels > int(max_pixels):
        raise ImageTooLargeError(
            f'{what} declares {width}x{height} = {pixels} pixels, more than input.max_pixels '
            f'= {max_pixels}; refused before decoding')


def check_stamp(header: Header, what: str) -> None:
    """Refuse a header whose stamp is not a valid time (``builtin_interfaces/Time``).

    ``nanosec`` must be below 1e9; a larger one would pair the message at a time it does
    not say and be copied into the outputs' headers.

    Raises:
        BadStampError: ``nanosec >= 1e9``.
    """
    nanosec = int(header.stamp.nanosec)
    if nanosec >= 1_000_000_000:
        raise BadStampError(f'{what}: header stamp {header.stamp.sec} s + {nanosec} ns has '
                            'nanosec of 1e9 or more: not a valid time')


def _pixel_dtype(encoding: str, big_endian: bool) -> Tuple[np.dtype, int]:
    try:
        scalar, channels = ENCODINGS[encoding]
    except KeyError:
        raise UnsupportedEncodingError(
            f'unsupported image encoding {encoding!r}; supported: {list(ENCODINGS)}') from None
    dtype = np.dtype(scalar).newbyteorder('>' if big_endian else '<')
    return dtype, channels


def image_to_array(msg: Image, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Return the pixels of ``msg`` as a new array in host byte order without padding.

    The shape is ``(H, W)`` for one-channel encodings and ``(H, W, C)`` otherwise; the
    dtype is uint8, uint16 or float32 as the encoding says. ``data`` must hold exactly
    ``step * height`` bytes: more is a header that does not describe the data.

    Raises:
        UnsupportedEncodingError, EmptyImageError, ImageTooLargeError (more than
        ``max_pixels``), StepTooSmallError, DataTooShortError, DataTooLongError.
    """
    dtype, channels = _pixel_dtype(msg.encoding, bool(msg.is_bigendian))
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height == 0 or width == 0:
        raise EmptyImageError(f'empty image ({width}x{height}, encoding {msg.encoding})')
    check_image_size(width, height, max_pixels, f'{msg.encoding} image')
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise StepTooSmallError(
            f'step {step} is smaller than width * bytes per pixel = {row_bytes} '
            f'({width} px, {msg.encoding})')
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size < step * height:
        raise DataTooShortError(
            f'image data has {data.size} bytes, expected step * height = {step * height}')
    if data.size > step * height:
        raise DataTooLongError(
            f'image data has {data.size} bytes, more than step * height = {step * height} '
            f'({width}x{height}, step {step}): the header does not describe the data')
    rows = data[:step * height].reshape(height, step)[:, :row_bytes]
    pixels = np.ascontiguousarray(rows).view(dtype)
    pixels = pixels.astype(dtype.newbyteorder('='), copy=True)
    shape = (height, width) if channels == 1 else (height, width, channels)
    return pixels.reshape(shape)


def image_to_rgb(msg: Image, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Convert a color or mono image to an ``(H, W, 3)`` uint8 array in RGB order."""
    if msg.encoding not in COLOR_ENCODINGS:
        raise UnsupportedEncodingError(
            f'encoding {msg.encoding!r} is not a color encoding; expected one of '
            f'{list(COLOR_ENCODINGS)}')
    pixels = image_to_array(msg, max_pixels)
    if msg.encoding == 'mono8':
        return np.repeat(pixels[:, :, None], 3, axis=2)
    if msg.encoding in ('bgr8', 'bgra8'):
        return np.ascontiguousarray(pixels[:, :, 2::-1])
    return np.ascontiguousarray(pixels[:, :, :3])


def image_to_depth(msg: Image, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Convert a depth image to ``(H, W)`` float32 metres with NaN for invalid pixels.

    ``16UC1`` and ``mono16`` are read as millimetres (0 = invalid); ``32FC1`` as metres (0,
    negative values, NaN and Inf are invalid).
    """
    return image_to_depth_checked(msg, max_pixels)[0]


class DepthReport(NamedTuple):
    """What :func:`image_to_depth_checked` found in a depth image."""

    valid: int
    """Number of valid (finite, positive) pixels."""
    infinite: int
    """Number of +-Inf pixels in a ``32FC1`` image (turned into NaN)."""
    total: int
    """Number of pixels."""
    negative: int = 0
    """Number of finite negative pixels in a ``32FC1`` image (turned into NaN)."""


def image_to_depth_checked(msg: Image,
                           max_pixels: int = MAX_PIXELS) -> Tuple[np.ndarray, DepthReport]:
    """Like :func:`image_to_depth`, also counting valid, infinite and negative input pixels."""
    if msg.encoding not in DEPTH_ENCODINGS:
        raise UnsupportedEncodingError(
            f'encoding {msg.encoding!r} is not a depth encoding; expected one of '
            f'{list(DEPTH_ENCODINGS)}')
    pixels = image_to_array(msg, max_pixels)
    infinite = negative = 0
    if msg.encoding in MILLIMETRE_ENCODINGS:
        depth = pixels.astype(np.float32) * np.float32(0.001)
        depth[pixels == 0] = np.nan
    else:
        depth = pixels  # a new array already
        with np.errstate(invalid='ignore'):
            infinite = int(np.count_nonzero(np.isinf(depth)))
            negative = int(np.count_nonzero(depth < 0)) - int(np.count_nonzero(depth == -np.inf))
            depth[~(np.isfinite(depth) & (depth > 0))] = np.nan
    valid = int(np.count_nonzero(~np.isnan(depth)))
    return depth, DepthReport(valid=valid, infinite=infinite, total=int(depth.size),
                              negative=negative)


def copy_header(header: Header) -> Header:
    """Return an independent copy of ``header`` (stamp and frame_id)."""
    out = Header()
    out.stamp.sec = header.stamp.sec
    out.stamp.nanosec = header.stamp.nanosec
    out.frame_id = header.frame_id
    return out


def array_to_image(pixels: np.ndarray, encoding: str, header: Optional[Header] = None,
                   step: Optional[int] = None, big_endian: bool = _HOST_BIG_ENDIAN) -> Image:
    """Build an ``Image`` from an array in any supported encoding.

    Args:
        pixels: ``(H, W)`` or ``(H, W, C)`` array matching ``encoding`` (values are cast to
            the encoding's dtype).
        encoding: a key of :data:`ENCODINGS`.
        header: copied into the message (default: an empty header).
        step: row length in bytes; larger than ``W * bytes_per_pixel`` adds zero padding.
        big_endian: byte order of the data (default: the host's).
    """
    dtype, channels = _pixel_dtype(encoding, big_endian)
    pixels = np.asarray(pixels)
    expected_ndim = 2 if channels == 1 else 3
    if pixels.ndim == 3 and channels == 1 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.ndim != expected_ndim or (channels > 1 and pixels.shape[2] != channels):
        raise ValueError(f'array of shape {pixels.shape} does not fit encoding {encoding!r} '
                         f'({channels} channel(s))')
    height, width = pixels.shape[:2]
    row_bytes = width * channels * dtype.itemsize
    step = row_bytes if step is None else int(step)
    if step < row_bytes:
        raise StepTooSmallError(f'step {step} is smaller than the row size {row_bytes}')
    rows = np.ascontiguousarray(pixels, dtype=dtype).reshape(height, -1).view(np.uint8)
    if step > row_bytes:
        padded = np.zeros((height, step), dtype=np.uint8)
        padded[:, :row_bytes] = rows
        rows = padded
    msg = keeping_message(Image)
    if header is not None:
        msg.header = copy_header(header)
    msg.height = int(height)
    msg.width = int(width)
    msg.encoding = encoding
    msg.is_bigendian = int(big_endian)
    msg.step = int(step)
    msg.data = _byte_array(rows)  # kept, not copied again (keeping_message)
    return msg


def _require_array(name: str, value: object) -> None:
    """Raise ``TypeError`` unless ``value`` is a numpy array (not a list, scalar, ...)."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f'{name} must be a numpy array, got {type(value).__name__}')


def rgb_to_image(rgb: np.ndarray, header: Optional[Header] = None,
                 encoding: str = 'rgb8') -> Image:
    """Build an ``rgb8`` (or ``bgr8``) image from an ``(H, W, 3)`` uint8 RGB array.

    Raises:
        TypeError: ``rgb`` is not a numpy array.
        ValueError: wrong shape or dtype.
    """
    _require_array('rgb', rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f'rgb must be (H, W, 3) uint8, got {rgb.dtype} {rgb.shape}')
    if encoding == 'bgr8':
        rgb = rgb[:, :, ::-1]
    elif encoding != 'rgb8':
        raise UnsupportedEncodingError(f"rgb_to_image writes 'rgb8' or 'bgr8', not {encoding!r}")
    return array_to_image(rgb, encoding, header)


def depth_to_image(depth: np.ndarray, header: Optional[Header] = None) -> Image:
    """Build a ``32FC1`` image (metres, NaN = invalid, REP 118) from an ``(H, W)`` array.

    Raises:
        TypeError: ``depth`` is not a numpy array.
        ValueError: wrong shape or dtype.
    """
    _require_array('depth', depth)
    if depth.ndim != 2 or not np.issubdtype(depth.dtype, np.floating):
        raise ValueError(f'depth must be an (H, W) float array, got {depth.dtype} {depth.shape}')
    return array_to_image(depth, '32FC1', header)


def camera_info_to_k(msg: CameraInfo) -> np.ndarray:
    """Return the validated ``(3, 3)`` float64 camera matrix of ``msg``.

    Raises:
        CameraInfoError: ``k`` does not have 9 finite values, is all zero, or fx/fy <= 0.
    """
    try:
        return validate_intrinsics(np.asarray(msg.k, dtype=np.float64))
    except ValueError as error:
        raise CameraInfoError(f'camera_info: {error}') from None


def camera_info_fits(info: CameraInfo, width: int, height: int) -> bool:
    """Whether ``info`` describes a ``width`` x ``height`` image (a 0x0 size means any)."""
    return (int(info.width), int(info.height)) in ((0, 0), (int(width), int(height)))


def output_camera_info(info: CameraInfo, header: Header) -> CameraInfo:
    """Return a copy of the RGB camera_info ``info`` stamped with ``header``.

    This is the ``depth_dense/camera_info`` message: the dense depth lives in the RGB
    camera, so its calibration is the RGB one; only the header changes. ``info`` is not
    modified.
    """
    out = CameraInfo()
    out.header = copy_header(header)
    out.height, out.width = info.height, info.width
    out.distortion_model = info.distortion_model
    out.d = list(info.d)
    out.k, out.r, out.p = info.k, info.r, info.p
    out.binning_x, out.binning_y = info.binning_x, info.binning_y
    out.roi.x_offset, out.roi.y_offset = info.roi.x_offset, info.roi.y_offset
    out.roi.height, out.roi.width = info.roi.height, info.roi.width
    out.roi.do_rectify = info.roi.do_rectify
    return out


def _byte_array(values: np.ndarray) -> 'array.array[int]':
    """Copy a C-contiguous array into the ``array('B')`` a message ``data`` field holds."""
    data = array.array('B')
    data.frombytes(np.ascontiguousarray(values).reshape(-1).view(np.uint8).data)
    return data
