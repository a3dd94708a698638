"""Reference data for tests/data_parity.rs: images in many formats and what
Pillow, torchvision and timm make of them.

usage: data_reference.py OUT_DIR

Writes OUT_DIR/images/* (the test inputs, made from scikit-image's sample
photographs), OUT_DIR/ref/* (raw reference arrays) and OUT_DIR/manifest.json:

  decode:   [{file, kind, w, h, rgb}]   Image.open(file).convert('RGB'), u8 HWC
            kind: exact | lossy (how the test compares)
  resize:   [{src, filter, w, h, out}]  Image.open(src).convert('RGB').resize((w, h), filter)
  crop_resize: [{src, top, left, height, width, size, out}]
            torchvision F.resized_crop(img, top, left, height, width, [size, size], BICUBIC)
  eval:     [{file, model, image_size, crop_pct, mean, std, interpolation, out}]
            timm's eval transform of resolve_data_config({}, model=create_model(model)),
            f32 CHW
  bad:      [{file, why}]                files Pillow cannot open either
  jpeg_damage: [{src, cut, flip, sha256}]  src's bytes cut to `cut` bytes (null: whole)
            with the byte at `flip` (null: none) xor 0x5A, opened the same way with
            LOAD_TRUNCATED_IMAGES False: the SHA-256 of the u8 HWC RGB, null where
            Pillow raises

JPEGs: every one is decoded by Pillow's libjpeg-turbo (accurate integer IDCT,
fancy upsampling); the cases cover chroma subsampling 4:4:4/4:2:2/4:2:0 at
several qualities, progressive, grayscale, CMYK and YCCK (Adobe), odd sizes,
restart intervals, and the real photographs that scikit-image and
scikit-learn ship as .jpg files.

Everything is written to OUT_DIR, which the caller creates (and renames into
place when this script prints `done`).
"""

import pinned  # tests/py/pinned.py: the pinned torch, timm and Pillow, or exit

pinned.check()

import hashlib
import io
import json
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image

FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
}


