# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""``dada_node``'s parameters on an rclpy node, driven by the one parameter table.

Every entry of :data:`dada_ros.core.params.PARAMETERS` is declared with its description,
type and range (:func:`descriptor`); :func:`validate_parameters` refuses values the table
does not allow, at start-up and at run time, with the reason.
"""

from __future__ import annotations

from typing import Any, Dict, List

from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                ParameterType, SetParametersResult)
from rclpy.node import Node
from rclpy.parameter import Parameter

from ..core.params import BY_NAME, PARAMETERS, ParamSpec

__all__ = ['declare_parameters', 'descriptor', 'validate_parameters']


def descriptor(spec: ParamSpec) -> ParameterDescriptor:
    """Build the ROS parameter descriptor of one table entry."""
    types = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
             float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING}
    descriptor = ParameterDescriptor(name=spec.name, type=types[spec.type],
                                     description=spec.description, read_only=spec.read_only)
    if spec.numbers:  # a string or a list of numbers: the table's check decides
        descriptor.type = ParameterType.PARAMETER_NOT_SET
        descriptor.dynamic_typing = True
        descriptor.additional_constraints = (
            f"a list of {spec.numbers} numbers or a string '[{spec.numbers} numbers]'")
    if spec.choices is not None:
        descriptor.additional_constraints = 'one of: ' + ', '.join(str(c) for c in spec.choices)
    elif spec.name == 'device':
        descriptor.additional_constraints = 'one of: auto, cpu, cuda, cuda:N'
    low, high = spec.min_value, spec.max_value
    if low is not None and high is not None and spec.type is int:
        descriptor.integer_range = [IntegerRange(from_value=int(low), to_value=int(high),
                                                 step=0)]
    elif low is not None and high is not None and spec.type is float:
        descriptor.floating_point_range = [FloatingPointRange(
            from_value=float(low), to_value=float(high), step=0.0)]
    return descriptor


def validate_parameters(parameters: List[Parameter[Any]]) -> SetParametersResult:
    """Refuse a change whose value the parameter table does not allow (with the reason)."""
    for parameter in parameters:
        spec = BY_NAME.get(parameter.name)
        if spec is None:
            continue  # e.g. use_sim_time
        reason = spec.validate(parameter.value)
        if reason is not None:
            return SetParametersResult(successful=False, reason=reason)
    return SetParametersResult(successful=True)


def declare_parameters(node: Node) -> Dict[str, Any]:
    """Declare every table parameter on ``node`` (validated); return their values by name.

    Raises:
        ValueError / ParameterException: an override (command line, file) is invalid.
    """
    node.add_on_set_parameters_callback(validate_parameters)
    for spec in PARAMETERS:
        node.declare_parameter(spec.name, spec.default, descriptor(spec))
    return {spec.name: node.get_parameter(spec.name).value for spec in PARAMETERS}
