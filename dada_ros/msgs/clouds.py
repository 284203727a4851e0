# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""``sensor_msgs/PointCloud2`` to and from numpy arrays (no sensor_msgs_py).

* :func:`cloud_to_xyz` - any ``PointCloud2`` with float ``x``, ``y``, ``z`` fields (a LiDAR
  scan) to ``(N, 3)`` float32 points, NaN/Inf points dropped, other fields ignored; a
  byte-order flag that contradicts the data is refused.
* :func:`depth_to_pointcloud` / :func:`read_points` - organized clouds with float32 ``x``,
  ``y``, ``z`` and optionally a packed ``rgb`` field; :class:`PointCloudBuilder` builds the
  same clouds frame after frame in one reused buffer.

Malformed clouds raise the ``Cloud*Error`` subclasses of
:class:`dada_ros.msgs.conversions.ImageConversionError`, whose ``kind`` names the problem.
Input messages and arrays are never modified.
"""

from __future__ import annotations

import array
import sys
from typing import Any, Dict, Optional, Tuple

import numpy as np
from sensor_msgs.msg import PointCloud2, PointField
from std_msgs.msg import Header

from .conversions import (_HOST_BIG_ENDIAN, check_stamp, CloudByteOrderError, CloudDataError,
                          CloudFieldError, CloudMissingFieldError, copy_header, keeping_message)
from ..core.cloud_kernels import pixel_factors, write_points
from ..core.geometry import decimate, validate_intrinsics

__all__ = ['cloud_to_xyz', 'depth_to_pointcloud', 'pack_rgb', 'PointCloudBuilder',
           'read_points']


def pack_rgb(rgb: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Pack ``(..., 3)`` uint8 RGB into float32 values holding the bits of ``0x00RRGGBB``.

    ``out``: optional float32 array (any strides) of shape ``rgb.shape[:-1]`` to write into.
    """
    rgb = np.asarray(rgb, dtype=np.uint8)
    if out is None:
        out = np.empty(rgb.shape[:-1], dtype=np.float32)
    packed = out.view(np.uint32)
    packed[...] = rgb[..., 0]  # built in place: no temporary image per channel
    packed <<= 8
    packed |= rgb[..., 1]
    packed <<= 8
    packed |= rgb[..., 2]
    return out


_CLOUD_FIELDS = ('x', 'y', 'z', 'rgb')


class PointCloudBuilder:
    """Builds organized ``PointCloud2`` messages, each in one pass into its own buffer.

    The points and colours are written by :func:`dada_ros.core.cloud_kernels.write_points`
    (compiled when numba is installed) straight into the ``array('B')`` that becomes the
    message's ``data``: no image-sized temporaries and no copy in the setter. The buffer
    of the previous cloud is written again when nothing holds it any more (the node drops
    a message once published), so a frame usually costs one pass over memory that is
    already mapped; a cloud somebody keeps is never touched. Not thread-safe: use one
    builder per thread.
    """

    def __init__(self) -> None:
        self._buffer: Optional['array.array[int]'] = None
        self._factors: Tuple[Any, ...] = ()

    def _take_buffer(self, size: int) -> 'array.array[int]':
        """Return an ``array('B')`` of ``size`` bytes that nobody else references."""
        buffer = self._buffer
        # sys.getrefcount counts self._buffer, the local name and its own argument: any
        # more means a message, a numpy view or a caller still holds the last cloud.
        if buffer is None or len(buffer) != size or sys.getrefcount(buffer) > 3:
            # Repeating one byte is a memset; every byte is written before publishing.
            buffer = array.array('B', b'\0') * size
            self._buffer = buffer
        return buffer

    def _pixel_factors(self, k: np.ndarray, rows: int, cols: int, stride: int
                       ) -> Tuple[np.ndarray, np.ndarray]:
        """:func:`pixel_factors` of the last call again when ``k`` and the shape are the same."""
        key = (k.tobytes(), rows, cols, stride)
        if not self._factors or self._factors[0] != key:
            self._factors = (key,) + pixel_factors(k, rows, cols, stride)
        return self._factors[1], self._factors[2]

    def build(self, depth: np.ndarray, k: np.ndarray, header: Optional[Header] = None,
              stride: int = 1, rgb: Optional[np.ndarray] = None) -> PointCloud2:
        """Return the cloud of ``depth``; see :func:`depth_to_pointcloud` for the layout."""
        if rgb is not None and (rgb.ndim != 3 or rgb.shape[2] != 3
                                or rgb.shape[:2] != depth.shape):
            raise ValueError(f'rgb shape {rgb.shape} does not match depth shape {depth.shape}')
        if not isinstance(depth, np.ndarray) or depth.ndim != 2 \
                or not np.issubdtype(depth.dtype, np.number):
            raise ValueError('depth must be an (H, W) numeric array, got '
                             f'{getattr(depth, "dtype", type(depth))} '
                             f'{getattr(depth, "shape", "")}')
        decimated = decimate(depth, stride)
        rows, cols = decimated.shape
        channels = 3 if rgb is None else 4
        x_factor, y_factor = self._pixel_factors(validate_intrinsics(k), rows, cols, stride)
        # One float32 row per point: x, y, z (and rgb), i.e. point_step 12 (16 with color).
        buffer = self._take_buffer(rows * cols * channels * 4)
        points = np.frombuffer(buffer, dtype=np.float32).reshape(rows, cols, channels)
        write_points(decimated, x_factor, y_factor, points,
                     None if rgb is None else decimate(np.asarray(rgb, dtype=np.uint8), stride))
        msg = keeping_message(PointCloud2)
        if header is not None:
            msg.header = copy_header(header)
        msg.height = int(rows)
        msg.width = int(cols)
        msg.fields = [PointField(name=name, offset=4 * index, datatype=PointField.FLOAT32,
                                 count=1)
                      for index, name in enumerate(_CLOUD_FIELDS[:channels])]
        msg.is_bigendian = _HOST_BIG_ENDIAN
        msg.point_step = 4 * channels
        msg.row_step = msg.point_step * cols
        msg.is_dense = False
        msg.data = buffer  # kept, not copied (keeping_message)
        return msg


