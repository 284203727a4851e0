# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""``sensor_msgs/CompressedImage`` decoding (and encoding, for tests and sample bags).

Two image_transport formats are read, as their publishers write them:

* ``compressed`` (compressed_image_transport), colour: ``format`` is
  ``'<encoding>; <jpeg|png> compressed <target>'`` (e.g. ``'rgb8; jpeg compressed bgr8'``)
  or, from older or third-party publishers, just ``'jpeg'`` / ``'png'``. The data is a
  JPEG or PNG file; OpenCV decodes it to BGR, which is the channel order of every target
  the publisher writes (``bgr8``, ``bgr16``, ``mono8``), so it is turned into RGB unless
  the target says ``rgb``. :func:`compressed_to_rgb` returns ``(H, W, 3)`` uint8 RGB.
* ``compressedDepth`` (compressed_depth_image_transport): ``format`` is
  ``'<16UC1|32FC1>; compressedDepth <png|rvl>'`` (``'...; compressedDepth'`` and a bare
  encoding mean PNG, as in older releases); the data is the 12-byte configuration header
  and the PNG or RVL image (see :mod:`dada_ros.msgs.depth_codecs`).
  :func:`compressed_to_depth` returns ``(H, W)`` float32 metres, NaN = invalid, like
  :func:`dada_ros.msgs.conversions.image_to_depth`.

Decompression bombs: the size a PNG (IHDR) or JPEG (SOF) declares is read before
decoding and checked against ``max_pixels`` (the ``input.max_pixels`` parameter), as the
RVL size prefix is; data that is neither PNG nor JPEG is refused rather than handed to
OpenCV's guessing among other formats.

