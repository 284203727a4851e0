# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Training and research: datasets, baselines, training, evaluation, checkpoint writers.

Nothing here runs per frame in the node; the run-time core (``dada_ros.core``) never
imports this package.
"""