def depth_to_pointcloud(depth: np.ndarray, k: np.ndarray, header: Optional[Header] = None,
                        stride: int = 1, rgb: Optional[np.ndarray] = None) -> PointCloud2:
    """Build an organized ``PointCloud2`` from a depth image and its camera matrix.

    Args:
        depth: ``(H, W)`` float depth in metres, NaN / <= 0 = invalid.
        k: ``(3, 3)`` camera matrix of the depth image (the RGB camera for dense depth).
        header: copied into the cloud; its frame_id must be the optical frame of ``k``.
        stride: keep every ``stride``-th row and column.
        rgb: optional ``(H, W, 3)`` uint8 RGB image; adds the packed ``rgb`` field.

    Returns:
        A cloud of ``ceil(H / stride)`` rows by ``ceil(W / stride)`` columns with float32
        ``x``, ``y``, ``z`` (NaN for invalid points, ``is_dense`` false) and, when ``rgb``
        is given, ``rgb`` (float32 bits of ``0x00RRGGBB``) at offset 12, point_step 16.
        A node publishing every frame should keep a :class:`PointCloudBuilder` instead.
    """
    return PointCloudBuilder().build(depth, k, header, stride, rgb)


def read_points(msg: PointCloud2) -> Dict[str, np.ndarray]:
    """Read the float32 fields of an organized cloud into ``(height, width)`` arrays.

    The packed ``rgb`` field is returned as a ``(height, width, 3)`` uint8 array.
    """
    order = '>' if msg.is_bigendian else '<'
    names, formats, offsets = [], [], []
    for field in msg.fields:
        if field.datatype != PointField.FLOAT32 or field.count != 1:
            raise ValueError(f'field {field.name!r} is not a single float32')
        names.append(field.name)
        formats.append(order + 'f4')
        offsets.append(field.offset)
    dtype = np.dtype({'names': names, 'formats': formats, 'offsets': offsets,
                      'itemsize': msg.point_step})
    data = np.frombuffer(msg.data, dtype=np.uint8)
    needed = msg.row_step * msg.height
    if data.size < needed or msg.row_step < msg.point_step * msg.width:
        raise ValueError('point cloud data is shorter than row_step * height')
    rows = data[:needed].reshape(msg.height, msg.row_step)[:, :msg.point_step * msg.width]
    cloud = np.ascontiguousarray(rows).view(dtype).reshape(msg.height, msg.width)
    out: Dict[str, np.ndarray] = {}
    for name in names:
        values = cloud[name].astype(np.float32)
        if name == 'rgb':
            packed = values.view(np.uint32)
            out[name] = np.stack([(packed >> 16) & 255, (packed >> 8) & 255, packed & 255],
                                 axis=-1).astype(np.uint8)
        else:
            out[name] = values
    return out


_XYZ = ('x', 'y', 'z')
_FLOAT_FIELDS = {PointField.FLOAT32: 'f4', PointField.FLOAT64: 'f8'}
#: Coordinate magnitudes (m) a range sensor reports, besides 0: a float read in the wrong
#: byte order is almost always far outside (huge, or subnormal).
_SANE_RANGE = (1e-20, 1e10)
#: Points of a cloud compared in both byte orders (evenly spaced; enough to tell).
_BYTE_ORDER_SAMPLE = 4096


