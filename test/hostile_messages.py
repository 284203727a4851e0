# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Hostile but well-formed input messages for the robustness tests (issue 23).

Every builder returns real bytes or a real message that a real publisher could send:

* :func:`png_bomb` - a valid PNG of zeros whose declared size is huge (a 20000x20000 16-bit
  one is 0.78 MB), written with zlib row by row, never holding the decoded image;
* :func:`jpeg_declaring` - a real JPEG whose frame header (SOF) declares another size;
* :func:`cloud_message` - a ``PointCloud2`` of float32 ``x, y, z`` in either byte order,
  with its ``is_bigendian`` flag set independently (a lying flag).

``hypothesis`` strategies of these families live in :mod:`test_hostile_fuzz`.
"""

from __future__ import annotations

import struct
import sys
from typing import Optional
import zlib

import numpy as np
from sensor_msgs.msg import PointCloud2, PointField
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
