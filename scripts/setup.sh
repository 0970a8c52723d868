#!/usr/bin/env bash
# Set up packager on a fresh Debian machine: the system packages its fonts and checks
# need, then a virtual environment with the project installed from pyproject.toml.
#   bash scripts/setup.sh [VENV_DIR]     (default .venv)
set -euo pipefail
venv=${1:-.venv}
system_packages=(
  fonts-ipaexfont-gothic fonts-ipaexfont-mincho  # Japanese TrueType fonts embedded in generated forms
  poppler-utils                                  # pdftotext/pdffonts/pdftoppm: tests read PDFs as a reader does
  qpdf ghostscript                               # qpdf --check in tests; Ghostscript is the benchmark's peer
  tesseract-ocr tesseract-ocr-jpn                # runtime: document kind from a page's title; also the legibility measure
  chromium                                       # the desk's end-to-end test drives it with Playwright
  libturbojpeg0                                  # runtime, optional: colour JPEG scans decoded as planes (jpeg_planes.py)
  libtiff6                                       # runtime, optional: MRC masks' G4 from packed rows (ccitt.py)
)
missing=()
for p in "${system_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: please install: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -e ".[dev]"