def _sane_points(rows: np.ndarray, dtype: np.dtype) -> int:
    """Count the points of ``rows`` (structured bytes) with sane coordinates in ``dtype``."""
    points = rows.view(dtype).reshape(-1)
    with np.errstate(invalid='ignore', over='ignore'):
        xyz = np.stack([points[name].astype(np.float64) for name in _XYZ], axis=1)
        size = np.abs(xyz)
        in_range = (size >= _SANE_RANGE[0]) & (size <= _SANE_RANGE[1])
        sane = np.isfinite(xyz) & ((size == 0) | in_range)
    return int(np.count_nonzero(sane.all(axis=1)))


def _check_byte_order(rows: np.ndarray, dtype: np.dtype, flag: int) -> None:
    """Refuse a cloud whose ``is_bigendian`` flag contradicts its data.

    A sample of the points is read in both byte orders; when the other order gives more
    than twice as many sane points (:data:`_SANE_RANGE`), the flag is wrong (read as it
    says, such a cloud has coordinates like 2e34 m).
    """
    step = max(1, rows.shape[0] // _BYTE_ORDER_SAMPLE)
    sample = np.ascontiguousarray(rows[::step][:_BYTE_ORDER_SAMPLE])
    flagged = _sane_points(sample, dtype)
    other = _sane_points(sample, dtype.newbyteorder('S'))
    if other > 2 * flagged:
        says, reads = ('big', 'little') if flag else ('little', 'big')
        raise CloudByteOrderError(
            f'point cloud says is_bigendian={flag} ({says} endian) but its data reads as '
            f'{reads} endian: {flagged} of {sample.shape[0]} sampled points are plausible as '
            f'flagged, {other} the other way; refused')


def cloud_to_xyz(msg: PointCloud2) -> np.ndarray:
    """Return the finite points of a cloud as an ``(N, 3)`` float32 array of ``x, y, z``.

    Works for organised and unorganised clouds with the fields at any offsets, any
    ``point_step`` and ``row_step`` (padding), either byte order, float32 or float64
    coordinates; other fields (intensity, ring, time, rgb, ...) are ignored. Points with a
    NaN or infinite coordinate are dropped; an empty cloud gives ``(0, 3)``. The unit is the
    cloud's (metres, REP 103), in the cloud's ``frame_id``.

    Raises:
        CloudMissingFieldError: ``x``, ``y`` or ``z`` is missing.
        CloudFieldError: a coordinate field is not a float32/float64 scalar, or it does not
            fit inside ``point_step``.
        CloudDataError: ``row_step < width * point_step`` or ``data`` is shorter than
            ``height * row_step``.
        CloudByteOrderError: the data makes sense only in the other byte order than
            ``is_bigendian`` says (a lying flag is refused, not read as 1e34 m).
        BadStampError: the header stamp is not a valid time.
    """
    check_stamp(msg.header, 'point cloud')
    fields = {field.name: field for field in msg.fields}
    missing = [name for name in _XYZ if name not in fields]
    if missing:
        raise CloudMissingFieldError(
            f'point cloud has no field {missing}; fields: {[f.name for f in msg.fields]}')
    height, width = int(msg.height), int(msg.width)
    point_step, row_step = int(msg.point_step), int(msg.row_step)
    order = '>' if msg.is_bigendian else '<'
    formats = []
    for name in _XYZ:
        field = fields[name]
        code = _FLOAT_FIELDS.get(int(field.datatype))
        if code is None or int(field.count) > 1:
            raise CloudFieldError(
                f'point cloud field {name!r} has datatype {field.datatype} and count '
                f'{field.count}; expected one float32 (7) or float64 (8)')
        if int(field.offset) + int(code[1]) > point_step:
            raise CloudFieldError(
                f'point cloud field {name!r} at offset {field.offset} does not fit in '
                f'point_step {point_step}')
        formats.append(order + code)
    if height * width == 0:
        return np.zeros((0, 3), dtype=np.float32)
    if row_step < width * point_step:
        raise CloudDataError(
            f'row_step {row_step} is smaller than width * point_step = {width * point_step}')
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size < height * row_step:
        raise CloudDataError(
            f'point cloud data has {data.size} bytes, expected height * row_step = '
            f'{height * row_step}')
    dtype = np.dtype({'names': list(_XYZ), 'formats': formats,
                      'offsets': [int(fields[name].offset) for name in _XYZ],
                      'itemsize': point_step})
    rows = data[:height * row_step].reshape(height, row_step)[:, :width * point_step]
    rows = np.ascontiguousarray(rows).reshape(height * width, point_step)
    _check_byte_order(rows, dtype, int(bool(msg.is_bigendian)))
    points = rows.view(dtype).reshape(-1)
    xyz = np.empty((points.size, 3), dtype=np.float32)  # one copy, no per-field temporaries
    for index, name in enumerate(_XYZ):
        xyz[:, index] = points[name]
    finite = np.isfinite(xyz).all(axis=1)
    return xyz if finite.all() else xyz[finite]
