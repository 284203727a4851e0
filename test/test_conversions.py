# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Round-trip and error tests of ``dada_ros.msgs.conversions`` (messages only, no rclpy.init)."""

from __future__ import annotations

import array
import sys

from dada_ros.msgs.clouds import depth_to_pointcloud, pack_rgb, PointCloudBuilder, read_points
from dada_ros.msgs.conversions import (array_to_image, camera_info_to_k, CameraInfoError,
                                       DataTooLongError, DataTooShortError, depth_to_image,
                                       EmptyImageError, ENCODINGS, image_to_array, image_to_depth,
                                       image_to_depth_checked, image_to_rgb, ImageConversionError,
                                       ImageTooLargeError, rgb_to_image, StepTooSmallError,
                                       UnsupportedEncodingError)
import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, Image, PointField
from std_msgs.msg import Header

HOST_BIG = sys.byteorder == 'big'
RNG = np.random.default_rng(7)


def _header(frame: str = 'cam_optical') -> Header:
    header = Header(frame_id=frame)
    header.stamp.sec = 12
    header.stamp.nanosec = 345
    return header


def _sample(encoding: str, height: int = 5, width: int = 7) -> np.ndarray:
    scalar, channels = ENCODINGS[encoding]
    shape = (height, width) if channels == 1 else (height, width, channels)
    if scalar is np.float32:
        return RNG.uniform(0.1, 10.0, shape).astype(np.float32)
    return RNG.integers(0, np.iinfo(scalar).max, shape, endpoint=True).astype(scalar)


@pytest.mark.parametrize('encoding', sorted(ENCODINGS))
@pytest.mark.parametrize('padding', [0, 3, 16])
@pytest.mark.parametrize('big_endian', [False, True])
def test_round_trip_every_encoding(encoding: str, padding: int, big_endian: bool) -> None:
    """Arrays survive array -> Image -> array with padding and either byte order."""
    pixels = _sample(encoding)
    scalar, channels = ENCODINGS[encoding]
    row_bytes = 7 * channels * np.dtype(scalar).itemsize
    msg = array_to_image(pixels, encoding, _header(), step=row_bytes + padding,
                         big_endian=big_endian)
    assert msg.step == row_bytes + padding
    assert len(msg.data) == msg.step * 5
    assert bool(msg.is_bigendian) == big_endian
    assert msg.header.frame_id == 'cam_optical' and msg.header.stamp.nanosec == 345
    back = image_to_array(msg)
    assert back.dtype == np.dtype(scalar).newbyteorder('=')
    np.testing.assert_array_equal(back, pixels)


def test_foreign_byte_order_is_swapped() -> None:
    """Bytes written by a machine of the other byte order are swapped on read."""
    mm = np.array([[1, 258, 65535]], dtype=np.uint16)
    other = '<' if HOST_BIG else '>'
    msg = Image(height=1, width=3, encoding='16UC1', is_bigendian=int(not HOST_BIG), step=6)
    msg.data = array.array('B', mm.astype(other + 'u2').tobytes())
    np.testing.assert_array_equal(image_to_array(msg), mm)
    # The same bytes flagged with the host order read differently: the flag matters.
    msg.is_bigendian = int(HOST_BIG)
    assert not np.array_equal(image_to_array(msg), mm)


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8'])
def test_color_encodings_to_rgb(encoding: str) -> None:
    """Every color encoding becomes HxWx3 uint8 in RGB order."""
    rgb = _sample('rgb8', 4, 6)
    if encoding == 'rgb8':
        pixels = rgb
    elif encoding == 'bgr8':
        pixels = rgb[:, :, ::-1]
    elif encoding == 'rgba8':
        pixels = np.dstack([rgb, np.full(rgb.shape[:2], 9, np.uint8)])
    elif encoding == 'bgra8':
        pixels = np.dstack([rgb[:, :, ::-1], np.full(rgb.shape[:2], 9, np.uint8)])
    else:
        pixels = rgb[:, :, 0]
    msg = array_to_image(pixels, encoding, step=None)
    out = image_to_rgb(msg)
    assert out.shape == (4, 6, 3) and out.dtype == np.uint8 and out.flags.c_contiguous
    if encoding == 'mono8':
        np.testing.assert_array_equal(out, np.repeat(rgb[:, :, :1], 3, axis=2))
    else:
        np.testing.assert_array_equal(out, rgb)


