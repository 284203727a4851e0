# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Message-level inputs from real sensors: decode by message type, register, project clouds.

What the frame pipeline calls for each input kind (it holds no node objects; neither does
this module):

* :func:`decode_rgb` / :func:`decode_depth_checked`: ``sensor_msgs/Image`` or
  ``sensor_msgs/CompressedImage`` (image_transport ``compressed`` for colour,
  ``compressedDepth`` for depth), chosen by the message's type;
* :func:`rgb_projection`: the RGB camera's projection for registration and clouds, the
  rectified ``P`` when it is set, else ``K``; :func:`distortion_warning` for a distorted
  camera whose image is not rectified;
* :func:`register_depth_message`: depth of another camera (``depth.mode: register``) into
  the RGB camera as sparse depth;
* :func:`cloud_to_sparse_depth`: a ``PointCloud2`` (``depth.source: cloud``) into the RGB
  camera as sparse depth;
* :func:`frame_mismatch_warning`: RGB and depth in different frames in a mode that assumes
  registered depth.

Errors are :class:`~dada_ros.msgs.conversions.ImageConversionError` subclasses with a ``kind``
to count, like every input error.
"""

from __future__ import annotations

from typing import Optional, Tuple, Union

import numpy as np
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2

from .clouds import cloud_to_xyz
from .compressed import compressed_to_depth, compressed_to_rgb, UnsupportedFormatError
from .conversions import (camera_info_fits, camera_info_to_k, CameraInfoError, check_stamp,
                          DepthReport, image_to_depth_checked, image_to_rgb, ImageConversionError,
                          MAX_PIXELS)
from ..core.registration import project_points, projection_matrix, register_depth

__all__ = [
    'NoDepthCameraInfoError', 'DepthCameraInfoMismatchError', 'NoTransformError',
    'decode_rgb', 'decode_depth_checked', 'rgb_projection', 'distortion_warning',
    'register_depth_message', 'cloud_to_sparse_depth', 'points_to_sparse_depth',
    'frame_mismatch_warning',
]

ColourMessage = Union[Image, CompressedImage]
DepthMessage = Union[Image, CompressedImage]


class NoDepthCameraInfoError(ImageConversionError):
    """``depth.mode: register`` without a ``depth/camera_info`` for the depth image."""

    kind = 'no_depth_camera_info'


class DepthCameraInfoMismatchError(ImageConversionError):
    """The ``depth/camera_info`` describes another image size than the depth image."""

    kind = 'depth_camera_info_mismatch'


class NoTransformError(ImageConversionError):
    """No ``depth.to_rgb`` / ``cloud.to_rgb`` and no TF transform for the frames."""

    kind = 'no_transform'


def decode_rgb(msg: ColourMessage, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Return ``(H, W, 3)`` uint8 RGB from an ``Image`` or a ``compressed`` ``CompressedImage``.

    ``max_pixels`` (``input.max_pixels``) bounds the declared size, checked before decoding.

    Raises:
        ImageConversionError: by kind (stamp, encoding, size, format, data).
    """
    check_stamp(msg.header, 'rgb image')
    if isinstance(msg, CompressedImage):
        return compressed_to_rgb(msg, max_pixels)
    return image_to_rgb(msg, max_pixels)


def decode_depth_checked(msg: DepthMessage,
                         max_pixels: int = MAX_PIXELS) -> Tuple[np.ndarray, DepthReport]:
    """Return depth in metres (NaN = invalid) and its report from an Image or compressedDepth.

    A ``CompressedImage`` must be ``compressedDepth`` (JPEG/PNG colour images are not
    depth); it cannot hold infinite or negative values, so its report counts none.
    ``max_pixels`` bounds the declared size, checked before decoding.

    Raises:
        ImageConversionError: by kind.
    """
    check_stamp(msg.header, 'depth image')
    if isinstance(msg, CompressedImage):
        if 'compressedDepth' not in str(msg.format):
            raise UnsupportedFormatError(
                f'depth CompressedImage has format {msg.format!r}; the depth input reads '
                "compressedDepth ('16UC1; compressedDepth png', ...)")
        depth = compressed_to_depth(msg, max_pixels)
        valid = int(np.count_nonzero(np.isfinite(depth)))
        return depth, DepthReport(valid=valid, infinite=0, total=int(depth.size))
    return image_to_depth_checked(msg, max_pixels)


def rgb_projection(info: CameraInfo) -> np.ndarray:
    """Return the ``(3, 4)`` projection of the RGB camera: ``P`` when it is set, else ``K``.

    ``P`` is the camera of the rectified image (``image_rect``), which is what a pinhole
    projection needs; drivers that publish an all-zero ``P`` get ``[K | 0]``.

    Raises:
        CameraInfoError: neither ``P`` nor ``K`` is usable.
    """
    p = np.asarray(info.p, dtype=np.float64)
    if p.size == 12 and np.any(p) and np.all(np.isfinite(p)):
        try:
            return projection_matrix(p)
        except ValueError:
            pass  # a broken P: fall back to K
    return projection_matrix(camera_info_to_k(info))


