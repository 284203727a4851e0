# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""``CompressedImage`` decoding: image_transport's ``compressed`` and ``compressedDepth``.

The messages are encoded with OpenCV from a real NYUv2 frame (``../shared/data``); the RVL
codec is checked against a plain transcription of the algorithm's loops, written for this
test, and the malformed cases check the error kinds the node counts.
"""

from __future__ import annotations

import struct
from typing import List

from dada_ros.msgs.compressed import (compressed_to_depth, compressed_to_rgb, CompressedDataError,
                                      CompressedHeaderError, declared_size,
                                      depth_to_compressed_depth, is_compressed_depth,
                                      parse_color_format, parse_depth_format, rgb_to_compressed,
                                      UnsupportedFormatError)
from dada_ros.msgs.conversions import ImageConversionError, ImageTooLargeError, MAX_PIXELS
from dada_ros.msgs.depth_codecs import (dequantize_inverse_depth, quantization_params,
                                        quantize_inverse_depth, rvl_decode, rvl_encode)
from dada_ros.training.lidar import nyu_frames, RgbdFrame
from hostile_messages import jpeg_declaring, png_bomb
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage
from std_msgs.msg import Header


@pytest.fixture(scope='module')
def frame() -> RgbdFrame:
    """Return a real NYUv2 frame: 640x480 RGB, depth in metres with holes."""
    return nyu_frames()[0]


def _depth_mm(frame: RgbdFrame) -> np.ndarray:
    return np.nan_to_num(frame.depth * 1000.0, nan=0.0).round().astype(np.uint16)


def _header() -> Header:
    header = Header(frame_id='camera_depth_optical_frame')
    header.stamp.sec, header.stamp.nanosec = 1700000000, 123456789
    return header


def _reference_rvl(image: np.ndarray) -> bytes:
    """RVL written as the paper's loops: one pixel and one nibble at a time."""
    flat = [int(v) for v in image.reshape(-1)]
    words: List[int] = []
    word, written = 0, 0

    def put(value: int) -> None:
        nonlocal word, written
        while True:
            nibble = value & 7
            value >>= 3
            if value:
                nibble |= 8
            word = ((word << 4) | nibble) & 0xFFFFFFFF
            written += 1
            if written == 8:
                words.append(word)
                word, written = 0, 0
            if not value:
                return

    index, previous = 0, 0
    while index < len(flat):
        zeros = 0
        while index < len(flat) and flat[index] == 0:
            index, zeros = index + 1, zeros + 1
        put(zeros)
        nonzeros = 0
        while index + nonzeros < len(flat) and flat[index + nonzeros]:
            nonzeros += 1
        put(nonzeros)
        for _ in range(nonzeros):
            delta = flat[index] - previous
            put(((delta << 1) ^ (delta >> 31)) & 0xFFFFFFFF)
            previous = flat[index]
            index += 1
    if written:
        words.append((word << (4 * (8 - written))) & 0xFFFFFFFF)
    return struct.pack(f'<{len(words)}I', *words)


@pytest.mark.parametrize('case', range(12))
def test_rvl_matches_the_reference_loops(case: int) -> None:
    """Vectorised RVL writes the same bytes as the plain loops and decodes losslessly."""
    rng = np.random.default_rng(case)
    height, width = (int(v) for v in rng.integers(1, 30, 2))
    image = rng.integers(0, 65536, (height, width)).astype(np.uint16)
    image[rng.random((height, width)) < [0.0, 0.3, 0.9, 1.0][case % 4]] = 0
    encoded = rvl_encode(image)
    assert encoded == _reference_rvl(image)
    np.testing.assert_array_equal(rvl_decode(encoded, width, height), image)


def test_rvl_on_real_depth(frame: RgbdFrame) -> None:
    """A real depth image with holes round-trips and compresses."""
    depth = _depth_mm(frame)
    encoded = rvl_encode(depth)
    assert len(encoded) < depth.nbytes / 2
    np.testing.assert_array_equal(rvl_decode(encoded, depth.shape[1], depth.shape[0]), depth)


