"""The Debian packages the benchmark images come from: where each installs its files, and
installing the missing ones (as root) or saying how."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
MATE_DIR = Path("/usr/share/backgrounds/mate")
PLASMA_DIR = Path("/usr/share/wallpapers")
CLIPART_DIR = Path("/usr/share/openclipart/png")
STAMPS_DIR = Path("/usr/share/tuxpaint/stamps")
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

# Debian package -> a path it installs (present = installed).
PACKAGES = {
    "opencv-doc": OPENCV_DATA,
    "mate-backgrounds": MATE_DIR / "nature",
    "plasma-workspace-wallpapers": PLASMA_DIR / "Autumn",
    "openclipart-png": CLIPART_DIR,
    "tuxpaint-stamps-default": STAMPS_DIR,
    "dataset-fashion-mnist": FASHION_DIR / "t10k-images-idx3-ubyte.gz",
}


class MissingData(RuntimeError):
    """The Debian packages the benchmark images come from are not installed."""


def missing_packages() -> list[str]:
    return [package for package, path in PACKAGES.items() if not path.exists()]


def ensure_packages() -> None:
    """Install the Debian packages the images come from when running as root; otherwise
    stop with the command to run."""
    missing = missing_packages()
    if not missing:
        return
    install = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if os.geteuid() != 0:
        raise MissingData(
            f"the benchmark images come from Debian packages that are not installed: {', '.join(missing)}.\n"
            f"Install them with:  sudo apt-get update && sudo {' '.join(install)}"
        )
    print(f"installing {' '.join(missing)} ...", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env)
    subprocess.run(install, check=True, env=env)
    still = missing_packages()
    if still:
        raise MissingData(
            f"installed {', '.join(missing)} but {', '.join(PACKAGES[p].as_posix() for p in still)} is still "
            "missing; is /usr/share/doc excluded by a dpkg path-exclude rule (/etc/dpkg/dpkg.cfg.d/)?"
        )
