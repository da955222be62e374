"""Write the natural-photo model's sample gallery from photographs scikit-image ships with clear
licences (public domain or CC0), centre-cropped to the model's 224 px input as the page does::

    python -m scripts.make_photo_gallery      # -> assets/samples/natural-photos

The photographs carry no ImageNet label of their own (a cat could be a tabby or a tiger cat):
the gallery says what each shows, and attacks move away from the model's clean prediction.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from compute.images import gallery_folder, prepare_image

TASK = "natural-photos"
SIZE = 224
PHOTOS = {  # scikit-image data file -> (what it shows, its licence as scikit-image states it)
    "chelsea.png": ("a cat", "CC0, by the photographer (Stefan van der Walt)"),
    "coffee.png": ("a cup of coffee", "CC0, by the photographer (Rachel Michetti)"),
    "rocket.jpg": ("a rocket on its pad", "public domain, released by SpaceX"),
    "astronaut.png": ("an astronaut", "public domain, NASA"),
    "camera.png": ("a man with a camera", "CC0, by the photographer (Lav Varshney)"),
}


def main() -> None:
    import skimage
    source = Path(skimage.__file__).parent / "data"
    out = gallery_folder(TASK)
    out.mkdir(parents=True, exist_ok=True)
    samples = []
    for name, (shows, licence) in PHOTOS.items():
        image = prepare_image((source / name).read_bytes(), SIZE, "crop").image
        file = Path(name).stem + ".png"
        Image.fromarray((image * 255 + 0.5).astype(np.uint8)).save(out / file, optimize=True)
        samples.append({"file": file, "label": -1, "class_name": shows, "box": None,
                        "source": f"scikit-image data/{name}", "licence": licence})
    note = ("Photographs shipped with scikit-image, centre-cropped to 224 px; no ImageNet label of their own "
            "(label -1) and no object box")
    (out / "samples.json").write_text(json.dumps({"note": note, "samples": samples}, indent=1) + "\n")
    print(f"{len(samples)} photos in {out}")


if __name__ == "__main__":
    main()
