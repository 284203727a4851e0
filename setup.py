# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Packaging of dada_ros (ament_python): ``colcon build`` or ``pip install -e '.[test]'``."""

from glob import glob
import os
from typing import List, Tuple

from setuptools import find_packages, setup

PACKAGE = 'dada_ros'
HERE = os.path.dirname(os.path.abspath(__file__))

#: The ROS 2 Kilted wheels from PyPI that stand in for a ROS installation (``ros-pypi``
#: extra). They are not in ``install_requires``: on a ROS machine they come from the distro.
ROS_PYPI = [
    'ros-rclpy==9.1.2',
    'ros-sensor-msgs==5.5.1',
    'ros-std-msgs==5.5.1',
    'ros-diagnostic-msgs==5.5.1',
    'ros-geometry-msgs==5.5.1',
    'ros-rosgraph-msgs==2.3.0',
    'ros-builtin-interfaces==2.3.0',
    'ros-rmw-fastrtps-cpp==9.3.3',
]

#: The ament linters (flake8 with the plugins a ROS installation gives ament_flake8, pep257)
#: and the type checker used by test/test_lint.py.
LINT = [
    'ros-ament-flake8>=0.17,<1',
    'ros-ament-pep257>=0.17,<1',
    'flake8-builtins>=2,<4',
    'flake8-comprehensions>=3.10,<4',
    'flake8-docstrings>=1.7,<2',
    'flake8-import-order>=0.18,<1',
    'flake8-quotes>=3.3,<4',
    'mypy>=1.8,<3',
]


def share(pattern: str) -> List[str]:
    """Files matching ``pattern`` (relative to this folder), sorted."""
    return sorted(os.path.relpath(p, HERE) for p in glob(os.path.join(HERE, pattern)))


def data_files() -> List[Tuple[str, List[str]]]:
    """Files installed under ``share/dada_ros`` (plus the ament index marker)."""
    prefix = os.path.join('share', PACKAGE)
    return [
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        (prefix, ['package.xml']),
        (os.path.join(prefix, 'launch'), share('launch/*.launch.py')),
        (os.path.join(prefix, 'config'), share('config/*.yaml') + share('config/*.xml')),
        (os.path.join(prefix, 'rviz'), share('rviz/*.rviz')),
    ]


setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    package_data={PACKAGE: ['weights/*.pt']},
    data_files=data_files(),
    python_requires='>=3.10',
    install_requires=[
        'setuptools',
        'numpy>=1.24,<3',
        'torch>=2.1,<3',
        'opencv-contrib-python-headless>=4.8,<6',
        'scipy>=1.10,<2',
        'pyyaml>=6,<7',
        'pillow>=9,<14',
        'matplotlib>=3.6,<4',
    ],
    extras_require={
        # pytest-timeout: a per-test bound (setup.cfg) so that a hang fails fast with the
        # stacks of all threads instead of at CI's limit.
        'test': ['pytest>=7,<10', 'pytest-timeout>=2.2,<3', 'hypothesis>=6.80,<7',
                 'flake8>=6,<8'] + LINT,
        'colcon': ['colcon-common-extensions>=0.3,<1'],
        'bag': ['rosbags>=0.10,<1'],
        # The compiled CPU step of the pyramid solver (dada_ros.core.kernels); optional.
        'fast': ['numba>=0.59,<1'],
        # The DADA authors' checkpoints. Without a CUDA torch, install it as
        # scripts/setup.sh does (--no-deps for torchvision, timm and this package).
        'authors': ['segmentation-models-pytorch>=0.3,<1'],
        'ros-pypi': ROS_PYPI,
    },
    zip_safe=False,
    maintainer='The dada_ros authors',
    maintainer_email='maintainers@dada-ros.invalid',
    description='Guided depth super-resolution by Deep Anisotropic Diffusion for ROS 2.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'dada_node = dada_ros.ros.node:main',
            'dada_lifecycle_node = dada_ros.ros.lifecycle_node:main',
            'dada_demo = dada_ros.tools.demo:main',
            'dada_process_bag = dada_ros.tools.process_bag:main',
            'dada_make_sample_bag = dada_ros.tools.make_sample_bag:main',
            'dada_play_bag = dada_ros.tools.play_bag:main',
            'dada_train = dada_ros.training.train:main',
            'dada_eval = dada_ros.training.evaluate:main',
        ],
    },
)