def test_rgb_to_image_writes_rgb8_and_bgr8() -> None:
    """rgb_to_image stores the channels in the order its encoding says."""
    rgb = _sample('rgb8')
    assert image_to_array(rgb_to_image(rgb, encoding='bgr8'))[0, 0, 0] == rgb[0, 0, 2]
    np.testing.assert_array_equal(image_to_rgb(rgb_to_image(rgb, encoding='bgr8')), rgb)
    np.testing.assert_array_equal(image_to_rgb(rgb_to_image(rgb)), rgb)
    with pytest.raises(UnsupportedEncodingError):
        rgb_to_image(rgb, encoding='mono8')


def test_16uc1_millimetres_to_metres() -> None:
    """16UC1 is millimetres; 0 is invalid (NaN)."""
    mm = np.array([[0, 1000, 1500], [65535, 1, 0]], dtype=np.uint16)
    for big in (False, True):
        depth = image_to_depth(array_to_image(mm, '16UC1', step=10, big_endian=big))
        assert depth.dtype == np.float32
        np.testing.assert_allclose(depth[[0, 0, 1, 1], [1, 2, 0, 1]],
                                   [1.0, 1.5, 65.535, 0.001], rtol=1e-6)
        assert np.isnan(depth[0, 0]) and np.isnan(depth[1, 2])


def test_mono16_is_read_as_16uc1_millimetres() -> None:
    """Drivers that publish depth as mono16 get the 16UC1 reading; it is not a colour."""
    mm = np.array([[0, 1000, 1500], [65535, 1, 0]], dtype=np.uint16)
    for big in (False, True):
        as_mono16 = image_to_depth(array_to_image(mm, 'mono16', big_endian=big))
        as_16uc1 = image_to_depth(array_to_image(mm, '16UC1', big_endian=big))
        np.testing.assert_array_equal(as_mono16, as_16uc1)
    depth, report = image_to_depth_checked(array_to_image(mm, 'mono16'))
    assert (report.valid, report.infinite) == (4, 0)
    with pytest.raises(UnsupportedEncodingError):
        image_to_rgb(array_to_image(mm, 'mono16'))


@pytest.mark.parametrize('value', [1, 2.5, None, [[1.0]], 'rgb', (1, 2)])
def test_non_array_inputs_raise_type_error(value: object) -> None:
    """rgb_to_image and depth_to_image reject non-arrays with TypeError, not AttributeError."""
    with pytest.raises(TypeError, match='numpy array'):
        rgb_to_image(value)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match='numpy array'):
        depth_to_image(value)  # type: ignore[arg-type]


def test_32fc1_invalid_values_to_nan() -> None:
    """32FC1 is metres; 0, negative, NaN and +-Inf become NaN."""
    values = np.array([[0.0, -1.0, np.nan, np.inf, -np.inf, 2.25]], dtype=np.float32)
    source = values.copy()
    msg = array_to_image(values, '32FC1', big_endian=not HOST_BIG)
    depth = image_to_depth(msg)
    assert np.isnan(depth[0, :5]).all()
    assert depth[0, 5] == np.float32(2.25)
    np.testing.assert_array_equal(values, source)


