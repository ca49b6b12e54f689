#!/usr/bin/env bash
# Build Perfetto's trace_processor_shell from the vendored source tarball with Debian's toolchain only.
#
#   npm run trace-processor            # or: scripts/trace-processor.sh
#
# Source:  ../shared/vendor/perfetto-v32.0-src.tar.xz (override: KVMTAX_PERFETTO_SRC=/path/to/tarball)
# Output:  $KVMTAX_TRACE_PROCESSOR (a directory, default ~/.cache/kvmtax/trace-processor)
#          holding perfetto-v32.0/ (unpacked source + out/tp build dir) and
#          bin/trace_processor_shell (the binary kvmtax looks for).
#
# Nothing is downloaded other than Debian packages (apt-get), installed only when missing.
# Perfetto's own build would fetch pinned clang/gn/ninja/protobuf/sqlite from buildtools/; the GN args
# below turn all of that off and use bookworm's clang 14, gn, ninja and the system protobuf/sqlite/zlib.
# Importers that need absent third-party libraries (jsoncpp JSON traces, linenoise, percentile,
# LLVM demangling) are switched off.
#
# The build runs under `nice -n 10` with -j${KVMTAX_TP_JOBS:-2}. On this 2-core machine, shared with
# other jobs (load ~15), it took 27 minutes wall, 8 min CPU (see README "Perfetto's trace_processor").
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
version=v32.0
src_tar="${KVMTAX_PERFETTO_SRC:-$repo/../shared/vendor/perfetto-$version-src.tar.xz}"
# The worktrees live under /work/wt/<name>; the shared folder is /work/shared. Try both layouts.
if [[ ! -f "$src_tar" && -f "/work/shared/vendor/perfetto-$version-src.tar.xz" ]]; then
  src_tar="/work/shared/vendor/perfetto-$version-src.tar.xz"
fi
cache="${KVMTAX_TRACE_PROCESSOR:-$HOME/.cache/kvmtax/trace-processor}"
srcdir="$cache/perfetto-$version"
outdir="$srcdir/out/tp"
jobs="${KVMTAX_TP_JOBS:-2}"

say() { printf 'trace-processor: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[[ -f "$src_tar" ]] || die "source tarball not found: $src_tar (set KVMTAX_PERFETTO_SRC)"

# --- 1. Debian packages ----------------------------------------------------------------------------
pkgs=(generate-ninja ninja-build clang libprotobuf-dev libprotoc-dev protobuf-compiler libsqlite3-dev zlib1g-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  sudo_=""; [[ $(id -u) -eq 0 ]] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- 2. unpack ------------------------------------------------------------------------------------
mkdir -p "$cache/bin"
if [[ ! -f "$srcdir/.kvmtax-unpacked" ]]; then
  say "unpacking $src_tar into $cache"
  rm -rf "$srcdir"
  tar -xJf "$src_tar" -C "$cache"
  touch "$srcdir/.kvmtax-unpacked"
fi

# --- 3. patches ---------------------------------------------------------------------------------
# None needed: v32.0 builds as it is with bookworm's clang 14 / gn / ninja / protobuf 3.21 / sqlite 3.40.
# A later toolchain that needs one gets it here, as a guarded sed (a no-op when re-run), saying why.

# --- 4. gn + ninja --------------------------------------------------------------------------------
args=(
  is_debug=false
  is_clang=true
  is_hermetic_clang=false          # bookworm's /usr/bin/clang (14), not the pinned download
  use_custom_libcxx=false          # system libstdc++
  skip_buildtools_check=true       # buildtools/ is empty: nothing was fetched
  perfetto_use_system_protobuf=true
  perfetto_use_system_sqlite=true
  perfetto_use_system_zlib=true
  enable_perfetto_trace_processor_json=false        # needs jsoncpp from buildtools
  enable_perfetto_trace_processor_linenoise=false   # needs linenoise from buildtools
  enable_perfetto_trace_processor_percentile=false  # needs sqlite's percentile ext source
  enable_perfetto_ui=false
  enable_perfetto_llvm_demangle=false               # needs llvm-project from buildtools
  enable_perfetto_trace_processor_httpd=true        # --httpd RPC (own http server, no extra deps)
)
cd "$srcdir"
# gn gen only when the args changed (a re-run is then a ninja no-op; ninja re-runs gn itself when a
# BUILD.gn changed)
want_args="$(printf '%s\n' "${args[@]}" | sed 's/ *#.*//')"
if [[ ! -f out/tp/build.ninja || "$(cat out/tp/.kvmtax-args 2>/dev/null)" != "$want_args" ]]; then
  say "gn gen out/tp"
  gn gen out/tp --args="${args[*]}" >/dev/null
  printf '%s' "$want_args" > out/tp/.kvmtax-args
fi
# The descriptor depfiles come out as "OUT:OUT: deps" (Debian's protoc 3.21 with Perfetto's wrapper),
# which ninja never matches, so the descriptor steps (and ~66 steps after them) are always dirty. A
# finished build with unchanged args is therefore not re-run; KVMTAX_TP_REBUILD=1 forces ninja.
if [[ -x "$cache/bin/trace_processor_shell" && -z "${KVMTAX_TP_REBUILD:-}" && out/tp/.kvmtax-args -ot "$cache/bin/trace_processor_shell" ]]; then
  say "already built: $cache/bin/trace_processor_shell (KVMTAX_TP_REBUILD=1 rebuilds)"
  exit 0
fi
start=$(date +%s)
say "ninja -j$jobs trace_processor_shell (nice -n 10)"
nice -n 10 ninja -C out/tp -j"$jobs" trace_processor_shell
end=$(date +%s)
install -m 0755 "$outdir/trace_processor_shell" "$cache/bin/trace_processor_shell"
say "built $cache/bin/trace_processor_shell in $((end - start)) s"
"$cache/bin/trace_processor_shell" --version >&2 || true
