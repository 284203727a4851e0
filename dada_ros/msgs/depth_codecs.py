# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""The depth codecs of ``compressed_depth_image_transport`` as array functions (ROS-free).

A ``compressedDepth`` message carries a 12-byte configuration header (an int32 format enum,
always 0 = inverse depth, and two float32 quantisation parameters ``a``, ``b``; host byte
order, i.e. little endian on every platform ROS 2 supports) followed by the image:

* ``16UC1`` depth (millimetres): the uint16 image as PNG, or as RVL;
* ``32FC1`` depth (metres): the quantised inverse depth ``q = a / z + b`` (truncated to
  uint16, 0 = invalid or beyond ``depth_max``) as PNG or RVL; decoded as ``z = a / (q - b)``.
  The publisher derives ``a = z0 (z0 + 1)`` and ``b = 1 - a / depth_max`` from its
  ``depth_quantization`` (``z0``, default 100) and ``depth_max`` (default 10 m) parameters.

RVL (Wilson, "Fast lossless depth image compression", ISS 2017) stores runs of zeros and
non-zeros; each non-zero pixel is the zigzag-coded difference to the previous non-zero
pixel; every number is a variable-length code of 3-bit groups (low bits first, bit 3 set
when more follow), packed as nibbles into 32-bit words from the most significant nibble on.
In a message the RVL stream is preceded by uint32 width and height. The functions here are
vectorised with numpy; only the walk over runs is a Python loop.
"""

from __future__ import annotations

import struct
from typing import Tuple

import numpy as np

__all__ = [
    'CONFIG_HEADER_SIZE', 'INVERSE_DEPTH_FORMAT', 'pack_config_header', 'unpack_config_header',
    'check_config_header',
    'quantization_params', 'quantize_inverse_depth', 'dequantize_inverse_depth',
    'rvl_encode', 'rvl_decode', 'MAX_RVL_PIXELS',
]

#: Size in bytes of the configuration header in front of every compressedDepth image.
CONFIG_HEADER_SIZE = 12
#: The only format enum the publisher writes (``INV_DEPTH``), also for 16UC1 images.
INVERSE_DEPTH_FORMAT = 0
_HEADER = struct.Struct('<iff')
#: Nibbles an RVL value may use: 11 * 3 bits cover every 32-bit count.
_MAX_NIBBLES = 11
#: Largest image :func:`rvl_decode` accepts by default (64 Mpixel, 128 MiB of uint16, the
#: default of ``input.max_pixels``).
MAX_RVL_PIXELS = 1 << 26


def pack_config_header(a: float = 0.0, b: float = 0.0,
                       format_enum: int = INVERSE_DEPTH_FORMAT) -> bytes:
    """Return the 12-byte header: int32 format, float32 ``a``, float32 ``b``."""
    return _HEADER.pack(int(format_enum), float(a), float(b))


def unpack_config_header(data: bytes) -> Tuple[int, float, float]:
    """Return ``(format_enum, a, b)`` from the first 12 bytes of ``data``.

    Raises:
        ValueError: ``data`` is shorter than the header.
    """
    if len(data) < CONFIG_HEADER_SIZE:
        raise ValueError(f'compressedDepth data has {len(data)} bytes, fewer than the '
                         f'{CONFIG_HEADER_SIZE}-byte configuration header')
    format_enum, a, b = _HEADER.unpack_from(bytes(data[:CONFIG_HEADER_SIZE]))
    return int(format_enum), float(a), float(b)


def check_config_header(header: Tuple[int, float, float],
                        encoding: str) -> Tuple[int, float, float]:
    """Return ``header`` (``(format_enum, a, b)``) when a publisher could have written it.

    The format enum must be :data:`INVERSE_DEPTH_FORMAT`, the only one the publisher
    writes. ``a`` and ``b`` decode ``32FC1`` images, so there they must be finite with
    ``a != 0``; ``16UC1`` images do not use them (the publisher leaves them unset, so
    any bits are accepted, as the subscriber does).

    Raises:
        ValueError: an unknown format enum, or unusable ``32FC1`` parameters.
    """
    format_enum, a, b = header
    if format_enum != INVERSE_DEPTH_FORMAT:
        raise ValueError(f'configuration header has format enum {format_enum}; the only one '
                         f'compressed_depth_image_transport writes is {INVERSE_DEPTH_FORMAT} '
                         '(inverse depth)')
    if encoding == '32FC1' and (not (np.isfinite(a) and np.isfinite(b)) or a == 0.0):
        raise ValueError(f'invalid inverse-depth quantisation parameters a={a}, b={b}')
    return header


def quantization_params(depth_max: float = 10.0,
                        depth_quantization: float = 100.0) -> Tuple[float, float]:
    """Return ``(a, b)`` of the inverse-depth code, as the publisher computes them (float32)."""
    if not depth_max > 0 or not depth_quantization > 0:
        raise ValueError('depth_max and depth_quantization must be > 0, got '
                         f'{depth_max} and {depth_quantization}')
    z0 = np.float32(depth_quantization)
    a = np.float32(z0 * (z0 + np.float32(1.0)))
    b = np.float32(np.float32(1.0) - a / np.float32(depth_max))
    return float(a), float(b)


def quantize_inverse_depth(depth: np.ndarray, depth_max: float = 10.0,
                           depth_quantization: float = 100.0
                           ) -> Tuple[np.ndarray, float, float]:
    """Quantise ``(H, W)`` float depth in metres to the uint16 inverse-depth code.

    Pixels that are not finite, ``<= 0`` or ``>= depth_max`` become 0; the code is
    truncated as the C++ cast does and kept within 1..65535 (depths closer than the code
    can express saturate). Returns ``(codes, a, b)``; ``depth`` is not modified.
    """
    depth = np.asarray(depth)
    if depth.ndim != 2 or not np.issubdtype(depth.dtype, np.floating):
        raise ValueError(f'depth must be an (H, W) float array, got {depth.dtype} {depth.shape}')
    a, b = quantization_params(depth_max, depth_quantization)
    z = depth.astype(np.float32)
    with np.errstate(invalid='ignore', divide='ignore', over='ignore'):
        valid = np.isfinite(z) & (z > 0) & (z < np.float32(depth_max))
        code = np.float32(a) / np.where(valid, z, np.float32(1.0)) + np.float32(b)
    codes = np.where(valid, np.clip(np.trunc(code), 1.0, 65535.0), 0.0).astype(np.uint16)
    return codes, a, b


def dequantize_inverse_depth(codes: np.ndarray, a: float, b: float) -> np.ndarray:
    """Decode uint16 inverse-depth codes to float32 metres (0 -> NaN): ``z = a / (q - b)``.

    Raises:
        ValueError: ``codes`` is not a 2-D uint16 array, or ``a``/``b`` are not finite or
            ``a`` is 0 (a header that cannot come from the publisher).
    """
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.dtype != np.uint16:
        raise ValueError(f'codes must be an (H, W) uint16 array, got {codes.dtype} {codes.shape}')
    if not (np.isfinite(a) and np.isfinite(b)) or a == 0.0:
        raise ValueError(f'invalid inverse-depth quantisation parameters a={a}, b={b}')
    q = codes.astype(np.float32)
    with np.errstate(divide='ignore', invalid='ignore'):
        depth = np.float32(a) / (q - np.float32(b))
    depth[codes == 0] = np.nan
    depth[~(np.isfinite(depth) & (depth > 0))] = np.nan
    return depth


def _vle_nibbles(values: np.ndarray) -> np.ndarray:
    """Variable-length code of non-negative ints as a uint8 nibble stream (low groups first)."""
    values = values.astype(np.int64)
    count = np.ones(values.shape, dtype=np.int64)
    for group in range(1, _MAX_NIBBLES):
        count += (values >> (3 * group)) > 0
    owner = np.repeat(np.arange(values.size), count)
    first = np.cumsum(count) - count
    position = np.arange(owner.size) - np.repeat(first, count)
    payload = (values[owner] >> (3 * position)) & 7
    more = position < (count[owner] - 1)
    return (payload | (more.astype(np.int64) << 3)).astype(np.uint8)


def rvl_encode(image: np.ndarray) -> bytes:
    """RVL-compress a 2-D uint16 image (row-major); without the width/height prefix."""
    image = np.asarray(image)
    if image.ndim != 2 or image.dtype != np.uint16 or image.size == 0:
        raise ValueError('image must be a non-empty (H, W) uint16 array, got '
                         f'{image.dtype} {image.shape}')
    flat = image.reshape(-1).astype(np.int64)
    nonzero = flat != 0
    # Runs alternate zero / non-zero, starting with a (possibly empty) zero run.
    edges = np.flatnonzero(np.diff(nonzero.astype(np.int8))) + 1
    starts = np.concatenate(([0], edges))
    lengths = np.diff(np.concatenate((starts, [flat.size])))
    if nonzero[0]:
        lengths = np.concatenate(([0], lengths))  # an empty leading zero run
    if lengths.size % 2:
        lengths = np.concatenate((lengths, [0]))  # a trailing zero run: zero non-zeros
    pixels = flat[nonzero]
    delta = np.diff(np.concatenate(([0], pixels)))
    zigzag = (delta << 1) ^ (delta >> 63)
    # Interleave per run pair: zeros, non-zeros, then that run's zigzag deltas.
    pairs = lengths.reshape(-1, 2)
    run_nonzeros = pairs[:, 1]
    slots = np.empty(2 * pairs.shape[0] + pixels.size, dtype=np.int64)
    pair_start = np.cumsum(2 + run_nonzeros) - (2 + run_nonzeros)
    slots[pair_start] = pairs[:, 0]
    slots[pair_start + 1] = run_nonzeros
    delta_slot = np.repeat(pair_start + 2, run_nonzeros) + (
        np.arange(pixels.size) - np.repeat(np.cumsum(run_nonzeros) - run_nonzeros,
                                           run_nonzeros))
    slots[delta_slot] = zigzag
    nibbles = _vle_nibbles(slots)
    padded = np.zeros(-(-nibbles.size // 8) * 8, dtype=np.uint32)
    padded[:nibbles.size] = nibbles
    shifts = np.arange(28, -1, -4, dtype=np.uint32)
    words = np.bitwise_or.reduce(padded.reshape(-1, 8) << shifts, axis=1).astype('<u4')
    return words.tobytes()


def rvl_decode(data: bytes, width: int, height: int,
               max_pixels: int = MAX_RVL_PIXELS) -> np.ndarray:
    """Decode an RVL stream (without the width/height prefix) to ``(height, width)`` uint16.

    Raises:
        ValueError: the stream is truncated, its length is not a whole number of 32-bit
            words, a code is longer than any 32-bit count needs, its runs overrun the
            image, or the image has more than ``max_pixels`` pixels (the message decoder
            checks its bound, ``input.max_pixels``, before calling this).
    """
    if width <= 0 or height <= 0:
        raise ValueError(f'RVL image size {width}x{height} contains zero')
    buffer = bytes(data)
    if len(buffer) % 4:
        raise ValueError(f'RVL data of {len(buffer)} bytes is not a whole number of words')
    pixels = int(width) * int(height)
    # Two codes describe a zero run of any length, so the data size does not bound the
    # image size; a fixed cap keeps corrupted dimensions from allocating huge arrays.
    if pixels > max_pixels:
        raise ValueError(f'RVL image size {width}x{height} is larger than {max_pixels} '
                         'pixels: corrupted data')
    words = np.frombuffer(buffer, dtype='<u4').astype(np.uint32)
    shifts = np.arange(28, -1, -4, dtype=np.uint32)
    nibbles = ((words[:, None] >> shifts[None, :]) & 0xF).reshape(-1).astype(np.int64)
    ends = np.flatnonzero((nibbles & 8) == 0)
    starts = np.concatenate(([0], ends[:-1] + 1))
    if ends.size and np.any(ends - starts + 1 > _MAX_NIBBLES):
        raise ValueError('RVL code longer than 32 bits: corrupted data')
    used = nibbles[:ends[-1] + 1] if ends.size else nibbles[:0]
    lengths = ends - starts + 1
    position = np.arange(used.size) - np.repeat(starts, lengths)
    terms = (used & 7) << (3 * position)
    values = np.add.reduceat(terms, starts) if ends.size else np.zeros(0, dtype=np.int64)
    out = np.zeros(pixels, dtype=np.uint16)
    out_starts, value_starts, counts = [], [], []
    cursor, pixel = 0, 0
    while pixel < pixels:
        if cursor + 2 > values.size:
            raise ValueError('RVL data ends before the image is complete')
        zeros, nonzeros = int(values[cursor]), int(values[cursor + 1])
        pixel += zeros
        if pixel + nonzeros > pixels or cursor + 2 + nonzeros > values.size:
            raise ValueError('RVL runs overrun the image or the data: corrupted data')
        if nonzeros:
            out_starts.append(pixel)
            value_starts.append(cursor + 2)
            counts.append(nonzeros)
        pixel += nonzeros
        cursor += 2 + nonzeros
    if counts:
        count = np.asarray(counts, dtype=np.int64)
        offset = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
        source = np.repeat(np.asarray(value_starts, dtype=np.int64), count) + offset
        target = np.repeat(np.asarray(out_starts, dtype=np.int64), count) + offset
        zigzag = values[source]
        delta = (zigzag >> 1) ^ -(zigzag & 1)
        out[target] = (np.cumsum(delta) & 0xFFFF).astype(np.uint16)
    return out.reshape(int(height), int(width))
