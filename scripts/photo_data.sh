#!/usr/bin/env bash
# The natural-photo head's data (docs/photos.md), from Debian packages and scikit-image:
#   bash scripts/photo_data.sh data/photos
# train/          one image per wallpaper (the largest file of each theme), longest side 640 px:
#                 Debian's gnome, mate, plasma, lomiri and ukui wallpapers (photographs and abstract
#                 art alike; the pretrained network labels them all)
# cutouts_train/, cutouts_hold/
#                 Tux Paint's object stamps with transparency (animals, food, plants, tools, clothes,
#                 vehicles, ...; no letters, symbols, flags or cartoons), every fifth held out
# hold/           scikit-image's photographs (cat, coffee, astronaut, rocket, motorcycle, Hubble
#                 deep field): never trained on
# Downloads the .deb files with `apt-get download` (no root needed) and unpacks them with dpkg -x.
set -euo pipefail
OUT=${1:?usage: photo_data.sh OUT_DIR}
PY=${PY:-.venv/bin/python}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download gnome-backgrounds mate-backgrounds plasma-workspace-wallpapers lomiri-wallpapers \
    lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 ukui-wallpapers tuxpaint-stamps-default)
for f in "$work"/*.deb; do dpkg -x "$f" "$work/x"; done
mkdir -p "$OUT/train" "$OUT/cutouts_train" "$OUT/cutouts_hold" "$OUT/hold"
$PY - "$work/x" "$OUT" <<'EOF'
import collections
import os
import sys
from pathlib import Path

from PIL import Image
from skimage import data

root, out = Path(sys.argv[1]), Path(sys.argv[2])
images = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")
                and "tuxpaint" not in str(p) and "screenshot" not in p.name and p.is_file() and not p.is_symlink())
themes = collections.defaultdict(list)
for p in images:  # plasma themes hold one picture at many resolutions (and dark variants): keep the largest
    parts = p.relative_to(root).parts
    themes[parts[:4] if parts[2] == "wallpapers" and "images" in str(p.parent) else parts].append(p)
for files in themes.values():
    best = max(files, key=os.path.getsize)
    with Image.open(best) as im:
        im = im.convert("RGB")
        im.thumbnail((640, 640))
        im.save(out / "train" / "_".join(best.relative_to(root).with_suffix(".jpg").parts), quality=92)
skip = ("cartoon", "lowercase", "uppercase", "asl", "symbols", "hanukkah", "christmas", "halloween", "chess",
        "roadsigns", "seasonal", "/text/", "/shapes/", "/space/", "flags")
stamps = sorted(p for p in root.rglob("*.png") if "tuxpaint" in str(p) and not any(s in str(p) for s in skip))
for i, p in enumerate(stamps):
    name = "_".join(p.parts[p.parts.index("stamps") + 1:])
    (out / ("cutouts_hold" if i % 5 == 0 else "cutouts_train") / name).write_bytes(p.read_bytes())
held = {"chelsea": data.chelsea(), "coffee": data.coffee(), "astronaut": data.astronaut(), "rocket": data.rocket(),
        "motorcycle": data.stereo_motorcycle()[0], "hubble_deep_field": data.hubble_deep_field()}
for name, array in held.items():
    Image.fromarray(array).save(out / "hold" / f"{name}.png")
print(f"{len(themes)} training photos, {len(stamps)} cut-outs, {len(held)} held-out photographs in {out}")
EOF
