#!/usr/bin/env bash
# Installs CUDA 11.8 from Debian bookworm's non-free component:
#   nvidia-cuda-dev      cuda.h and the driver stub library (enough to compile
#                        and link the `cuda` build; no GPU or driver needed)
#   nvidia-cuda-toolkit  nvcc 11.8, to regenerate kernels/*.ptx (with --toolkit;
#                        about 1.6 GB)
# Usage: scripts/install-cuda.sh [--toolkit]   (as root; idempotent)
set -euo pipefail
pkgs=(nvidia-cuda-dev)
if [ "${1:-}" = "--toolkit" ]; then
  pkgs+=(nvidia-cuda-toolkit)
fi
need=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
src=/etc/apt/sources.list.d/delgrad-cuda.sources
if [ ! -f "$src" ]; then
  cat > "$src" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: contrib non-free
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" > /dev/null