Errors are :class:`~dada_ros.msgs.conversions.ImageConversionError` subclasses with their own
``kind``: :class:`UnsupportedFormatError` (``unsupported_format``: a format this node does
not read, e.g. ``theora``, or a depth format on the colour input),
:class:`~dada_ros.msgs.conversions.ImageTooLargeError` (``image_too_large``),
:class:`CompressedHeaderError` (``bad_compressed_header``: a compressedDepth configuration
header no publisher writes) and :class:`CompressedDataError` (``bad_compressed_data``:
data that does not decode). Input messages are never modified.
"""

from __future__ import annotations

import struct
from typing import Optional, Tuple

import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage
from std_msgs.msg import Header

from .conversions import check_image_size, copy_header, ImageConversionError, MAX_PIXELS, \
    MILLIMETRE_ENCODINGS
from .depth_codecs import (check_config_header, CONFIG_HEADER_SIZE, dequantize_inverse_depth,
                           pack_config_header, quantize_inverse_depth, rvl_decode, rvl_encode,
                           unpack_config_header)

__all__ = [
    'UnsupportedFormatError', 'CompressedDataError', 'CompressedHeaderError',
    'is_compressed_depth',
    'parse_color_format', 'parse_depth_format', 'declared_size', 'compressed_to_rgb',
    'compressed_to_depth',
    'rgb_to_compressed', 'depth_to_compressed_depth',
]

_PNG_MAGIC = b'\x89PNG\r\n\x1a\n'
_JPEG_MAGIC = b'\xff\xd8\xff'
_COLOR_CODECS = ('jpeg', 'png')
_DEPTH_CODECS = ('png', 'rvl')
_DEPTH_IMAGE_ENCODINGS = ('16UC1', 'mono16', '32FC1')


class UnsupportedFormatError(ImageConversionError):
    """The ``format`` of a ``CompressedImage`` is not one this input reads."""

    kind = 'unsupported_format'


class CompressedDataError(ImageConversionError):
    """The data of a ``CompressedImage`` does not decode (truncated, corrupted, wrong kind)."""

    kind = 'bad_compressed_data'


class CompressedHeaderError(ImageConversionError):
    """A compressedDepth configuration header no publisher writes (format enum, a, b)."""

    kind = 'bad_compressed_header'


def is_compressed_depth(msg: CompressedImage) -> bool:
    """Whether ``msg`` says it is a compressedDepth image (``'...; compressedDepth ...'``)."""
    return 'compressedDepth' in str(msg.format)


def parse_color_format(fmt: str) -> Tuple[str, bool]:
    """Return ``(codec, bgr)`` of a ``compressed`` format string.

    ``codec`` is ``'jpeg'`` or ``'png'``; ``bgr`` says whether the decoded channels are in
    BGR order (everything but an explicit ``compressed rgb...`` target).

    Raises:
        UnsupportedFormatError: a compressedDepth format, or a codec other than JPEG/PNG.
    """
    text = str(fmt).strip()
    if 'compressedDepth' in text:
        raise UnsupportedFormatError(
            f'CompressedImage format {fmt!r} is compressedDepth; the colour input reads '
            "image_transport 'compressed' (jpeg or png)")
    _, _, transport = text.rpartition(';')
    words = transport.lower().replace('jpg', 'jpeg').split()
    codec = next((w for w in words if w in _COLOR_CODECS), None)
    if codec is None:
        raise UnsupportedFormatError(
            f'unsupported CompressedImage format {fmt!r}; the colour input reads jpeg or png '
            "(image_transport 'compressed', e.g. 'rgb8; jpeg compressed bgr8')")
    bgr = True
    if 'compressed' in words:
        target = words[words.index('compressed') + 1:]
        bgr = not (target and target[0].startswith('rgb'))
    return codec, bgr


def parse_depth_format(fmt: str) -> Tuple[str, str]:
    """Return ``(encoding, codec)`` of a ``compressedDepth`` format string.

    ``encoding`` is ``'16UC1'``, ``'mono16'`` or ``'32FC1'``; ``codec`` is ``'png'`` or
    ``'rvl'``.

    Raises:
        UnsupportedFormatError: another encoding, or another codec.
    """
    text = str(fmt).strip()
    encoding, sep, transport = text.partition(';')
    encoding = encoding.strip()
    if encoding not in _DEPTH_IMAGE_ENCODINGS:
        raise UnsupportedFormatError(
            f'compressedDepth format {fmt!r}: encoding {encoding!r} is not one of '
            f'{list(_DEPTH_IMAGE_ENCODINGS)}')
    words = transport.split()
    if not sep or words == ['compressedDepth']:
        return encoding, 'png'  # what releases before the rvl option write
    if len(words) == 2 and words[0] == 'compressedDepth' and words[1] in _DEPTH_CODECS:
        return encoding, words[1]
    raise UnsupportedFormatError(
        f'unsupported compressedDepth format {fmt!r}; expected '
        "'<16UC1|32FC1>; compressedDepth <png|rvl>'")


#: JPEG start-of-frame markers (every SOFn but DHT C4, JPG C8 and DAC CC).
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
#: JPEG markers without a length field: TEM, RST0-7, SOI.
_JPEG_STANDALONE = frozenset([0x01, *range(0xD0, 0xD9)])


def _png_size(data: bytes) -> Tuple[int, int]:
    """``(width, height)`` of the IHDR chunk, which must follow the PNG signature."""
    if len(data) < 24 or data[12:16] != b'IHDR':
        raise CompressedDataError('PNG data has no IHDR chunk after the signature')
    width, height = struct.unpack('>II', data[16:24])
    return int(width), int(height)


def _jpeg_size(data: bytes) -> Tuple[int, int]:
    """``(width, height)`` of the first start-of-frame segment, walking the markers."""
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise CompressedDataError(f'JPEG data has no marker at byte {position}')
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in _JPEG_STANDALONE:
            position += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header before
            break
        length = struct.unpack('>H', data[position + 2:position + 4])[0]
        if marker in _JPEG_SOF:
            if length < 8 or position + 9 > len(data):
                break
            height, width = struct.unpack('>HH', data[position + 5:position + 9])
            if width == 0 or height == 0:  # a height set later by DNL is not supported
                raise CompressedDataError(f'JPEG frame header declares {width}x{height}')
            return int(width), int(height)
        position += 2 + length
    raise CompressedDataError('JPEG data has no frame header (SOF) before its scan data')


def declared_size(data: bytes) -> Tuple[int, int]:
    """Return ``(width, height)`` that PNG or JPEG ``data`` declares, without decoding it.

    Raises:
        CompressedDataError: the data is neither PNG nor JPEG (OpenCV would guess among
            other formats, whose size is not checked), or its header is broken.
    """
    if data.startswith(_PNG_MAGIC):
        return _png_size(data)
    if data.startswith(_JPEG_MAGIC):
        return _jpeg_size(data)
    raise CompressedDataError(f'{len(data)} bytes of image data are neither PNG nor JPEG')


def _imdecode(data: bytes, what: str, max_pixels: int) -> np.ndarray:
    if not data:
        raise CompressedDataError(f'{what}: CompressedImage has no data')
    try:
        width, height = declared_size(data)
    except CompressedDataError as error:
        raise CompressedDataError(f'{what}: {error}') from None
    check_image_size(width, height, max_pixels, what)
    try:
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as error:
        raise CompressedDataError(f'{what}: image data does not decode ({error})') from None
    if image is None or image.size == 0:
        magic = 'PNG' if data.startswith(_PNG_MAGIC) else \
            'JPEG' if data.startswith(_JPEG_MAGIC) else 'neither PNG nor JPEG'
        raise CompressedDataError(
            f'{what}: {len(data)} bytes of image data ({magic}) do not decode: truncated or '
            'corrupted')
    return image


def compressed_to_rgb(msg: CompressedImage, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode a ``compressed`` colour image to an ``(H, W, 3)`` uint8 RGB array.

    Raises:
        UnsupportedFormatError: the format is not JPEG/PNG colour (see
            :func:`parse_color_format`) or the image is 16-bit.
        ImageTooLargeError: the header declares more than ``max_pixels`` pixels.
        CompressedDataError: the data does not decode.
    """
    codec, bgr = parse_color_format(msg.format)
    image = _imdecode(bytes(msg.data), f'{codec} colour image', max_pixels)
    if image.dtype != np.uint8:
        raise UnsupportedFormatError(
            f'compressed colour image is {image.dtype}; the colour input reads 8-bit images')
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise CompressedDataError(f'decoded colour image has shape {image.shape}')
    if bgr:
        return np.ascontiguousarray(image[:, :, 2::-1])
    return np.ascontiguousarray(image[:, :, :3])