def test_depth_report_counts_valid_and_infinite_pixels() -> None:
    """image_to_depth_checked reports valid and +-Inf input pixels."""
    values = np.array([[np.inf, -np.inf, np.nan, 0.0, 1.0, 2.0]], dtype=np.float32)
    depth, report = image_to_depth_checked(array_to_image(values, '32FC1'))
    assert (report.valid, report.infinite, report.total, report.negative) == (2, 2, 6, 0)
    negative = np.array([[-1.0, -0.0, -3e38, 1.0]], dtype=np.float32)
    signed, report = image_to_depth_checked(array_to_image(negative, '32FC1'))
    assert (report.valid, report.negative) == (1, 2)
    assert np.isnan(signed[0, :3]).all()
    assert np.isnan(depth[0, :4]).all()
    _, report = image_to_depth_checked(array_to_image(np.zeros((2, 2), np.uint16), '16UC1'))
    assert (report.valid, report.infinite, report.total) == (0, 0, 4)


def test_depth_to_image_round_trip() -> None:
    """depth_to_image writes 32FC1 metres with NaN kept, in host byte order."""
    depth = _sample('32FC1')
    depth[1, 2] = np.nan
    msg = depth_to_image(depth, _header())
    assert msg.encoding == '32FC1' and msg.step == 7 * 4 and bool(msg.is_bigendian) == HOST_BIG
    np.testing.assert_array_equal(image_to_depth(msg), depth)
    with pytest.raises(ValueError):
        depth_to_image(np.ones((2, 2), dtype=np.uint16))


def test_wrong_kind_of_encoding() -> None:
    """A depth encoding is not a color image and vice versa."""
    with pytest.raises(UnsupportedEncodingError):
        image_to_rgb(array_to_image(_sample('16UC1'), '16UC1'))
    with pytest.raises(UnsupportedEncodingError):
        image_to_depth(array_to_image(_sample('rgb8'), 'rgb8'))


def _raw(encoding: str, height: int, width: int, step: int, size: int) -> Image:
    msg = Image(height=height, width=width, encoding=encoding, step=step)
    msg.data = array.array('B', bytes(size))
    return msg


@pytest.mark.parametrize('msg, error, kind', [
    (_raw('yuv422', 2, 2, 4, 8), UnsupportedEncodingError, 'unknown_encoding'),
    (_raw('', 2, 2, 4, 8), UnsupportedEncodingError, 'unknown_encoding'),
    (_raw('rgb8', 0, 4, 12, 0), EmptyImageError, 'empty_image'),
    (_raw('32FC1', 3, 0, 0, 0), EmptyImageError, 'empty_image'),
    (_raw('rgb8', 2, 4, 11, 22), StepTooSmallError, 'step_too_small'),
    (_raw('16UC1', 2, 4, 8, 15), DataTooShortError, 'data_too_short'),
    (_raw('rgb8', 2, 4, 14, 27), DataTooShortError, 'data_too_short'),
    (_raw('16UC1', 2, 4, 8, 17), DataTooLongError, 'data_too_long'),
    (_raw('rgb8', 2, 4, 14, 29), DataTooLongError, 'data_too_long'),
    (_raw('mono8', 9000, 8000, 8000, 0), ImageTooLargeError, 'image_too_large'),
])
def test_errors(msg: Image, error: type, kind: str) -> None:
    """Malformed images raise a ValueError subclass with a counter kind and a reason."""
    with pytest.raises(error) as info:
        image_to_array(msg)
    assert isinstance(info.value, ImageConversionError)
    assert isinstance(info.value, ValueError)
    assert info.value.kind == kind
    assert str(info.value)


def test_the_size_bound_is_the_callers() -> None:
    """``max_pixels`` refuses a raw image before conversion; the default admits it."""
    msg = array_to_image(np.ones((30, 40), np.float32), '32FC1')
    assert image_to_depth(msg).shape == (30, 40)
    with pytest.raises(ImageTooLargeError, match='1199'):
        image_to_depth(msg, max_pixels=1199)
    with pytest.raises(ImageTooLargeError):
        image_to_rgb(array_to_image(np.zeros((30, 40, 3), np.uint8), 'rgb8'), max_pixels=10)


