#!/usr/bin/env bash
# Builds the daemon with GCC and Clang at Debug, RelWithDebInfo and Release, warnings as errors:
# the code must build warning-free the way users build it. CI runs it after scripts/test.sh.
#   scripts/build-matrix.sh [--dir DIR] [--compilers "gcc clang"] [--types "Debug Release"]
set -euo pipefail
cd "$(dirname "$0")/.."

dir=build-matrix
compilers="gcc clang"
types="Debug RelWithDebInfo Release"
while (($#)); do
  case $1 in
    --dir) dir=$2; shift 2 ;;
    --compilers) compilers=$2; shift 2 ;;
    --types) types=$2; shift 2 ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) echo "build-matrix.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

mkdir -p "$dir"
failed=()
for compiler in $compilers; do
  case $compiler in
    gcc) cc=gcc cxx=g++ ;;
    clang) cc=clang cxx=clang++ ;;
    *) echo "build-matrix.sh: unknown compiler '$compiler' (gcc, clang)" >&2; exit 2 ;;
  esac
  for type in $types; do
    build="$dir/$compiler-$type"
    start=$SECONDS
    if CC=$cc CXX=$cxx cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="$type" \
         -DVIPD_BUILD_TESTS=OFF -DVIPD_WERROR=ON >"$build.log" 2>&1 &&
       ninja -C "$build" >>"$build.log" 2>&1; then
      echo "build-matrix: $compiler $type: ok ($((SECONDS - start)) s)"
    else
      echo "build-matrix: $compiler $type: FAILED ($build.log):"
      grep -E "error|warning" "$build.log" | head -20
      failed+=("$compiler $type")
    fi
  done
done
if ((${#failed[@]})); then
  echo "build-matrix: ${#failed[@]} configuration(s) failed: ${failed[*]}" >&2
  exit 1
fi
echo "build-matrix: every configuration builds warning-free"
