# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""ROS-free core of dada_ros: solver, models, pairing policy, geometry, array conversions."""

from .params import PARAMETERS, ParamSpec
from .upsampler import DepthUpsampler

__all__ = ['DepthUpsampler', 'PARAMETERS', 'ParamSpec']
