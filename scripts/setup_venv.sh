#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install srnlib with its test extras.
#
# PyTorch is installed first, pinned, so that pip does not pull a newer multi-GB CUDA build on a CPU-only machine:
#   SRN_TORCH_SPEC   the torch requirement to install (default: torch==2.13.0)
#   SRN_TORCH_INDEX  an extra package index for torch, e.g. PyTorch's CPU-only wheel index (default: none)
#   SRN_PYTHON       the interpreter that creates the venv (default: python3)
set -euo pipefail
cd "$(dirname "$0")/.."

python="${SRN_PYTHON:-python3}"
torch_spec="${SRN_TORCH_SPEC:-torch==2.13.0}"
stamp=".venv/.srn-installed"
fingerprint="$(cat pyproject.toml scripts/setup_venv.sh | sha256sum | cut -c1-16) ${torch_spec}"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$fingerprint" ]; then
  exit 0  # already set up for this pyproject.toml
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
if [ -n "${SRN_TORCH_INDEX:-}" ]; then
  .venv/bin/python -m pip install --quiet "$torch_spec" --extra-index-url "$SRN_TORCH_INDEX"
else
  .venv/bin/python -m pip install --quiet "$torch_spec"
fi
.venv/bin/python -m pip install --quiet -e ".[test]"
.venv/bin/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (srn-notebooks)" >/dev/null
echo "$fingerprint" > "$stamp"
.venv/bin/python -c "import torch, srnlib; print(f'srnlib {srnlib.__version__} ready: torch {torch.__version__}, CUDA: {torch.cuda.is_available()}')"
