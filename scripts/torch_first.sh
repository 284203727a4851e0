# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
#
# Sourced by scripts/setup.sh and scripts/setup_jazzy.sh (not run on its own).
# install_torch_first PYTHON SPEC CONSTRAINTS TAG
#   installs SPEC (the CPU build of torch) into the environment of PYTHON before anything
#   else, so no later requirement can pull a CUDA build, then writes CONSTRAINTS pinning the
#   installed version; every later pip call passes -c CONSTRAINTS. TAG prefixes messages.
install_torch_first() {
  local python=$1 spec=$2 constraints=$3 tag=$4
  echo "[$tag] installing $spec first (CPU build; never a CUDA build by accident)"
  if ! "$python" -m pip --disable-pip-version-check install -q "$spec"; then
    echo "[$tag] ERROR: could not install $spec." >&2
    echo "[$tag] Put the CPU wheel in a pip find-links folder (PIP_FIND_LINKS), or choose" >&2
    echo "[$tag] another build explicitly, e.g. DADA_TORCH_SPEC=torch==2.13.0" >&2
    return 1
  fi
  "$python" - "$constraints" <<'PY'
import sys
from importlib.metadata import version
with open(sys.argv[1], 'w') as f:
    f.write(f"torch=={version('torch')}\n")
PY
}
