# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Guided depth super-resolution by Deep Anisotropic Diffusion for ROS 2."""

__version__ = '0.1.0'
