#!/usr/bin/env bash
# Builds the Debian package chorus_VERSION_ARCH.deb with CPack (docs/service.md) and prints its path.
#
#   scripts/package.sh                     a Release build in build-package (configured on first use)
#   scripts/package.sh --build-dir build   reuses an existing build tree, e.g. the tests' one
#   --output-dir DIR                       where the .deb goes (default: the build tree)
#
# Only what the package holds is built (the node and its man page), not the tests.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=""
output_dir=""
while (($#)); do
  case "$1" in
    --build-dir) build_dir=$(realpath -m "$2"); shift 2 ;;
    --output-dir) output_dir=$(realpath -m "$2"); shift 2 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "package.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

"$root/scripts/setup.sh"
if [[ -z "$build_dir" ]]; then
  build_dir=$root/build-package
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCHORUS_WERROR=ON \
        -DCHORUS_BUILD_TESTS=OFF >/dev/null
elif [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  echo "package.sh: $build_dir is not a configured build tree" >&2
  exit 1
fi
output_dir=${output_dir:-$build_dir}
mkdir -p "$output_dir"

cmake --build "$build_dir" --target package_contents -j"${JOBS:-$(nproc)}" >&2
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build_dir/CMakeCache.txt")
arch=$(dpkg --print-architecture)
deb=$output_dir/chorus_${version}_${arch}.deb
rm -f "$deb"
(cd "$build_dir" && cpack -G DEB -B "$output_dir" >&2)
rm -rf "$output_dir/_CPack_Packages"
[[ -f "$deb" ]] || { echo "package.sh: cpack made no $deb" >&2; exit 1; }
echo "$deb"
