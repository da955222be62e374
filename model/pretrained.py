"""Fetch torchvision's ImageNet ResNet weights (a plain state dict) for ``train.backbone_weights``.

    python -m model.pretrained resnet50 weights/

Downloads on a user's machine; the file is checked against torchvision's published hash prefix
and then loaded with ``weights_only=True`` (no code runs). Nothing in the app or the tests
downloads: the tests point ``url`` at a local file.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import urllib.request
from pathlib import Path

__all__ = ["TORCHVISION_WEIGHTS", "fetch_backbone_weights"]

# name -> (url, first hex digits of the file's sha256, as in torchvision's file names)
TORCHVISION_WEIGHTS = {
    "resnet18": ("https://download.pytorch.org/models/resnet18-f37072fd.pth", "f37072fd"),
    "resnet34": ("https://download.pytorch.org/models/resnet34-b627a593.pth", "b627a593"),
    "resnet50": ("https://download.pytorch.org/models/resnet50-11ad3fa6.pth", "11ad3fa6"),
    "resnet101": ("https://download.pytorch.org/models/resnet101-cd907fc2.pth", "cd907fc2"),
    "resnet152": ("https://download.pytorch.org/models/resnet152-f82ba261.pth", "f82ba261"),
}


def fetch_backbone_weights(name: str, folder: str | Path, url: str | None = None,
                           sha256_prefix: str | None = None) -> Path:
    """Download (once) the weights of backbone ``name`` into ``folder``; returns the file. A file
    already there is reused if its hash matches. ``url``/``sha256_prefix`` override the table."""
    if name not in TORCHVISION_WEIGHTS and url is None:
        raise ValueError(f"name must be one of {sorted(TORCHVISION_WEIGHTS)} (or give url), got {name!r}")
    default_url, default_prefix = TORCHVISION_WEIGHTS.get(name, (None, None))
    url = url or default_url
    prefix = sha256_prefix if sha256_prefix is not None else default_prefix
    dest = Path(folder) / Path(urllib.request.urlparse(url).path).name
    if dest.is_file() and _matches(dest, prefix):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + ".part")
    with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
        shutil.copyfileobj(response, out)
    if not _matches(tmp, prefix):
        tmp.unlink()
        raise ValueError(f"{url}: the downloaded file's sha256 does not start with {prefix}")
    tmp.replace(dest)
    return dest


def _matches(path: Path, prefix: str | None) -> bool:
    if not prefix:
        return True
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest().startswith(prefix)


def cli() -> None:
    p = argparse.ArgumentParser("python -m model.pretrained", description=__doc__.split("\n")[0])
    p.add_argument("name", choices=sorted(TORCHVISION_WEIGHTS))
    p.add_argument("folder", type=Path)
    args = p.parse_args()
    print(fetch_backbone_weights(args.name, args.folder))


if __name__ == "__main__":
    cli()