def _decode_depth_codes(data: bytes, codec: str, max_pixels: int) -> np.ndarray:
    """Decode the image after the configuration header to a 2-D uint16 array."""
    if codec == 'rvl':
        if len(data) < 8:
            raise CompressedDataError(
                f'compressedDepth rvl: {len(data)} bytes after the header, fewer than the '
                '8-byte size prefix')
        width, height = (int(v) for v in np.frombuffer(data[:8], dtype='<u4'))
        check_image_size(width, height, max_pixels, 'compressedDepth rvl')
        try:
            return rvl_decode(data[8:], width, height, max_pixels)
        except ValueError as error:
            raise CompressedDataError(f'compressedDepth rvl: {error}') from None
    image = _imdecode(data, 'compressedDepth png', max_pixels)
    if image.ndim != 2 or image.dtype != np.uint16:
        raise CompressedDataError(
            f'compressedDepth png decodes to {image.dtype} {image.shape}; expected one 16-bit '
            'channel')
    return image


def compressed_to_depth(msg: CompressedImage, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode a ``compressedDepth`` image to ``(H, W)`` float32 metres, NaN = invalid.

    ``16UC1``/``mono16`` images are millimetres (0 = invalid); ``32FC1`` images are the
    inverse-depth code of the header's parameters (0 = invalid). The header is checked for
    every encoding (:func:`~dada_ros.msgs.depth_codecs.check_config_header`).

    Raises:
        UnsupportedFormatError: see :func:`parse_depth_format`.
        ImageTooLargeError: the image declares more than ``max_pixels`` pixels.
        CompressedDataError: the header or the image data do not decode.
    """
    encoding, codec = parse_depth_format(msg.format)
    data = bytes(msg.data)
    if len(data) <= CONFIG_HEADER_SIZE:
        raise CompressedDataError(
            f'compressedDepth data has {len(data)} bytes; it needs the {CONFIG_HEADER_SIZE}-byte '
            'configuration header and an image')
    try:
        _, a, b = check_config_header(unpack_config_header(data), encoding)
    except ValueError as error:
        raise CompressedHeaderError(f'compressedDepth {encoding}: {error}') from None
    codes = _decode_depth_codes(data[CONFIG_HEADER_SIZE:], codec, max_pixels)
    if encoding in MILLIMETRE_ENCODINGS:
        depth = codes.astype(np.float32) * np.float32(0.001)
        depth[codes == 0] = np.nan
        return depth
    try:
        return dequantize_inverse_depth(codes, a, b)
    except ValueError as error:
        raise CompressedDataError(f'compressedDepth 32FC1: {error}') from None


def _message(data: bytes, fmt: str, header: Optional[Header]) -> CompressedImage:
    msg = CompressedImage()
    if header is not None:
        msg.header = copy_header(header)
    msg.format = fmt
    msg.data = data
    return msg


def rgb_to_compressed(rgb: np.ndarray, codec: str = 'jpeg', header: Optional[Header] = None,
                      quality: int = 90) -> CompressedImage:
    """Encode ``(H, W, 3)`` uint8 RGB as compressed_image_transport does (BGR target).

    The format reads ``'rgb8; jpeg compressed bgr8'`` (or ``png``); ``quality`` is the JPEG
    quality (ignored for PNG).
    """
    if not isinstance(rgb, np.ndarray):
        raise TypeError(f'rgb must be a numpy array, got {type(rgb).__name__}')
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f'rgb must be (H, W, 3) uint8, got {rgb.dtype} {rgb.shape}')
    if codec not in _COLOR_CODECS:
        raise ValueError(f'codec must be one of {list(_COLOR_CODECS)}, got {codec!r}')
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if codec == 'jpeg' else []
    ok, encoded = cv2.imencode('.jpg' if codec == 'jpeg' else '.png',
                               np.ascontiguousarray(rgb[:, :, ::-1]), params)
    if not ok:
        raise ValueError(f'cv2.imencode ({codec}) failed')
    return _message(encoded.tobytes(), f'rgb8; {codec} compressed bgr8', header)


def depth_to_compressed_depth(depth: np.ndarray, encoding: str = '16UC1', codec: str = 'png',
                              header: Optional[Header] = None, depth_max: float = 10.0,
                              depth_quantization: float = 100.0) -> CompressedImage:
    """Encode depth as compressed_depth_image_transport does.

    Args:
        depth: ``(H, W)`` uint16 millimetres for ``16UC1`` (values above ``depth_max`` become
            0, as the publisher does), or float metres for ``32FC1`` (NaN/<= 0 invalid).
        encoding: ``'16UC1'`` or ``'32FC1'``.
        codec: ``'png'`` or ``'rvl'``.
        header: copied into the message.
        depth_max: the publisher's largest depth in metres (farther pixels become 0).
        depth_quantization: the publisher's ``z0`` of the inverse-depth code.
    """
    if not isinstance(depth, np.ndarray):
        raise TypeError(f'depth must be a numpy array, got {type(depth).__name__}')
    if codec not in _DEPTH_CODECS:
        raise ValueError(f'codec must be one of {list(_DEPTH_CODECS)}, got {codec!r}')
    if encoding == '32FC1':
        codes, a, b = quantize_inverse_depth(depth, depth_max, depth_quantization)
        config = pack_config_header(a, b)
    elif encoding == '16UC1':
        if depth.ndim != 2 or depth.dtype != np.uint16:
            raise ValueError(f'16UC1 depth must be (H, W) uint16, got {depth.dtype} {depth.shape}')
        codes = np.where(depth > np.uint16(min(65535, int(depth_max * 1000.0))), 0,
                         depth).astype(np.uint16)
        config = pack_config_header()
    else:
        raise ValueError(f"encoding must be '16UC1' or '32FC1', got {encoding!r}")
    if codec == 'png':
        ok, encoded = cv2.imencode('.png', codes, [cv2.IMWRITE_PNG_COMPRESSION, 3])
        if not ok:
            raise ValueError('cv2.imencode (png) failed')
        image = encoded.tobytes()
    else:
        size = np.array([codes.shape[1], codes.shape[0]], dtype='<u4').tobytes()
        image = size + rvl_encode(codes)
    return _message(config + image, f'{encoding}; compressedDepth {codec}', header)
