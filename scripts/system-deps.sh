#!/usr/bin/env bash
# Install the Debian packages the project needs, only those missing. Fast when all are present.
set -euo pipefail
PACKAGES=(
  # headless OpenGL (moderngl through EGL, llvmpipe) and a virtual screen for the real window
  libegl1 libegl-mesa0 libgl1-mesa-dri libgles2 xvfb xauth
  # audio: soundfile's libsndfile, fluidsynth + the FluidR3 General MIDI soundfont, PortAudio (sounddevice)
  libsndfile1 fluidsynth fluid-soundfont-gm libportaudio2
  # browser tests of the curation web UI
  chromium chromium-driver
  # the catalogue suite against a real PostgreSQL server
  postgresql
  # a real image collection: the colour emoji of Noto Color Emoji (SIL OFL 1.1), `gallery dataset emoji`
  fonts-noto-color-emoji
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing Debian packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "not root and no sudo: install these by hand: ${missing[*]}" >&2; exit 1; fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
