# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Message I/O: ROS messages to and from arrays (images, clouds, compressed, transforms).

No node code here: these functions take and return message objects and numpy arrays.
"""
