# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Depth from another sensor, brought into the RGB camera (ROS-free).

Two inputs are not in the RGB optical frame:

* a depth camera beside the RGB camera (a RealSense without align, a ToF module): its
  pixels are back-projected with the depth camera's ``K`` (:func:`register_depth`);
* a LiDAR: its points are already 3-D (:func:`project_points`).

Both are moved by a rigid transform ``T`` (``p_rgb = R p + t``) into the RGB optical frame
and projected with the RGB camera's rectified ``P`` (or ``K``) into a sparse depth image of
the RGB size: the nearest point wins where several land in one pixel (z-buffer), points
behind the camera (``z <= min_depth``) or outside the image are dropped, the rest stay NaN.
The sparse image is then completed like any sparse depth. Any size ratio of the two images
works; the depth unit is the input's (metres in the node).

``T`` comes as ``[x, y, z, qx, qy, qz, qw]`` (:func:`pose_to_matrix`): translation in
metres and a unit quaternion, mapping points of the source frame (the depth optical frame,
the LiDAR frame) into the RGB optical frame, which is what
``tf2 lookup_transform(target=rgb_frame, source=depth_frame)`` returns. Pixel ``(u, v)``
(column, row) has its centre at integer coordinates, as in ``sensor_msgs/CameraInfo``.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import numpy as np

from .geometry import backproject, validate_intrinsics

__all__ = [
    'choose_depth_mode', 'parse_pose', 'pose_to_matrix', 'matrix_to_pose', 'transform_points',
    'projection_matrix', 'project_points', 'register_depth', 'PROJECT_CHUNK',
]

PoseLike = Union[str, Sequence[float], np.ndarray]


def choose_depth_mode(mode: str, factor: Optional[int], rgb_frame: str, depth_frame: str,
                      have_depth_info: bool) -> str:
    """Resolve ``depth.mode`` for one frame pair: ``'lowres'``, ``'sparse'`` or ``'register'``.

    ``'auto'`` registers when the depth image is in another frame than the RGB image and
    its ``camera_info`` has arrived (what registration needs); otherwise the sizes decide:
    factor 1 is sparse, an integer factor ``> 1`` low-res. ``'lowres'`` accepts any integer
    factor (1 included), ``'sparse'`` only 1.

    Args:
        mode: the parameter, ``'auto'``, ``'lowres'``, ``'sparse'`` or ``'register'``.
        factor: the integer size factor RGB / depth, or ``None`` when the sizes have none.
        rgb_frame: ``frame_id`` of the RGB image.
        depth_frame: ``frame_id`` of the depth image.
        have_depth_info: whether a ``depth/camera_info`` for this depth image is known.

    Raises:
        ValueError: ``lowres``/``sparse`` (or ``auto`` without registration) for sizes that
            do not fit, or an unknown mode.
    """
    if mode == 'register':
        return mode
    if mode == 'auto':
        if have_depth_info and depth_frame and rgb_frame and depth_frame != rgb_frame:
            return 'register'
        mode = 'sparse' if factor == 1 else 'lowres'
    if mode not in ('lowres', 'sparse'):
        raise ValueError(f'unknown depth.mode {mode!r}')
    if factor is None or (mode == 'sparse' and factor != 1):
        raise ValueError(f'depth.mode {mode!r} does not fit a size factor of {factor}: '
                         "'sparse' needs the RGB size, 'lowres' the RGB size divided by an "
                         "integer; use 'register' (with depth/camera_info) otherwise")
    return mode


def parse_pose(value: PoseLike) -> Tuple[float, ...]:
    """Return the 7 numbers of a pose given as a sequence or as text.

    Text may separate the numbers by commas and/or spaces and may carry brackets, so
    ``'[0.015, 0, 0, 0, 0, 0, 1]'`` and ``'0.015 0 0 0 0 0 1'`` both work (a string
    parameter holds it in ROS).

    Raises:
        ValueError: not 7 finite numbers.
    """
    if isinstance(value, str):
        text = value.strip().lstrip('[').rstrip(']').replace(',', ' ')
        try:
            numbers = [float(item) for item in text.split()]
        except ValueError:
            raise ValueError(f'pose {value!r} is not a list of numbers') from None
    else:
        numbers = [float(item) for item in np.asarray(value, dtype=np.float64).reshape(-1)]
    if len(numbers) != 7 or not all(np.isfinite(numbers)):
        raise ValueError(f'pose must be 7 finite numbers [x, y, z, qx, qy, qz, qw], got {value!r}')
    return tuple(numbers)


