#!/usr/bin/env bash
# Prints the Debian packages that own the shared libraries the given binaries link directly
# (ELF NEEDED entries), one per line; apt pulls in their own dependencies. Libraries under a
# folder listed in RUNTIME_PACKAGES_SKIP (colon-separated, e.g. /opt/libtorch) are not looked
# up: the image copies those itself. The image builds run it in their build stage so the runtime stage installs exactly
# those packages and stays correct when the C++ side gains a dependency.
set -euo pipefail
if [ $# -eq 0 ]; then
  echo "usage: runtime-packages.sh BINARY..." >&2
  exit 2
fi
resolved=$(ldd "$@")
if grep -q "not found" <<<"$resolved"; then
  echo "runtime-packages: unresolved libraries:" >&2
  grep "not found" <<<"$resolved" >&2
  exit 1
fi
needed=$(readelf -d "$@" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u)
libs=$(awk -v names="$(tr '\n' ' ' <<<"$needed")" '
  BEGIN { n = split(names, list, " "); for (i = 1; i <= n; i++) want[list[i]] = 1 }
  $2 == "=>" && ($1 in want) { print $3 }' <<<"$resolved" | sort -u)
IFS=: read -r -a skip_prefixes <<<"${RUNTIME_PACKAGES_SKIP:-}"
for lib in $libs; do
  real=$(readlink -f "$lib")
  for prefix in "${skip_prefixes[@]}"; do
    [ -n "$prefix" ] && [[ "$real" == "$prefix"/* ]] && continue 2
  done
  # dpkg knows a file under the path its package installed it at, with or without /usr
  # (merged /usr), so try both spellings of the resolved path.
  owner=""
  for candidate in "$real" "/usr$real" "${real#/usr}"; do
    owner=$(dpkg-query -S "$candidate" 2>/dev/null | head -1 | cut -d: -f1) && [ -n "$owner" ] && break
  done
  if [ -z "$owner" ]; then
    echo "runtime-packages: no Debian package owns $lib ($real)" >&2
    exit 1
  fi
  echo "$owner"
done | sort -u
