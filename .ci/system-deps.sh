#!/usr/bin/env bash
# System libraries the napari tests need (Xvfb + Qt xcb plugin deps). Installs only what is missing.
set -u
pkgs=(xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xinerama0
      libxcb-xkb1 libxkbcommon-x11-0 libxcb-randr0 libxcb-shape0 libxcb-cursor0 libegl1 libgl1
      libfontconfig1 libdbus-1-3 libglib2.0-0)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
      || echo "warning: could not install ${missing[*]}; napari tests may be skipped"
  else
    echo "warning: missing system packages ${missing[*]} (not root); napari tests may be skipped"
  fi
fi
exit 0