def pose_to_matrix(pose: PoseLike) -> np.ndarray:
    """Return the ``(4, 4)`` float64 rigid transform of ``[x, y, z, qx, qy, qz, qw]``.

    The quaternion is normalised (so rounded values work).

    Raises:
        ValueError: not 7 finite numbers, or a zero quaternion.
    """
    x, y, z, qx, qy, qz, qw = parse_pose(pose)
    norm = float(np.sqrt(qx * qx + qy * qy + qz * qz + qw * qw))
    if norm < 1e-6:
        raise ValueError(f'pose quaternion {(qx, qy, qz, qw)} is zero')
    qx, qy, qz, qw = qx / norm, qy / norm, qz / norm, qw / norm
    matrix = np.eye(4)
    matrix[:3, :3] = [
        [1 - 2 * (qy * qy + qz * qz), 2 * (qx * qy - qz * qw), 2 * (qx * qz + qy * qw)],
        [2 * (qx * qy + qz * qw), 1 - 2 * (qx * qx + qz * qz), 2 * (qy * qz - qx * qw)],
        [2 * (qx * qz - qy * qw), 2 * (qy * qz + qx * qw), 1 - 2 * (qx * qx + qy * qy)],
    ]
    matrix[:3, 3] = (x, y, z)
    return matrix


