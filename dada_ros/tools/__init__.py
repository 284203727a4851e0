# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Offline tools: bag processing and replay, the sample scene and bag, demo, previews."""