def test_inverse_depth_quantisation_error_is_bounded() -> None:
    """The 32FC1 code keeps depth to its quantisation step (z^2 / a) and maps 0 to NaN."""
    depth = np.linspace(0.3, 9.9, 2000, dtype=np.float32).reshape(40, 50)
    depth[0, :5] = [np.nan, 0.0, -1.0, np.inf, 12.0]
    codes, a, b = quantize_inverse_depth(depth)
    assert (a, b) == quantization_params(10.0, 100.0)
    assert np.all(codes[0, :5] == 0)
    decoded = dequantize_inverse_depth(codes, a, b)
    assert np.all(np.isnan(decoded[0, :5]))
    valid = np.isfinite(depth) & (depth > 0) & (depth < 10)
    step = depth[valid] ** 2 / a
    error = np.abs(decoded[valid] - depth[valid])
    assert np.all(error <= 1.01 * step + 1e-6)
    assert np.all(decoded[valid] >= depth[valid] - 1e-5)  # truncation: never nearer


@pytest.mark.parametrize('codec', ['jpeg', 'png'])
def test_colour_round_trip(frame: RgbdFrame, codec: str) -> None:
    """cv2-encoded JPEG/PNG in image_transport's format decodes to the RGB image."""
    msg = rgb_to_compressed(frame.rgb, codec, _header())
    assert msg.format == f'rgb8; {codec} compressed bgr8'
    assert msg.header.frame_id == 'camera_depth_optical_frame'
    rgb = compressed_to_rgb(msg)
    assert rgb.shape == frame.rgb.shape and rgb.dtype == np.uint8
    if codec == 'png':
        np.testing.assert_array_equal(rgb, frame.rgb)
    else:
        error = np.abs(rgb.astype(int) - frame.rgb.astype(int)).mean(axis=(0, 1))
        assert np.all(error < 4.0), error  # per channel: a swapped R/B would be far off


def test_colour_formats_of_other_publishers(frame: RgbdFrame) -> None:
    """A bare 'jpeg' format, a grey PNG and an explicit rgb target decode too."""
    ok, jpeg = __import__('cv2').imencode('.jpg', np.ascontiguousarray(frame.rgb[:, :, ::-1]))
    assert ok
    bare = CompressedImage(format='jpeg', data=jpeg.tobytes())
    assert np.abs(compressed_to_rgb(bare).astype(int) - frame.rgb).mean() < 4.0
    grey = frame.rgb[:, :, 1].copy()
    ok, png = __import__('cv2').imencode('.png', grey)
    mono = CompressedImage(format='mono8; png compressed mono8', data=png.tobytes())
    decoded = compressed_to_rgb(mono)
    assert decoded.shape == frame.rgb.shape
    np.testing.assert_array_equal(decoded[:, :, 0], grey)
    ok, png = __import__('cv2').imencode('.png', frame.rgb)  # RGB bytes in the BGR slots
    rgb_target = CompressedImage(format='rgb8; png compressed rgb8', data=png.tobytes())
    np.testing.assert_array_equal(compressed_to_rgb(rgb_target), frame.rgb)
    assert parse_color_format('bgr8; jpeg compressed bgr8') == ('jpeg', True)


@pytest.mark.parametrize('codec', ['png', 'rvl'])
def test_depth_16uc1_round_trip(frame: RgbdFrame, codec: str) -> None:
    """16UC1 compressedDepth (PNG or RVL) decodes to the millimetres exactly."""
    depth_mm = _depth_mm(frame)
    msg = depth_to_compressed_depth(depth_mm, '16UC1', codec, _header())
    assert msg.format == f'16UC1; compressedDepth {codec}'
    assert is_compressed_depth(msg)
    assert bytes(msg.data)[:4] == b'\x00\x00\x00\x00'  # format enum INV_DEPTH
    depth = compressed_to_depth(msg)
    assert depth.dtype == np.float32 and depth.shape == depth_mm.shape
    np.testing.assert_array_equal(np.isnan(depth), depth_mm == 0)
    np.testing.assert_allclose(depth[depth_mm > 0], depth_mm[depth_mm > 0] * 1e-3, rtol=1e-6)


@pytest.mark.parametrize('codec', ['png', 'rvl'])
def test_depth_32fc1_round_trip(frame: RgbdFrame, codec: str) -> None:
    """32FC1 compressedDepth keeps the holes and the depth to the quantisation step."""
    msg = depth_to_compressed_depth(frame.depth, '32FC1', codec, _header())
    depth = compressed_to_depth(msg)
    valid = np.isfinite(frame.depth)
    np.testing.assert_array_equal(np.isfinite(depth), valid)
    a, _ = quantization_params()
    step = frame.depth[valid] ** 2 / a
    assert np.all(np.abs(depth[valid] - frame.depth[valid]) <= 1.01 * step + 1e-6)