def distortion_warning(info: CameraInfo, topic: str) -> Optional[str]:
    """Return a warning when ``info`` has non-zero distortion and ``topic`` is not rectified.

    The node assumes a pinhole (rectified) image; a ``*_rect*`` topic is rectified by
    ``image_proc`` or the driver, any other topic of a distorted camera is probably not.
    """
    distortion = np.asarray(info.d, dtype=np.float64)
    rectified = any('rect' in segment for segment in topic.strip('/').split('/')[-2:])
    if distortion.size == 0 or not np.any(distortion) or rectified:
        return None
    return (f'{topic}: camera_info has non-zero distortion D={distortion.round(4).tolist()} '
            f'({info.distortion_model}) but the topic is not a rectified image; the pinhole '
            'model will be off towards the borders (rectify with image_proc)')


def register_depth_message(depth: np.ndarray, depth_info: Optional[CameraInfo],
                           depth_to_rgb: Optional[np.ndarray], rgb_info: CameraInfo,
                           rgb_shape: Tuple[int, int]) -> np.ndarray:
    """Register decoded depth of another camera into the RGB camera (sparse, metres).

    Args:
        depth: ``(h, w)`` depth in metres from :func:`decode_depth_checked`.
        depth_info: the depth image's ``camera_info`` (its ``K``).
        depth_to_rgb: ``(4, 4)`` transform from the depth optical frame to the RGB optical
            frame (:func:`dada_ros.msgs.transforms.resolve_transform`).
        rgb_info: the RGB camera_info (:func:`rgb_projection`).
        rgb_shape: ``(H, W)`` of the RGB image.

    Raises:
        NoDepthCameraInfoError, DepthCameraInfoMismatchError, NoTransformError,
        CameraInfoError.
    """
    if depth_info is None:
        raise NoDepthCameraInfoError(
            "depth.mode 'register' needs depth/camera_info (the depth camera's K); none "
            'has arrived')
    height, width = depth.shape
    if not camera_info_fits(depth_info, width, height):
        raise DepthCameraInfoMismatchError(
            f'depth/camera_info is {depth_info.width}x{depth_info.height}, the depth image '
            f'{width}x{height}')
    if depth_to_rgb is None:
        raise NoTransformError('no transform from the depth frame to the RGB frame')
    try:
        return register_depth(depth, camera_info_to_k(depth_info), depth_to_rgb,
                              rgb_projection(rgb_info), rgb_shape)
    except CameraInfoError:
        raise
    except ValueError as error:
        raise CameraInfoError(f'registration: {error}') from None


def cloud_to_sparse_depth(cloud: PointCloud2, cloud_to_rgb: Optional[np.ndarray],
                          rgb_info: CameraInfo, rgb_shape: Tuple[int, int]) -> np.ndarray:
    """Project a cloud into the RGB camera as sparse depth (metres; NaN without a point).

    The nearest point is kept per pixel, points behind the camera are dropped; an empty
    cloud gives an all-NaN image (the caller counts it as invalid depth).

    Raises:
        CloudMissingFieldError, CloudFieldError, CloudDataError (see
        :func:`~dada_ros.msgs.clouds.cloud_to_xyz`), NoTransformError, CameraInfoError.
    """
    points = cloud_to_xyz(cloud)
    if cloud_to_rgb is None:
        raise NoTransformError('no transform from the cloud frame to the RGB frame')
    return points_to_sparse_depth(points, cloud_to_rgb, rgb_info, rgb_shape)


def points_to_sparse_depth(points: np.ndarray, cloud_to_rgb: np.ndarray, rgb_info: CameraInfo,
                           rgb_shape: Tuple[int, int]) -> np.ndarray:
    """Project ``(N, 3)`` cloud points (metres) into the RGB camera as sparse depth.

    The projection of :func:`cloud_to_sparse_depth` for points already read (the frame
    pipeline checks them first).

    Raises:
        CameraInfoError: neither ``P`` nor ``K`` of ``rgb_info`` is usable.
    """
    return project_points(points, rgb_projection(rgb_info), rgb_shape,
                          transform=cloud_to_rgb)


def frame_mismatch_warning(mode: str, rgb_frame: str, depth_frame: str) -> Optional[str]:
    """Return a warning when ``lowres``/``sparse`` depth is in another frame than the RGB.

    Those modes assume depth registered to the RGB camera; different ``frame_id`` values
    usually mean unregistered depth (use ``depth.mode: register``). Empty frame ids are
    not compared.
    """
    if mode not in ('lowres', 'sparse') or not rgb_frame or not depth_frame \
            or rgb_frame == depth_frame:
        return None
    return (f"depth.mode '{mode}' assumes depth registered to the RGB camera, but the depth "
            f'frame_id {depth_frame!r} differs from the RGB frame_id {rgb_frame!r}; use '
            "depth.mode 'register' with depth/camera_info (and depth.to_rgb or TF) if the "
            'depth comes from another camera')