def matrix_to_pose(matrix: np.ndarray) -> Tuple[float, ...]:
    """Return ``(x, y, z, qx, qy, qz, qw)`` of a ``(4, 4)`` rigid transform (``qw >= 0``)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape != (4, 4):
        raise ValueError(f'transform must be (4, 4), got {matrix.shape}')
    r = matrix[:3, :3]
    # Shepperd's method: start from the largest of the four quaternion components.
    diagonal = (np.trace(r), r[0, 0], r[1, 1], r[2, 2])
    largest = int(np.argmax(diagonal))
    if largest == 0:
        s = 2.0 * np.sqrt(1.0 + diagonal[0])
        q = ((r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s, s / 4)
    elif largest == 1:
        s = 2.0 * np.sqrt(1.0 + r[0, 0] - r[1, 1] - r[2, 2])
        q = (s / 4, (r[0, 1] + r[1, 0]) / s, (r[0, 2] + r[2, 0]) / s, (r[2, 1] - r[1, 2]) / s)
    elif largest == 2:
        s = 2.0 * np.sqrt(1.0 + r[1, 1] - r[0, 0] - r[2, 2])
        q = ((r[0, 1] + r[1, 0]) / s, s / 4, (r[1, 2] + r[2, 1]) / s, (r[0, 2] - r[2, 0]) / s)
    else:
        s = 2.0 * np.sqrt(1.0 + r[2, 2] - r[0, 0] - r[1, 1])
        q = ((r[0, 2] + r[2, 0]) / s, (r[1, 2] + r[2, 1]) / s, s / 4, (r[1, 0] - r[0, 1]) / s)
    quaternion = np.asarray(q) * (1.0 if q[3] >= 0 else -1.0)
    return tuple(float(v) for v in (*matrix[:3, 3], *quaternion))


def transform_points(points: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """Apply a ``(4, 4)`` rigid transform to ``(N, 3)`` points; float64 result."""
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f'points must be (N, 3), got {points.shape}')
    transform = np.asarray(transform, dtype=np.float64)
    if transform.shape != (4, 4) or not np.all(np.isfinite(transform)):
        raise ValueError(f'transform must be a finite (4, 4) matrix, got {transform.shape}')
    return points.astype(np.float64) @ transform[:3, :3].T + transform[:3, 3]


def projection_matrix(camera: np.ndarray) -> np.ndarray:
    """Return a ``(3, 4)`` float64 projection from a ``(3, 3)`` K or a ``(3, 4)`` P.

    ``P`` is ``sensor_msgs/CameraInfo.p``: the rectified camera, with ``P[:, 3]`` the
    offset of a stereo camera's second view (zero for a monocular camera).

    Raises:
        ValueError: not 9 or 12 finite values, or fx/fy not positive.
    """
    values = np.asarray(camera, dtype=np.float64).reshape(-1)
    if values.size == 12:
        projection = values.reshape(3, 4).copy()
        validate_intrinsics(projection[:, :3])
        return projection
    if values.size == 9:
        return np.hstack([validate_intrinsics(values), np.zeros((3, 1))])
    raise ValueError(f'camera must be a 3x3 K or a 3x4 P, got {values.size} values')


#: Points projected at a time by :func:`project_points`: bounds its float64 temporaries
#: (about 150 bytes a point) whatever the size of the cloud (a 10-million-point cloud).
PROJECT_CHUNK = 1 << 20


def project_points(points: np.ndarray, camera: np.ndarray, shape: Tuple[int, int],
                   min_depth: float = 1e-3,
                   transform: Optional[np.ndarray] = None) -> np.ndarray:
    """Z-buffer ``(N, 3)`` points of a camera's optical frame into a sparse depth image.

    Args:
        points: ``(N, 3)`` points in the optical frame of ``camera`` (or in the frame
            ``transform`` maps from); non-finite rows are ignored.
        camera: ``(3, 3)`` K or ``(3, 4)`` rectified P of the target image.
        shape: ``(H, W)`` of the target image.
        min_depth: points with ``z <= min_depth`` (behind or at the camera) are dropped.
        transform: optional ``(4, 4)`` rigid transform applied first
            (:func:`transform_points`), chunk by chunk.

    Returns:
        ``(H, W)`` float32 depth along the optical axis (the third row of ``P [p; 1]``),
        NaN where no point landed; where several points land in one pixel the nearest is
        kept. The points are handled :data:`PROJECT_CHUNK` at a time, so the temporaries
        do not grow with the cloud.
    """
    height, width = (int(v) for v in shape)
    if height <= 0 or width <= 0:
        raise ValueError(f'shape must be positive, got {shape}')
    projection = projection_matrix(camera)
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f'points must be (N, 3), got {points.shape}')
    out = np.full(height * width, np.nan, dtype=np.float32)
    for start in range(0, points.shape[0], PROJECT_CHUNK):
        chunk = points[start:start + PROJECT_CHUNK]
        chunk = transform_points(chunk, transform) if transform is not None \
            else chunk.astype(np.float64)
        pixel, z = _nearest_per_pixel(chunk, projection, height, width, min_depth)
        out[pixel] = np.fmin(out[pixel], z)  # NaN (empty) loses; the nearer point wins
    return out.reshape(height, width)


def _nearest_per_pixel(points: np.ndarray, projection: np.ndarray, height: int, width: int,
                       min_depth: float) -> Tuple[np.ndarray, np.ndarray]:
    """Pixels (flat indices, unique) and float32 depths of the nearest point in each."""
    image = points @ projection[:, :3].T + projection[:, 3]
    # Depth is the third homogeneous coordinate: z itself for a ROS P (last row 0 0 1 0),
    # and z in the second view for a P with a z offset (KITTI's P2).
    z = image[:, 2]
    with np.errstate(invalid='ignore', divide='ignore'):
        keep = np.isfinite(image).all(axis=1) & (z > min_depth)
        u = np.floor(image[keep, 0] / image[keep, 2] + 0.5)
        v = np.floor(image[keep, 1] / image[keep, 2] + 0.5)
    z = z[keep]
    inside = (u >= 0) & (u < width) & (v >= 0) & (v < height)
    pixel = v[inside].astype(np.int64) * width + u[inside].astype(np.int64)
    z = z[inside]
    if not pixel.size:
        return pixel, z.astype(np.float32)
    order = np.lexsort((z, pixel))  # by pixel, nearest first within a pixel
    pixel, z = pixel[order], z[order]
    first = np.ones(pixel.size, dtype=bool)
    first[1:] = pixel[1:] != pixel[:-1]
    return pixel[first], z[first].astype(np.float32)


def register_depth(depth: np.ndarray, depth_k: np.ndarray, depth_to_rgb: np.ndarray,
                   rgb_camera: np.ndarray, rgb_shape: Tuple[int, int],
                   min_depth: float = 1e-3) -> np.ndarray:
    """Bring a depth image of another camera into the RGB camera as sparse depth.

    Args:
        depth: ``(h, w)`` float depth of the depth camera (NaN or ``<= 0`` = invalid), any
            unit; the translation of ``depth_to_rgb`` must be in the same unit.
        depth_k: ``(3, 3)`` K of the depth image (its ``camera_info``, for its size).
        depth_to_rgb: ``(4, 4)`` transform from the depth optical frame to the RGB optical
            frame (:func:`pose_to_matrix`).
        rgb_camera: ``(3, 3)`` K or ``(3, 4)`` rectified P of the RGB camera.
        rgb_shape: ``(H, W)`` of the RGB image; any ratio to ``(h, w)``.
        min_depth: points that end up at ``z <= min_depth`` in the RGB frame are dropped.

    Returns:
        ``(H, W)`` float32 sparse depth in the RGB camera, NaN where no pixel landed.
        ``depth`` is not modified.
    """
    points = backproject(depth, depth_k).reshape(-1, 3)
    points = points[np.isfinite(points[:, 2])]
    return project_points(points, rgb_camera, rgb_shape, min_depth, transform=depth_to_rgb)
