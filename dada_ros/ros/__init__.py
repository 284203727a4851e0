# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""ROS 2 side: the live and lifecycle nodes, their worker, parameters and diagnostics.

This package imports nothing heavy on import; ``dada_ros.ros.presets`` and
``dada_ros.ros.cameras`` are read by the launch files and import no torch.
"""