def test_padding_bytes_are_ignored() -> None:
    """Garbage in the padding does not leak into the pixels."""
    pixels = _sample('rgb8', 3, 2)
    msg = array_to_image(pixels, 'rgb8', step=10)
    raw = bytearray(msg.data)
    for row in range(3):
        raw[row * 10 + 6:row * 10 + 10] = b'\xff\xee\xdd\xcc'
    msg.data = array.array('B', bytes(raw))
    np.testing.assert_array_equal(image_to_rgb(msg), pixels)


def test_array_to_image_errors() -> None:
    """Shape/encoding mismatches and a too-small step are rejected."""
    with pytest.raises(ValueError):
        array_to_image(np.zeros((2, 2, 3), np.uint8), 'mono8')
    with pytest.raises(StepTooSmallError):
        array_to_image(np.zeros((2, 2, 3), np.uint8), 'rgb8', step=5)
    with pytest.raises(UnsupportedEncodingError):
        array_to_image(np.zeros((2, 2), np.uint8), 'nope')


def test_camera_info_to_k() -> None:
    """K comes back as 3x3 float64; all-zero or non-positive focal lengths are errors."""
    info = CameraInfo()
    info.k = [500.0, 0.0, 320.0, 0.0, 510.0, 240.0, 0.0, 0.0, 1.0]
    k = camera_info_to_k(info)
    assert k.shape == (3, 3) and k.dtype == np.float64
    assert (k[0, 0], k[1, 1], k[0, 2], k[1, 2]) == (500.0, 510.0, 320.0, 240.0)
    k[0, 0] = 1.0
    assert info.k[0] == 500.0  # a copy, the message is untouched
    with pytest.raises(CameraInfoError, match='all zero'):
        camera_info_to_k(CameraInfo())
    info.k = [-5.0, 0.0, 320.0, 0.0, 510.0, 240.0, 0.0, 0.0, 1.0]
    with pytest.raises(CameraInfoError, match='fx > 0'):
        camera_info_to_k(info)
    info.k = [500.0, 0.0, 320.0]  # the message setter does not check the length
    with pytest.raises(CameraInfoError, match='9 values') as wrong:
        camera_info_to_k(info)
    assert wrong.value.kind == 'bad_camera_info'


def test_pointcloud_layout_and_geometry() -> None:
    """The cloud is organized, float32 x/y/z/rgb, NaN for invalid points, pinhole geometry."""
    k = np.array([[50.0, 0, 15.5], [0, 60.0, 11.5], [0, 0, 1]])
    depth = np.full((24, 32), 3.0, dtype=np.float32)
    depth[0:4, 0:4] = np.nan
    rgb = _sample('rgb8', 24, 32)
    cloud = depth_to_pointcloud(depth, k, _header(), stride=3, rgb=rgb)
    assert (cloud.height, cloud.width) == (8, 11)
    assert [f.name for f in cloud.fields] == ['x', 'y', 'z', 'rgb']
    assert [f.offset for f in cloud.fields] == [0, 4, 8, 12]
    assert all(f.datatype == PointField.FLOAT32 and f.count == 1 for f in cloud.fields)
    assert cloud.point_step == 16 and cloud.row_step == 16 * 11
    assert len(cloud.data) == cloud.row_step * cloud.height
    assert cloud.is_dense is False and cloud.header.frame_id == 'cam_optical'
    points = read_points(cloud)
    assert np.isnan(points['x'][0, 0]) and np.isnan(points['z'][1, 1])
    np.testing.assert_allclose(points['z'][2:, 2:], 3.0)
    u = np.arange(11) * 3
    np.testing.assert_allclose(points['x'][5], (u - 15.5) * 3.0 / 50.0, rtol=1e-6)
    v = np.arange(8) * 3
    np.testing.assert_allclose(points['y'][:, 7], (v - 11.5) * 3.0 / 60.0, rtol=1e-6)
    np.testing.assert_array_equal(points['rgb'], rgb[::3, ::3])


