#!/usr/bin/env bash
# The C, C++ and BPF sources follow .clang-format: clang-format --dry-run -Werror on every source
# under agent/, bpf/, include/ and tests/ (or on the files given), one line per violation.
# Exit 0: all formatted; 1: some are not (fix with clang-format -i on the files it names).
set -euo pipefail
if [[ ${1:-} == -h || ${1:-} == --help ]]; then  # the comment above, without doing anything
  sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"
  exit 0
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
if [[ $# -gt 0 ]]; then
  files=("$@")
else
  mapfile -t files < <(cd "$root" && find agent bpf include tests -type f \
    \( -name '*.c' -o -name '*.h' -o -name '*.cpp' \) | sort | sed "s|^|$root/|")
fi
if [[ ${#files[@]} -eq 0 ]]; then
  echo "check-format: no sources found under $root" >&2
  exit 1
fi
# --style=file finds the repository's .clang-format from each file's directory upwards; a planted
# file outside the tree names it explicitly.
clang-format --dry-run -Werror --style="file:$root/.clang-format" "${files[@]}"
echo "check-format: ${#files[@]} files formatted"
