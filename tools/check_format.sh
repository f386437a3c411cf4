#!/usr/bin/env bash
# Checks that every tracked C++ file (*.cc, *.h) outside third_party/ is formatted as
# .clang-format says (clang-format 14, Debian's `clang-format`; tools/setup.sh installs it).
# Prints the files that are not and exits 1.
#   bash tools/check_format.sh          check (tools/test.sh runs this)
#   bash tools/check_format.sh --fix    rewrite those files in place (clang-format -i)
#   bash tools/check_format.sh --stat   how many files and lines --fix would change
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-check}
command -v clang-format >/dev/null || { echo "check_format: clang-format missing: run bash tools/setup.sh" >&2; exit 1; }
# Tracked files only (nothing generated is tracked: *.pb.h etc. live in bazel-bin).
mapfile -t files < <(git ls-files -- '*.cc' '*.h' ':!:third_party/**')
case $mode in
  --fix)
    printf '%s\0' "${files[@]}" | xargs -0 -r -n 32 -P 2 clang-format -i --style=file
    echo "check_format: formatted ${#files[@]} files" ;;
  --stat)
    nfiles=0; nlines=0
    for f in "${files[@]}"; do
      n=$(clang-format --style=file "$f" | diff -U0 "$f" - | grep -c '^[-+][^-+]' || true)
      if ((n)); then nfiles=$((nfiles + 1)); nlines=$((nlines + n)); fi
    done
    echo "check_format: --fix would change ${nfiles} of ${#files[@]} files, ${nlines} lines (+/-)" ;;
  check)
    # A bad .clang-format must fail loudly, not read as "every file unformatted".
    clang-format --style=file --dump-config >/dev/null
    bad=$(printf '%s\0' "${files[@]}" | xargs -0 -r -n 1 -P 2 sh -c \
      'clang-format --dry-run -Werror --style=file "$1" >/dev/null 2>&1 || echo "$1"' _ | sort)
    if [[ -n "$bad" ]]; then
      echo "check_format: $(wc -l <<<"$bad") of ${#files[@]} files are not clang-formatted" \
        "(bash tools/check_format.sh --fix):"
      sed 's/^/  /' <<<"$bad"
      exit 1
    fi
    echo "check_format: ${#files[@]} files formatted" ;;
  *) echo "usage: bash tools/check_format.sh [--fix|--stat]" >&2; exit 2 ;;
esac
