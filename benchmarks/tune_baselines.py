# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Tune the classical baselines per factor on the Middlebury TRAINING scenes (view 1).

Run from the repository root: ``python benchmarks/tune_baselines.py``. It prints the best
guided-filter and fast-global-smoother parameters per factor; copy them into
``dada_ros/training/baselines.py`` (GUIDED_FILTER_PARAMS, FGS_PARAMS). The held-out
validation scenes are never used here.
"""

from __future__ import annotations

from pathlib import Path
import sys

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dada_ros.training.baselines import (fast_global_smoother, FGS_GRID, GF_GRID,  # noqa: E402
                                         guided_filter, tune)
from dada_ros.training.datasets import (FACTORS, load_scenes, make_sample,  # noqa: E402
                                        training_scene_names)


def main() -> int:
    """Print the tuned parameters."""
    import cv2
    cv2.setNumThreads(1)
    scenes = load_scenes(names=training_scene_names()[::2])  # every other: a quick search
    for factor in FACTORS:
        samples = [make_sample(scene, factor) for scene in scenes]
        gf, gf_rmse = tune(samples, guided_filter, GF_GRID)
        fgs, fgs_rmse = tune(samples, fast_global_smoother, FGS_GRID)
        print(f'x{factor}: guided filter {gf} (RMSE {gf_rmse:.3f}); FGS {fgs} '
              f'(RMSE {fgs_rmse:.3f})', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
