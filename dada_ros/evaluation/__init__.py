# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Research-only code: data sets, classical baselines, KITTI / NYU helpers.

Used by training (``dada_train``), evaluation (``dada_eval``), the benchmarks and the tests;
nothing here runs in the node (that is :mod:`dada_ros.core` and :mod:`dada_ros.pipeline`).
"""
