# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Hostile but well-formed input messages for the robustness tests (issue 23).

Every builder returns real bytes or a real message that a real publisher could send:

* :func:`png_bomb` - a valid PNG of zeros whose declared size is huge (a 20000x20000 16-bit
  one is 0.78 MB), written with zlib row by row, never holding the decoded image;
* :func:`jpeg_declaring` - a real JPEG whose frame header (SOF) declares another size;
* :func:`cloud_message` - a ``PointCloud2`` of float32 ``x, y, z`` in either byte order,
  with its ``is_bigendian`` flag set independently (a lying flag).

and ``hypothesis`` strategies of hostile families, one defect per message, each with the
``(level, kind)`` the node must count it as: :func:`raw_image_cases`,
:func:`compressed_cases`, :func:`cloud_cases` (used by the fuzz tests of
``test/test_robustness.py``).
"""

from __future__ import annotations

import math
import struct
import sys
from typing import Any, Callable, Optional, Tuple
import zlib

from hypothesis import strategies as st
import numpy as np
from sensor_msgs.msg import Image, PointCloud2, PointField
from std_msgs.msg import Header

_PNG_CHANNELS = {0: 1, 2: 3}


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return (struct.pack('>I', len(body)) + kind + body
            + struct.pack('>I', zlib.crc32(kind + body) & 0xFFFFFFFF))


def png_bomb(width: int, height: int, bit_depth: int = 16, colour_type: int = 0) -> bytes:
    """Return a valid PNG of ``width`` x ``height`` zeros (grey ``colour_type`` 0 or RGB 2).

    The rows are compressed in blocks of about 4 MB, so building a 20000x20000 bomb takes
    a few seconds and little memory.
    """
    channels = _PNG_CHANNELS[colour_type]
    row = b'\x00' * (1 + width * channels * bit_depth // 8)  # filter byte 0 + zero pixels
    rows_per_block = max(1, (1 << 22) // len(row))
    compressor = zlib.compressobj(9)
    parts = []
    done = 0
    block = row * rows_per_block
    while done < height:
        count = min(rows_per_block, height - done)
        parts.append(compressor.compress(block if count == rows_per_block else row * count))
        done += count
    parts.append(compressor.flush())
    header = struct.pack('>IIBBBBB', width, height, bit_depth, colour_type, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + _png_chunk(b'IHDR', header)
            + _png_chunk(b'IDAT', b''.join(parts)) + _png_chunk(b'IEND', b''))


def jpeg_declaring(jpeg: bytes, width: int, height: int) -> bytes:
    """Return ``jpeg`` with the size in its baseline frame header (SOF0) replaced."""
    index = jpeg.find(b'\xff\xc0')
    if index < 0:
        raise ValueError('no baseline SOF0 marker in the JPEG')
    return (jpeg[:index + 5] + struct.pack('>HH', height, width) + jpeg[index + 9:])


def cloud_message(points: np.ndarray, data_big_endian: bool = False,
                  flag_big_endian: Optional[bool] = None,
                  header: Optional[Header] = None) -> PointCloud2:
    """Return an unorganised cloud of ``(N, 3)`` points (float32 x, y, z; point_step 12).

    The data is written in ``data_big_endian`` order; ``is_bigendian`` says
    ``flag_big_endian`` (default: the data's order, i.e. an honest flag).
    """
    points = np.asarray(points, dtype=np.float32).reshape(-1, 3)
    order = '>' if data_big_endian else '<'
    msg = PointCloud2()
    if header is not None:
        msg.header = header
    msg.height, msg.width = 1, int(points.shape[0])
    msg.fields = [PointField(name=name, offset=4 * index, datatype=PointField.FLOAT32, count=1)
                  for index, name in enumerate('xyz')]
    msg.is_bigendian = bool(data_big_endian if flag_big_endian is None else flag_big_endian)
    msg.point_step, msg.row_step = 12, 12 * int(points.shape[0])
    msg.is_dense = bool(np.isfinite(points).all())
    msg.data = points.astype(order + 'f4').tobytes()
    return msg


HOST_BIG_ENDIAN = sys.byteorder == 'big'


# --- hypothesis strategies: hostile families, one defect per message ---------------------------
#: What a hostile message should do to the node: ``(level, kind)`` it is counted as.
Expected = Tuple[str, str]
#: A generated case: the input it goes to ('rgb', 'depth' or 'cloud'), a message builder
#: taking the header to stamp it with, and what the node must count.
Case = Tuple[str, Callable[[Header], Any], Expected]

#: Sizes of the valid images the families start from (a 4x fit, as the rigs use).
SMALL_RGB = (24, 32)
SMALL_DEPTH = (6, 8)
_BIG = 1 << 26  # the default input.max_pixels


def _image(pixels: np.ndarray, encoding: str, header: Header) -> Image:
    from dada_ros.msgs.conversions import array_to_image
    return array_to_image(pixels, encoding, header)


@st.composite
def raw_image_cases(draw: st.DrawFn) -> Case:
    """Raw image families: data too long, huge declared size, bad stamp, negative or far depth."""
    family = draw(st.sampled_from(['data_too_long', 'image_too_large', 'bad_stamp',
                                   'negative_depth', 'implausible_depth']))
    topic = draw(st.sampled_from(['rgb', 'depth'])) if family in (
        'data_too_long', 'image_too_large', 'bad_stamp') else 'depth'
    rgb = np.zeros((*SMALL_RGB, 3), np.uint8)
    depth = np.full(SMALL_DEPTH, 2.0, np.float32)
    extra = draw(st.integers(1, 64))
    dims = draw(st.tuples(st.integers(1 << 13, 1 << 20), st.integers(1 << 13, 1 << 20))
                .filter(lambda hw: hw[0] * hw[1] > _BIG))
    nanosec = draw(st.integers(10 ** 9, 2 ** 32 - 1))
    cells = draw(st.lists(st.tuples(st.integers(0, SMALL_DEPTH[0] - 1),
                                    st.integers(0, SMALL_DEPTH[1] - 1)), min_size=1,
                          max_size=8))
    negative = draw(st.floats(-3e38, -1e-30))
    far = draw(st.floats(1.0001e5, 3e38))

    def build(header: Header) -> Image:
        values = depth.copy()
        for row, col in cells:
            values[row, col] = negative if family == 'negative_depth' else far
        msg = _image(rgb, 'rgb8', header) if topic == 'rgb' else _image(values, '32FC1', header)
        if family == 'data_too_long':
            msg.data = bytes(msg.data) + b'\x00' * extra
        elif family == 'image_too_large':
            msg.height, msg.width = dims
            msg.step = dims[1] * (3 if topic == 'rgb' else 4)
        elif family == 'bad_stamp':
            msg.header.stamp.nanosec = nanosec
        return msg
    level = 'warning' if family in ('negative_depth', 'implausible_depth') else 'error'
    return topic, build, (level, family)


@st.composite
def cloud_cases(draw: st.DrawFn) -> Case:
    """Cloud families: a byte-order flag the data contradicts, far points, a bad stamp."""
    family = draw(st.sampled_from(['cloud_byte_order', 'implausible_depth', 'bad_stamp']))
    count = draw(st.integers(64, 2000))
    seed = draw(st.integers(0, 2 ** 31))
    far = draw(st.lists(st.floats(1.0001e5, 3e38), min_size=1, max_size=5))
    big = draw(st.booleans())
    nanosec = draw(st.integers(10 ** 9, 2 ** 32 - 1))

    def build(header: Header) -> PointCloud2:
        rng = np.random.default_rng(seed)
        points = rng.uniform(-20.0, 20.0, (count, 3))
        if family == 'implausible_depth':
            points[:len(far), 2] = far
        msg = cloud_message(points, data_big_endian=big,
                            flag_big_endian=(not big) if family == 'cloud_byte_order' else big,
                            header=header)
        if family == 'bad_stamp':
            msg.header.stamp.nanosec = nanosec
        return msg
    return 'cloud', build, ('warning' if family == 'implausible_depth' else 'error', family)


@st.composite
def compressed_cases(draw: st.DrawFn) -> Case:
    """Compressed families: PNG/JPEG/RVL declaring a huge size, compressedDepth headers."""
    from dada_ros.msgs.compressed import depth_to_compressed_depth, rgb_to_compressed
    family = draw(st.sampled_from(['png_size', 'jpeg_size', 'rvl_size', 'header_enum',
                                   'header_params']))
    dims = draw(st.tuples(st.integers(1 << 13, 65535), st.integers(1 << 13, 65535))
                .filter(lambda hw: hw[0] * hw[1] > _BIG))
    enum = draw(st.integers(-2 ** 31, 2 ** 31 - 1).filter(lambda e: e != 0))
    floats = st.floats(allow_nan=True, allow_infinity=True, width=32)
    a, b = draw(floats), draw(floats)
    bad_a = draw(st.sampled_from([math.nan, math.inf, -math.inf, 0.0]))
    topic = 'rgb' if family == 'jpeg_size' else draw(st.sampled_from(['rgb', 'depth'])) \
        if family == 'png_size' else 'depth'

    def build(header: Header) -> Any:
        height, width = dims
        if topic == 'rgb':
            msg = rgb_to_compressed(np.zeros((*SMALL_RGB, 3), np.uint8),
                                    'jpeg' if family == 'jpeg_size' else 'png', header)
            data = bytes(msg.data)
            msg.data = jpeg_declaring(data, width, height) if family == 'jpeg_size' \
                else data[:16] + struct.pack('>II', width, height) + data[24:]
            return msg
        if family == 'header_params':  # a 32FC1 image whose a cannot decode it
            msg = depth_to_compressed_depth(np.full(SMALL_DEPTH, 2.0, np.float32), '32FC1',
                                            'png', header)
            msg.data = struct.pack('<iff', 0, bad_a, b) + bytes(msg.data)[12:]
            return msg
        msg = depth_to_compressed_depth(np.full(SMALL_DEPTH, 2000, np.uint16), '16UC1',
                                        'rvl' if family == 'rvl_size' else 'png', header)
        data = bytes(msg.data)
        if family == 'header_enum':
            msg.data = struct.pack('<iff', enum, a, b) + data[12:]
        elif family == 'rvl_size':
            msg.data = data[:12] + struct.pack('<II', width, height) + data[20:]
        else:
            msg.data = data[:12 + 16] + struct.pack('>II', width, height) + data[12 + 24:]
        return msg
    kind = 'bad_compressed_header' if family.startswith('header') else 'image_too_large'
    return topic, build, ('error', kind)
