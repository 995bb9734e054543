#!/usr/bin/env bash
# Build (once per CPU) and install llama-cpp-python for this machine's CPU, without ggml's AMX kernels.
#
# Why not a plain `pip install`: llama.cpp compiles with -march=native, and pip's wheel cache is keyed by
# the package version only, so a wheel built on one CPU would be reused on another (illegal instructions on
# an AVX2-only box). And ggml 0.3.36's AMX matmul segfaults on the first prompt on Xeons with AMX
# (ggml_backend_amx_mul_mat; seen on this project's AVX-512 machines), so AMX is compiled out; the AVX-512 /
# AVX2 kernels still run. Wheels are kept under ~/.cache/shuwen/wheels/<version>-<hash of CPU flags,
# compiler and build flags>/.
# usage: scripts/llama-wheel.sh PIP   (PIP = the venv's pip)
set -euo pipefail
PIP="$1"
VERSION="0.3.36"
NO_AMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
export CMAKE_ARGS="${SHUWEN_LLAMA_CMAKE_ARGS:--DCMAKE_C_FLAGS='$NO_AMX' -DCMAKE_CXX_FLAGS='$NO_AMX'}"
flags=$(grep -m1 -E '^(flags|Features)' /proc/cpuinfo 2>/dev/null || uname -m)
key=$(printf '%s\n%s\n%s\n' "$flags" "$(cc --version 2>/dev/null | head -1)" "$CMAKE_ARGS" | sha256sum | cut -c1-12)
dir="${XDG_CACHE_HOME:-$HOME/.cache}/shuwen/wheels/llama-cpp-python-$VERSION-$key"
if ! ls "$dir"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  echo ">> compiling llama-cpp-python $VERSION for this CPU (once; 10-14 min on 2 cores) into $dir"
  tmp="$dir.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  "$PIP" wheel -q --no-deps --no-cache-dir --no-binary llama-cpp-python -w "$tmp" "llama-cpp-python==$VERSION"
  rm -rf "$dir" && mv "$tmp" "$dir"
fi
"$PIP" install -q --force-reinstall --no-deps "$dir"/llama_cpp_python-*.whl
