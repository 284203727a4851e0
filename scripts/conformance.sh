#!/usr/bin/env bash
# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
#
# ROS ecosystem conformance, run by scripts/test.sh after the plain pytest run (inside
# scripts/localhost.sh, so DDS stays on this machine):
#   1. colcon build of the package in a temporary workspace (<tmp>/ws/src/dada_ros is a
#      symlink to this checkout; build/, install/ and log/ live in <tmp>, never here),
#   2. checks of the install space: lib/dada_ros/dada_node (what `ros2 run` starts), the
#      ament index marker, share/dada_ros/{package.xml,launch,config,rviz},
#   3. the installed dada_node (from install/, not the source tree) serves a client,
#   4. colcon test --return-code-on-test-failure: the whole pytest suite the way a ROS
#      workspace runs it (colcon test-result --verbose on failure),
#   5. the node tests under ROS 2 Jazzy (.venv-jazzy from scripts/setup_jazzy.sh).
# Knobs: DADA_COLCON_PYTEST_ARGS="-k lint" passes pytest arguments to colcon test (a subset;
# default: the whole suite); DADA_SKIP_COLCON_TEST=1 / DADA_SKIP_JAZZY=1 leave out 4 / 5.
# Usage: bash scripts/localhost.sh bash scripts/conformance.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
VPY="$ROOT/.venv/bin/python"
JPY="$ROOT/.venv-jazzy/bin/python"
: "${ROS_AUTOMATIC_DISCOVERY_RANGE:?run me through scripts/localhost.sh}"
export ROS_LOCALHOST_ONLY=1
export ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-$((1 + $$ % 100))}
export PYTHONUNBUFFERED=1
# Children of either venv must not inherit the Kilted wheels' bootstrap state.
unset _ROS_WHEELS_BOOTSTRAP_COMPLETE LD_LIBRARY_PATH PYTHONPATH || true

W=$(mktemp -d "${TMPDIR:-/tmp}/dada_colcon.XXXXXX")
cleanup() { rm -rf "$W"; }
trap cleanup EXIT
mkdir -p "$W/ws/src"
ln -s "$ROOT" "$W/ws/src/dada_ros"
export COLCON_HOME="$W/colcon_home"
COLCON=("$VPY" -m colcon --log-base "$W/log")
PATHS=(--base-paths "$W/ws/src" --build-base "$W/build" --install-base "$W/install")
fail() { echo "[conformance] FAILED: $*" >&2; exit 1; }
failures=()   # steps 4 and 5 both run; their failures are reported together at the end

echo "[conformance] 1. colcon build in $W/ws"
(cd "$W/ws" && "${COLCON[@]}" build "${PATHS[@]}" --event-handlers console_cohesion+) \
  || fail "colcon build"

echo "[conformance] 2. install space"
I="$W/install"
[ -x "$I/dada_ros/lib/dada_ros/dada_node" ] || fail "install/dada_ros/lib/dada_ros/dada_node"
for f in share/ament_index/resource_index/packages/dada_ros share/dada_ros/package.xml \
         share/dada_ros/launch/dada.launch.py share/dada_ros/config/dada.yaml \
         share/dada_ros/config/fastdds_shm.xml share/dada_ros/rviz/dada.rviz; do
  [ -f "$I/dada_ros/$f" ] || fail "install/dada_ros/$f is missing"
done
for tool in dada_demo dada_process_bag dada_make_sample_bag dada_play_bag dada_train dada_eval; do
  [ -x "$I/dada_ros/lib/dada_ros/$tool" ] || fail "install/dada_ros/lib/dada_ros/$tool"
done
if git -C "$ROOT" status --porcelain --ignored 2>/dev/null | grep -E '(^|/)(build|install|log)/$'; then
  fail "colcon left build/, install/ or log/ in the checkout"
fi
echo "[conformance]    lib/dada_ros/dada_node, ament index, package.xml, launch, config, rviz: ok"

echo "[conformance] 3. the installed dada_node serves a client"
(
  # shellcheck disable=SC1091
  set +u && source "$I/setup.bash" && set -u
  cd "$W"
  where=$("$VPY" -c 'import dada_ros; print(dada_ros.__file__)')
  case "$where" in "$I"/*) ;; *) fail "dada_ros imported from $where, not the install space";; esac
  ns=/colcon_smoke_$$
  "$I/dada_ros/lib/dada_ros/dada_node" --ros-args -r "__ns:=$ns" -p iterations:=8 \
    -p qos.reliable_input:=true -p points.enable:=false > "$W/installed_node.log" 2>&1 &
  node=$!
  rc=0
  "$VPY" "$ROOT/test/interop_client.py" --namespace "$ns" --timeout 120 || rc=$?
  kill -INT "$node" 2>/dev/null || true
  wait "$node" || true
  if [ "$rc" -ne 0 ]; then tail -n 40 "$W/installed_node.log" >&2; fail "installed dada_node"; fi
) || exit 1

if [ -z "${DADA_SKIP_COLCON_TEST:-}" ]; then
  echo "[conformance] 4. colcon test (pytest args: ${DADA_COLCON_PYTEST_ARGS:-<the whole suite>})"
  PYTEST_ARGS=(-rs)
  if [ -n "${DADA_COLCON_PYTEST_ARGS:-}" ]; then
    read -r -a extra <<< "$DADA_COLCON_PYTEST_ARGS"
    PYTEST_ARGS+=("${extra[@]}")
  fi
  set +e
  (cd "$W/ws" && "${COLCON[@]}" test "${PATHS[@]}" --return-code-on-test-failure \
     --event-handlers console_direct+ --pytest-args "${PYTEST_ARGS[@]}")
  rc=$?
  set -e
  if [ "$rc" -ne 0 ]; then
    (cd "$W/ws" && "${COLCON[@]}" test-result --test-result-base "$W/build" --verbose) || true
    failures+=("colcon test (exit code $rc)")
  elif ! (cd "$W/ws" && "${COLCON[@]}" test-result --test-result-base "$W/build"); then
    failures+=("colcon test-result")
  fi
fi

if [ -z "${DADA_SKIP_JAZZY:-}" ]; then
  echo "[conformance] 5. node tests under ROS 2 Jazzy ($JPY)"
  [ -x "$JPY" ] || fail "$JPY is missing: run bash scripts/setup_jazzy.sh"
  JAZZY_TESTS=()
  for t in test_node.py test_lifecycle.py test_conversions.py; do
    [ -f "test/$t" ] && JAZZY_TESTS+=("test/$t")
  done
  "$JPY" -c 'import importlib.metadata as m, sys; v = m.version("ros-rclpy"); print("[conformance]    rclpy", v); sys.exit(not v.startswith("7."))' \
    || fail ".venv-jazzy does not have the Jazzy rclpy"
  "$JPY" -m pytest -q -p no:cacheprovider "${JAZZY_TESTS[@]}" \
    || failures+=("node tests under Jazzy")
fi
if [ "${#failures[@]}" -gt 0 ]; then
  fail "$(IFS=';'; echo "${failures[*]}")"
fi
echo "[conformance] all conformance checks passed"