def test_pointcloud_without_color_and_packing() -> None:
    """Without rgb the cloud has 12-byte points; packing puts R in bits 16-23."""
    k = np.array([[50.0, 0, 1.0], [0, 50.0, 1.0], [0, 0, 1]])
    cloud = depth_to_pointcloud(np.ones((2, 3), np.float32), k)
    assert [f.name for f in cloud.fields] == ['x', 'y', 'z'] and cloud.point_step == 12
    assert read_points(cloud)['z'].shape == (2, 3)
    packed = pack_rgb(np.array([[0x12, 0x34, 0x56]], np.uint8)).view(np.uint32)
    assert packed[0] == 0x00123456
    with pytest.raises(ValueError):
        depth_to_pointcloud(np.ones((2, 3), np.float32), k, rgb=np.zeros((3, 3, 3), np.uint8))


def test_pointcloud_builder_reuses_its_buffer_but_not_the_messages() -> None:
    """A reused builder matches the one-off function; earlier messages keep their points."""
    k = np.array([[50.0, 0, 15.5], [0, 60.0, 11.5], [0, 0, 1]])
    rgb = _sample('rgb8', 24, 32)
    near = np.full((24, 32), 1.0, dtype=np.float32)
    far = np.full((24, 32), 7.0, dtype=np.float32)
    builder = PointCloudBuilder()
    first = builder.build(near, k, _header(), 1, rgb)
    second = builder.build(far, k, _header(), 1, rgb)
    assert bytes(first.data) == bytes(depth_to_pointcloud(near, k, _header(), 1, rgb).data)
    assert bytes(second.data) == bytes(depth_to_pointcloud(far, k, _header(), 1, rgb).data)
    np.testing.assert_allclose(read_points(first)['z'], 1.0)
    third = builder.build(far, k, _header(), 2, None)  # another shape: a new buffer
    assert third.point_step == 12 and (third.height, third.width) == (12, 16)
    np.testing.assert_allclose(read_points(second)['z'], 7.0)
    assert near[0, 0] == 1.0 and far[0, 0] == 7.0  # inputs untouched


def test_cloud_byte_order_flag_is_checked() -> None:
    """Either byte order reads correctly when flagged; a flag the data contradicts is refused."""
    from dada_ros.msgs.clouds import cloud_to_xyz
    from dada_ros.msgs.conversions import CloudByteOrderError
    from hostile_messages import cloud_message
    rng = np.random.default_rng(3)
    points = rng.uniform(-30.0, 30.0, (5000, 3)).astype(np.float32)
    points[::7] = np.nan  # organised clouds mark missing returns with NaN
    valid = points[np.isfinite(points).all(axis=1)]
    for big in (False, True):
        np.testing.assert_array_equal(cloud_to_xyz(cloud_message(points, big)), valid)
        with pytest.raises(CloudByteOrderError) as raised:
            cloud_to_xyz(cloud_message(points, big, flag_big_endian=not big))
        assert raised.value.kind == 'cloud_byte_order'
    # Quantised coordinates (millimetres) and a cloud with zeros are read, not refused.
    rounded = np.round(valid * 1000.0) / 1000.0
    rounded[:100] = 0.0
    np.testing.assert_array_equal(cloud_to_xyz(cloud_message(rounded)), rounded)


def test_a_stamp_that_is_not_a_time_is_refused() -> None:
    """``nanosec`` of 1e9 or more is refused by the cloud reader (and the image decoders)."""
    from dada_ros.msgs.clouds import cloud_to_xyz
    from dada_ros.msgs.conversions import BadStampError, check_stamp
    from hostile_messages import cloud_message
    header = _header()
    check_stamp(header, 'fine')
    header.stamp.nanosec = 1_000_000_000
    with pytest.raises(BadStampError, match='not a valid time') as raised:
        cloud_to_xyz(cloud_message(np.ones((4, 3), np.float32), header=header))
    assert raised.value.kind == 'bad_stamp'
