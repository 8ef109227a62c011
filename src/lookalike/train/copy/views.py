"""Random edited copies of a picture: the positive pairs a copy descriptor learns from.

Every edit kind the copy benchmarks make is drawn here at random strengths, so the
descriptor becomes invariant to exactly what an edited copy goes through: crops anywhere
down to a quarter of the area, mirroring, small turns, borders of any colour, letterbox
bars, a screenshot's window frame, captions, colour and grey changes, blur, rescaling and
JPEG down to quality 10. Quarter turns are left out: search turns the query for those.
Each draw comes from the caller's numpy Generator, so a seed fixes every view.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from ...edits import enhance, grayscale, jpeg

WORK_SIDE = 320  # views are made at this size: the network sees less


def strong_view(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """One heavily edited copy of `image` (at least a crop or a rescale)."""
    image = _fit(image, WORK_SIDE)
    if rng.random() < 0.75:
        image = random_resized_crop(image, rng)
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if rng.random() < 0.15:
        image = small_turn(image, rng)
    if rng.random() < 0.6:
        image = colour_change(image, rng)
    frame = rng.random()
    if frame < 0.12:
        image = random_border(image, rng)
    elif frame < 0.20:
        image = letterbox(image, rng)
    elif frame < 0.28:
        image = screenshot(image, rng)
    if rng.random() < 0.15:
        image = caption(image, rng)
    if rng.random() < 0.15:
        image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.4, 2.0))))
    if rng.random() < 0.3:
        image = _fit(image, int(rng.integers(48, 200)))
    if rng.random() < 0.5:
        image = jpeg(int(rng.integers(10, 90)))(image)
    return image.convert("RGB")


def stored_view(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The picture as a collection stores it: untouched half the time, else edited too
    (collections hold edited copies as well as originals)."""
    return _fit(image, WORK_SIDE) if rng.random() < 0.5 else strong_view(image, rng)


def random_resized_crop(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A window of 25-100% of the area, aspect 3:4 to 4:3 of the picture's, anywhere."""
    width, height = image.size
    area = float(rng.uniform(0.25, 1.0))
    aspect = float(np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3))))
    w = max(8, min(width, round(np.sqrt(area * aspect) * width)))
    h = max(8, min(height, round(np.sqrt(area / aspect) * height)))
    left, top = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
    return image.crop((left, top, left + w, top + h))


def small_turn(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    angle = float(rng.uniform(-12, 12))
    fill = "white" if rng.random() < 0.5 else "black"
    return image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=bool(rng.random() < 0.5), fillcolor=fill)


def colour_change(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    if rng.random() < 0.2:
        return grayscale(image)
    return enhance(brightness=float(rng.uniform(0.6, 1.4)), contrast=float(rng.uniform(0.6, 1.4)),
                   saturation=float(rng.uniform(0.2, 1.8)))(image)


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    pick = rng.random()
    if pick < 0.4:
        return (255, 255, 255)
    if pick < 0.7:
        return (0, 0, 0)
    return tuple(int(v) for v in rng.integers(0, 256, 3))  # type: ignore[return-value]


def random_border(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    side = min(image.size)
    return ImageOps.expand(image, border=max(1, round(side * float(rng.uniform(0.03, 0.2)))), fill=_colour(rng))


def letterbox(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Padded with bars to 16:9 (or 9:16 when the picture is tall), as a video player shows it."""
    width, height = image.size
    wide = width >= height
    target = (round(height * 16 / 9), height) if wide else (width, round(width * 16 / 9))
    if wide and target[0] <= width:
        target = (width, round(width * 9 / 16) + max(2, height // 5))
    if not wide and target[1] <= height:
        target = (round(height * 9 / 16) + max(2, width // 5), height)
    canvas = Image.new("RGB", (max(target[0], width), max(target[1], height)), (0, 0, 0))
    canvas.paste(image, ((canvas.width - width) // 2, (canvas.height - height) // 2))
    return canvas


def screenshot(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The picture inside a window (title bar, frame) on a desktop of one colour."""
    width, height = image.size
    bar = max(6, height // 12)
    margin = [int(v) for v in rng.integers(max(2, width // 20), max(3, width // 4), 4)]
    canvas = Image.new("RGB", (width + margin[0] + margin[2], height + bar + margin[1] + margin[3]), _colour(rng))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((margin[0] - 1, margin[1] - 1, margin[0] + width, margin[1] + bar + height), fill=(90, 90, 90))
    draw.rectangle((margin[0], margin[1], margin[0] + width - 1, margin[1] + bar - 1), fill=(200, 200, 205))
    canvas.paste(image, (margin[0], margin[1] + bar))
    return canvas


def caption(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A line of text in a band at the bottom or the top, or written over the picture."""
    out = image.copy()
    draw = ImageDraw.Draw(out)
    size = max(8, out.height // int(rng.integers(8, 16)))
    font = ImageFont.load_default(size=size)
    text = "".join(chr(int(c)) for c in rng.integers(65, 91, int(rng.integers(4, 14))))
    top = 0 if rng.random() < 0.3 else out.height - int(size * 1.6)
    if rng.random() < 0.6:
        draw.rectangle((0, top, out.width, top + int(size * 1.6)), fill=_colour(rng))
    draw.text((size // 2, top + size // 4), text, fill=_colour(rng), font=font)
    return out


def _fit(image: Image.Image, side: int) -> Image.Image:
    """At most `side` on the longest side (a copy of it: never the caller's image)."""
    out = image.copy()
    out.thumbnail((side, side), Image.Resampling.BILINEAR)
    return out
