"""Pillow < 13's posterize for the timm sides of bench/augment.sh and bench/train_speed.sh.

Pillow 13's ImageOps.posterize raises for fewer than 1 bit, which timm 1.0.29's
PosterizeIncreasing asks for at magnitude 10 (rand-m9-mstd0.5 draws it about 2% of the
time), so a timm run of that recipe crashes within an epoch or a benchmark round. dpn
trains on what Pillow before 13 gave (README, "Augmentation"): the mask keeps no bit and
the image is black. `install()` gives timm the same, at the same cost (a lookup table
through Image.point), so that both sides do the same work.
"""

from PIL import ImageOps

_original = ImageOps.posterize


def _posterize(image, bits):
    if bits < 1:
        return image.point([0] * 256 * len(image.getbands()))
    return _original(image, bits)


def install():
    # timm's posterize looks ImageOps.posterize up at each call, and DataLoader
    # workers fork after this, so one assignment covers them all.
    ImageOps.posterize = _posterize