def test_old_depth_formats_mean_png(frame: RgbdFrame) -> None:
    """Releases before the rvl option write '16UC1; compressedDepth' (PNG)."""
    msg = depth_to_compressed_depth(_depth_mm(frame), '16UC1', 'png')
    old = CompressedImage(format='16UC1; compressedDepth', data=msg.data)
    np.testing.assert_array_equal(np.isnan(compressed_to_depth(old)), _depth_mm(frame) == 0)
    assert parse_depth_format('32FC1') == ('32FC1', 'png')
    assert parse_depth_format('mono16; compressedDepth rvl') == ('mono16', 'rvl')


def _broken(msg: CompressedImage, data: bytes) -> CompressedImage:
    return CompressedImage(header=msg.header, format=msg.format, data=data)


def test_malformed_data_raises_counted_kinds(frame: RgbdFrame) -> None:
    """Truncated, corrupted or empty data and unknown formats raise by kind, never crash."""
    colour = rgb_to_compressed(frame.rgb, 'jpeg')
    png_depth = depth_to_compressed_depth(_depth_mm(frame), '16UC1', 'png')
    rvl_depth = depth_to_compressed_depth(_depth_mm(frame), '16UC1', 'rvl')
    data = bytes(png_depth.data)
    rvl = bytes(rvl_depth.data)
    cases = [
        (compressed_to_rgb, _broken(colour, b''), 'bad_compressed_data'),
        (compressed_to_rgb, _broken(colour, bytes(colour.data)[:200]), 'bad_compressed_data'),
        (compressed_to_rgb, _broken(colour, b'\x00' * 5000), 'bad_compressed_data'),
        (compressed_to_rgb, CompressedImage(format='h264', data=colour.data),
         'unsupported_format'),
        (compressed_to_rgb, png_depth, 'unsupported_format'),
        (compressed_to_depth, _broken(png_depth, data[:12]), 'bad_compressed_data'),
        (compressed_to_depth, _broken(png_depth, data[:7]), 'bad_compressed_data'),
        (compressed_to_depth, _broken(png_depth, data[:12] + data[40:]), 'bad_compressed_data'),
        (compressed_to_depth, _broken(rvl_depth, rvl[:16]), 'bad_compressed_data'),
        (compressed_to_depth, _broken(rvl_depth, rvl[:len(rvl) // 2 // 4 * 4]),
         'bad_compressed_data'),
        (compressed_to_depth, _broken(rvl_depth, rvl[:12] + b'\xff' * 8 + rvl[20:]),
         'image_too_large'),
        (compressed_to_depth, CompressedImage(format='32FC1; compressedDepth zstd', data=data),
         'unsupported_format'),
        (compressed_to_depth, CompressedImage(format='rgb8; compressedDepth png', data=data),
         'unsupported_format'),
        (compressed_to_depth, colour, 'unsupported_format'),
    ]
    # An 8-bit PNG where a 16-bit depth PNG belongs.
    ok, png8 = __import__('cv2').imencode('.png', frame.rgb[:, :, 0].copy())
    cases.append((compressed_to_depth, _broken(png_depth, data[:12] + png8.tobytes()),
                  'bad_compressed_data'))
    # A 32FC1 header whose quantisation parameters are not finite.
    nan_header = struct.pack('<iff', 0, float('nan'), 1.0)
    cases.append((compressed_to_depth,
                  CompressedImage(format='32FC1; compressedDepth png',
                                  data=nan_header + data[12:]), 'bad_compressed_header'))
    for decode, msg, kind in cases:
        with pytest.raises(ImageConversionError) as raised:
            decode(msg)
        assert raised.value.kind == kind, (msg.format, len(msg.data), raised.value)
        assert isinstance(raised.value, (CompressedDataError, UnsupportedFormatError,
                                         CompressedHeaderError, ImageTooLargeError))
        assert isinstance(raised.value, ValueError)


def test_input_message_is_not_modified(frame: RgbdFrame) -> None:
    """Decoding leaves the message data untouched."""
    msg = depth_to_compressed_depth(frame.depth, '32FC1', 'rvl')
    before = bytes(msg.data)
    compressed_to_depth(msg)
    assert bytes(msg.data) == before


# --- decompression bombs (issue 23) ---------------------------------------------------------
def _peak_rss_kb() -> int:
    import resource
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def test_declared_size_of_real_images(frame: RgbdFrame) -> None:
    """The size is read from the PNG IHDR and the JPEG SOF, as OpenCV decodes it."""
    import cv2
    height, width = frame.depth.shape
    for codec in ('jpeg', 'png'):
        assert declared_size(bytes(rgb_to_compressed(frame.rgb, codec).data)) == (width, height)
    ok, progressive = cv2.imencode('.jpg', frame.rgb, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert declared_size(progressive.tobytes()) == (width, height)
    depth = depth_to_compressed_depth(_depth_mm(frame), '16UC1', 'png')
    assert declared_size(bytes(depth.data)[12:]) == (width, height)
    with pytest.raises(CompressedDataError, match='neither PNG nor JPEG'):
        declared_size(cv2.imencode('.bmp', frame.rgb)[1].tobytes())


def test_png_bomb_is_refused_before_decoding() -> None:
    """A 0.78 MB PNG declaring 20000x20000 16-bit pixels: refused without 800 MB decoded."""
    bomb = png_bomb(20000, 20000)
    assert len(bomb) < 1_000_000
    msg = CompressedImage(format='16UC1; compressedDepth png',
                          data=struct.pack('<iff', 0, 0.0, 0.0) + bomb)
    peak = _peak_rss_kb()
    with pytest.raises(ImageTooLargeError) as raised:
        compressed_to_depth(msg)
    assert raised.value.kind == 'image_too_large'
    assert '20000x20000' in str(raised.value) and 'input.max_pixels' in str(raised.value)
    assert _peak_rss_kb() < peak + 100_000  # decoding would take 800 MB
    colour = CompressedImage(format='rgb8; png compressed bgr8', data=png_bomb(12000, 12000, 8, 2))
    with pytest.raises(ImageTooLargeError):
        compressed_to_rgb(colour)


def test_the_bound_is_the_callers() -> None:
    """A 2000x1000 PNG passes the default bound and is refused below 2 Mpixel."""
    msg = CompressedImage(format='16UC1; compressedDepth png',
                          data=struct.pack('<iff', 0, 0.0, 0.0) + png_bomb(2000, 1000))
    assert np.isnan(compressed_to_depth(msg)).all()  # zeros: all invalid
    assert 2000 * 1000 <= MAX_PIXELS
    with pytest.raises(ImageTooLargeError):
        compressed_to_depth(msg, max_pixels=1_999_999)
    compressed_to_depth(msg, max_pixels=2_000_000)


def test_jpeg_and_rvl_declared_sizes_share_the_bound(frame: RgbdFrame) -> None:
    """A JPEG whose SOF declares 60000x50000 and an RVL prefix of 9000x9000 are refused."""
    colour = rgb_to_compressed(frame.rgb, 'jpeg')
    lying = CompressedImage(format=colour.format,
                            data=jpeg_declaring(bytes(colour.data), 60000, 50000))
    with pytest.raises(ImageTooLargeError, match='60000x50000'):
        compressed_to_rgb(lying)
    height, width = frame.depth.shape
    rvl = depth_to_compressed_depth(_depth_mm(frame), '16UC1', 'rvl')
    with pytest.raises(ImageTooLargeError, match='compressedDepth rvl'):
        compressed_to_depth(rvl, max_pixels=width * height - 1)
    assert compressed_to_depth(rvl, max_pixels=width * height).shape == (height, width)


def test_compressed_depth_header_is_checked(frame: RgbdFrame) -> None:
    """An unknown format enum is refused; 16UC1 ignores a and b (the publisher leaves them)."""
    png = depth_to_compressed_depth(_depth_mm(frame), '16UC1', 'png')
    image = bytes(png.data)[12:]
    for enum in (1, -1, 7):
        msg = CompressedImage(format=png.format,
                              data=struct.pack('<iff', enum, float('nan'), float('nan')) + image)
        with pytest.raises(CompressedHeaderError, match='format enum'):
            compressed_to_depth(msg)
    unset = CompressedImage(format=png.format,
                            data=struct.pack('<iff', 0, float('nan'), float('inf')) + image)
    np.testing.assert_array_equal(compressed_to_depth(unset), compressed_to_depth(png))