def png_chunk(kind, data):
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def write_png16(path, arr):
    """A 16-bit PNG (color type 2 for HxWx3, 6 for HxWx4, 4 for HxWx2), which Pillow
    can read but not write."""
    h, w, c = arr.shape
    color_type = {2: 4, 3: 2, 4: 6}[c]
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))
    data = b"\x89PNG\r\n\x1a\n"
    data += png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0))
    data += png_chunk(b"IDAT", zlib.compress(raw, 6))
    data += png_chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def main():
    out = sys.argv[1]
    import skimage.data as sd

    img_dir = os.path.join(out, "images")
    ref_dir = os.path.join(out, "ref")
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ref_dir, exist_ok=True)
    manifest = {"decode": [], "resize": [], "crop_resize": [], "eval": [], "bad": []}
    counter = [0]

    def ref(arr, dtype):
        counter[0] += 1
        name = f"ref/{counter[0]:04d}.bin"
        np.ascontiguousarray(arr, dtype=dtype).tofile(os.path.join(out, name))
        return name

    def add_decode(name, kind):
        im = Image.open(os.path.join(img_dir, name)).convert("RGB")
        a = np.asarray(im)
        manifest["decode"].append(
            {"file": f"images/{name}", "kind": kind, "w": im.width, "h": im.height,
             "rgb": ref(a, np.uint8)}
        )

    photos = {
        "astronaut": sd.astronaut(),
        "coffee": sd.coffee(),
        "chelsea": sd.chelsea(),
        "rocket": sd.rocket(),
        "hubble": sd.hubble_deep_field(),
        "hubble_333x517": sd.hubble_deep_field()[100:617, 211:544],
        "camera": sd.camera(),
        "coins": sd.coins(),
        "tiny_31x17": sd.chelsea()[50:67, 100:131],
    }

    # Plain PNG and JPEG (quality 90, 4:2:0) of every photograph.
    for name, a in photos.items():
        im = Image.fromarray(a)
        im.save(os.path.join(img_dir, f"{name}.png"))
        add_decode(f"{name}.png", "exact")
        im.save(os.path.join(img_dir, f"{name}.jpg"), quality=90)
        add_decode(f"{name}.jpg", "exact")

    ast = Image.fromarray(photos["astronaut"])
    cam = photos["camera"]
    jpegs = [f"{name}.jpg" for name in photos]  # also given to the eval transform

    def add_jpeg(name, im, **kw):
        im.save(os.path.join(img_dir, name), format="JPEG", **kw)
        add_decode(name, "exact")
        jpegs.append(name)

    # Chroma subsampling 4:4:4 (0), 4:2:2 (1), 4:2:0 (2) at several qualities.
    for src in ["astronaut", "coffee", "chelsea"]:
        im = Image.fromarray(photos[src])
        for q in [50, 75, 95, 100]:
            for ss in [0, 1, 2]:
                add_jpeg(f"{src}_q{q}_s{ss}.jpg", im, quality=q, subsampling=ss)
    # Progressive, grayscale, CMYK (Adobe, inverted), restart intervals.
    add_jpeg("astronaut_prog.jpg", ast, quality=85, progressive=True)
    add_jpeg("coffee_prog_444.jpg", Image.fromarray(photos["coffee"]), quality=90,
             progressive=True, subsampling=0)
    add_jpeg("camera_prog.jpg", Image.fromarray(cam), quality=80, progressive=True)
    add_jpeg("astronaut_gray.jpg", ast.convert("L"), quality=90)
    add_jpeg("camera_q60.jpg", Image.fromarray(cam), quality=60)
    add_jpeg("astronaut_cmyk.jpg", ast.convert("CMYK"), quality=90)
    add_jpeg("coffee_cmyk.jpg", Image.fromarray(photos["coffee"]).convert("CMYK"), quality=90)
    add_jpeg("chelsea_rst_blocks.jpg", Image.fromarray(photos["chelsea"]), quality=90,
             restart_marker_blocks=5)
    add_jpeg("coffee_rst_rows.jpg", Image.fromarray(photos["coffee"]), quality=85,
             subsampling=1, restart_marker_rows=1)
    # YCCK: Pillow cannot write it, but a 4-component JPEG whose Adobe marker
    # says transform 2 is one. Pillow writes CMYK inverted and untransformed,
    # so storing 255 - (Y, Cb, Cr, K) and patching the transform byte gives
    # a YCCK file (YCbCr of the inverted photograph, so that it looks right).
    ycc = np.asarray(Image.fromarray(255 - photos["chelsea"]).convert("YCbCr"))
    k = 255 - np.asarray(Image.fromarray(cam).resize(ycc.shape[1::-1])) // 4
    buf = io.BytesIO()
    Image.fromarray((255 - np.dstack([ycc, k])).astype(np.uint8), "CMYK").save(
        buf, format="JPEG", quality=90
    )
    data = bytearray(buf.getvalue())
    adobe = data.index(b"Adobe")  # APP14: "Adobe", version, flags0, flags1, transform
    assert data[adobe + 11] == 0
    data[adobe + 11] = 2
    with open(os.path.join(img_dir, "chelsea_ycck.jpg"), "wb") as f:
        f.write(bytes(data))
    assert Image.open(os.path.join(img_dir, "chelsea_ycck.jpg")).info["adobe_transform"] == 2
    add_decode("chelsea_ycck.jpg", "exact")
    jpegs.append("chelsea_ycck.jpg")
    # Odd sizes, in every subsampling (partial MCUs, edge upsampling).
    chel = Image.fromarray(photos["chelsea"])
    for (w, h) in [(17, 13), (1, 1), (641, 479), (2, 3), (33, 1), (5, 200)]:
        for ss in [0, 1, 2]:
            add_jpeg(f"chelsea_{w}x{h}_s{ss}.jpg", chel.resize((w, h), Image.Resampling.BICUBIC),
                     quality=90, subsampling=ss)
    # Real photographs shipped as JPEG files (camera and editor output: EXIF,
    # ICC profiles, Adobe markers, 4:4:4 and 4:2:0).
    import shutil
    import sklearn.datasets
    shipped = [
        os.path.join(os.path.dirname(sd.__file__), f)
        for f in ["rocket.jpg", "retina.jpg", "hubble_deep_field.jpg"]
    ] + [
        os.path.join(os.path.dirname(sklearn.datasets.__file__), "images", f)
        for f in ["china.jpg", "flower.jpg"]
    ]
    for path in shipped:
        name = "shipped_" + os.path.basename(path)
        shutil.copyfile(path, os.path.join(img_dir, name))
        add_decode(name, "exact")
        jpegs.append(name)

    # PNG modes.
    pal = ast.quantize(256)
    pal.save(os.path.join(img_dir, "astronaut_p.png"))
    add_decode("astronaut_p.png", "exact")
    pal.save(os.path.join(img_dir, "astronaut_p_trns.png"), transparency=7)
    add_decode("astronaut_p_trns.png", "exact")
    small_pal = Image.fromarray(photos["chelsea"]).quantize(16)
    small_pal.save(os.path.join(img_dir, "chelsea_p4.png"), bits=4)
    add_decode("chelsea_p4.png", "exact")
    la = Image.merge("LA", [Image.fromarray(cam), Image.fromarray((cam[::-1] // 2).copy())])
    la.save(os.path.join(img_dir, "camera_la.png"))
    add_decode("camera_la.png", "exact")
    rgba = ast.copy()
    rgba.putalpha(Image.fromarray(cam))
    rgba.save(os.path.join(img_dir, "astronaut_rgba.png"))
    add_decode("astronaut_rgba.png", "exact")
    # 16-bit grayscale: values up to 255 survive, larger ones clip (Pillow's I;16 -> RGB).
    Image.fromarray(cam.astype(np.uint16)).save(os.path.join(img_dir, "camera_i16_low.png"))
    add_decode("camera_i16_low.png", "exact")
    Image.fromarray((cam.astype(np.uint16) * 257 // 64)).save(
        os.path.join(img_dir, "camera_i16.png")
    )
    add_decode("camera_i16.png", "exact")
    rgb16 = photos["coffee"].astype(np.uint16) * 257 + np.arange(400 * 600 * 3, dtype=np.uint16).reshape(400, 600, 3) % 251
    write_png16(os.path.join(img_dir, "coffee_rgb16.png"), rgb16)
    add_decode("coffee_rgb16.png", "exact")
    rgba16 = np.concatenate([rgb16, (rgb16[:, :, :1] ^ 0x5A5A)], axis=2)
    write_png16(os.path.join(img_dir, "coffee_rgba16.png"), rgba16)
    add_decode("coffee_rgba16.png", "exact")
    la16 = np.stack([cam.astype(np.uint16) * 257, cam[::-1].astype(np.uint16) * 100], axis=2)
    write_png16(os.path.join(img_dir, "camera_la16.png"), la16)
    add_decode("camera_la16.png", "exact")
    Image.fromarray(cam > 128).save(os.path.join(img_dir, "camera_1bit.png"))
    add_decode("camera_1bit.png", "exact")

    # Other containers.
    ast.save(os.path.join(img_dir, "astronaut.bmp"))
    add_decode("astronaut.bmp", "exact")
    Image.fromarray(cam).save(os.path.join(img_dir, "camera.bmp"))
    add_decode("camera.bmp", "exact")
    ast.save(os.path.join(img_dir, "astronaut.tif"))
    add_decode("astronaut.tif", "exact")
    Image.fromarray(photos["coffee"]).save(
        os.path.join(img_dir, "coffee_lzw.tif"), compression="tiff_lzw"
    )
    add_decode("coffee_lzw.tif", "exact")
    rgba.save(os.path.join(img_dir, "astronaut_rgba.tif"))
    add_decode("astronaut_rgba.tif", "exact")
    Image.fromarray(cam).save(os.path.join(img_dir, "camera.tif"))
    add_decode("camera.tif", "exact")
    pal.save(os.path.join(img_dir, "astronaut.gif"))
    add_decode("astronaut.gif", "exact")
    frames = [Image.fromarray(photos["chelsea"]).quantize(64), small_pal.convert("RGB").quantize(64)]
    frames[0].save(
        os.path.join(img_dir, "chelsea_anim.gif"), save_all=True, append_images=frames[1:],
        duration=100, loop=0,
    )
    add_decode("chelsea_anim.gif", "exact")
    Image.fromarray(cam).save(os.path.join(img_dir, "camera.gif"))
    add_decode("camera.gif", "exact")
    ast.save(os.path.join(img_dir, "astronaut_lossless.webp"), lossless=True)
    add_decode("astronaut_lossless.webp", "exact")
    rgba.save(os.path.join(img_dir, "astronaut_rgba_lossless.webp"), lossless=True)
    add_decode("astronaut_rgba_lossless.webp", "exact")
    ast.save(os.path.join(img_dir, "astronaut_lossy.webp"), quality=90)
    add_decode("astronaut_lossy.webp", "lossy")
    # A JPEG named .png: content decides.
    ast.save(os.path.join(img_dir, "jpeg_named.png"), format="JPEG", quality=90)
    add_decode("jpeg_named.png", "exact")

    # Resize parity, every filter, down and up, on RGB PNGs.
    sizes = [(256, 384), (224, 224), (100, 77), (640, 480), (37, 600), (451, 300), (1200, 20)]
    for src in ["chelsea.png", "coffee.png", "hubble_333x517.png", "tiny_31x17.png"]:
        im = Image.open(os.path.join(img_dir, src)).convert("RGB")
        for fname, f in FILTERS.items():
            for (w, h) in sizes:
                r = im.resize((w, h), f)
                manifest["resize"].append(
                    {"src": f"images/{src}", "filter": fname, "w": w, "h": h,
                     "out": ref(np.asarray(r), np.uint8)}
                )

    # torchvision's resized_crop (the train transform's geometry): crop, then resize.
    import torch
    import torchvision.transforms.functional as TF
    from torchvision.transforms import InterpolationMode

    im = Image.open(os.path.join(img_dir, "coffee.png")).convert("RGB")
    for (top, left, hh, ww) in [(10, 20, 300, 250), (0, 0, 400, 600), (123, 311, 57, 80),
                                (350, 550, 100, 100), (-10, -5, 50, 60)]:
        r = TF.resized_crop(im, top, left, hh, ww, [224, 224], InterpolationMode.BICUBIC)
        manifest["crop_resize"].append(
            {"src": "images/coffee.png", "top": top, "left": left, "height": hh, "width": ww,
             "size": 224, "out": ref(np.asarray(r), np.uint8)}
        )

    # timm eval transforms.
    import timm
    from timm.data import create_transform, resolve_data_config

    torch.set_num_threads(1)
    for model in ["dpn92", "dpn68b"]:
        cfg = resolve_data_config({}, model=timm.create_model(model, pretrained=False))
        tf = create_transform(**cfg)
        # Every photograph as PNG and JPEG; dpn92 also gets every other JPEG.
        files = [f"{name}.png" for name in photos] + [f"{name}.jpg" for name in photos]
        if model == "dpn92":
            files += jpegs[len(photos):]
        for f in files:
            x = tf(Image.open(os.path.join(img_dir, f)).convert("RGB"))
            manifest["eval"].append(
                {"file": f"images/{f}", "model": model,
                 "image_size": cfg["input_size"][1], "crop_pct": cfg["crop_pct"],
                 "mean": list(cfg["mean"]), "std": list(cfg["std"]),
                 "interpolation": cfg["interpolation"],
                 "out": ref(x.numpy(), np.float32)}
            )

    # Files nobody can read.
    with open(os.path.join(img_dir, "astronaut.jpg"), "rb") as f:
        jpeg = f.read()
    bad = {
        "truncated.jpg": jpeg[: len(jpeg) // 3],
        "header_only.jpg": jpeg[:200],
        "empty.jpg": b"",
        "text.jpg": b"this is not an image\n" * 20,
        "garbage.png": b"\x89PNG\r\n\x1a\n" + os.urandom(500),
        "garbage.jpg": b"\xff\xd8\xff" + np.random.RandomState(1).bytes(3000),
        "soi_only.jpg": b"\xff\xd8\xff\xd9",
    }
    for name, data in bad.items():
        with open(os.path.join(img_dir, name), "wb") as f:
            f.write(data)
        try:
            Image.open(os.path.join(img_dir, name)).convert("RGB")
            why = "pillow-reads-it"
        except Exception as e:  # noqa: BLE001
            why = type(e).__name__
        manifest["bad"].append({"file": f"images/{name}", "why": why})

    # Damaged JPEGs: cut short anywhere (headers, scans, just the EOI), and
    # bytes flipped in the entropy-coded data. Pillow raises on a file that
    # ends too soon and decodes corrupt data with warnings; either way its
    # answer is the reference.
    manifest["jpeg_damage"] = []
    for src in ["astronaut.jpg", "astronaut_prog.jpg", "chelsea_rst_blocks.jpg",
                "chelsea_ycck.jpg", "camera_prog.jpg"]:
        with open(os.path.join(img_dir, src), "rb") as f:
            data = f.read()
        n = len(data)
        sos = data.index(b"\xff\xda")
        cuts = sorted({1, 2, 3, 4, 20, 100, sos, sos + 4, sos + 30, n - 3, n - 2, n - 1}
                      | set(range(0, n, n // 23 + 1)))
        flips = list(range(sos + 40, n - 2, (n - sos) // 17 + 1))
        for cut, flip in [(c, None) for c in cuts] + [(None, i) for i in flips]:
            d = bytearray(data[:cut] if cut is not None else data)
            if flip is not None:
                d[flip] ^= 0x5A
            try:
                a = np.asarray(Image.open(io.BytesIO(bytes(d))).convert("RGB"))
                digest = hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()
            except Exception:  # noqa: BLE001
                digest = None
            manifest["jpeg_damage"].append(
                {"src": f"images/{src}", "cut": cut, "flip": flip, "sha256": digest}
            )

    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print("done", flush=True)


if __name__ == "__main__":
    main()
