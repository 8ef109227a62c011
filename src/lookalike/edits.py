"""Named edits that make copies of a picture: what people do to images before they resurface.

Used by the demo gallery, the tests and the benchmarks, so all three measure the same
edits. Each edit takes and returns an RGB image; `save_edit` writes a high-quality JPEG,
as a copy shared online would be.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Callable

from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

Edit = Callable[[Image.Image], Image.Image]


def jpeg(quality: int) -> Edit:
    def recompress(image: Image.Image) -> Image.Image:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")

    return recompress


def crop(fraction: float, anchor: tuple[float, float] = (0.5, 0.5)) -> Edit:
    """Keep `fraction` of each side, the window placed at `anchor` (0..1 in x and y)."""

    def cut(image: Image.Image) -> Image.Image:
        width, height = round(image.width * fraction), round(image.height * fraction)
        left = round((image.width - width) * anchor[0])
        top = round((image.height - height) * anchor[1])
        return image.crop((left, top, left + width, top + height))

    return cut


def scale(factor: float) -> Edit:
    def resize(image: Image.Image) -> Image.Image:
        size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
        return image.resize(size, Image.Resampling.LANCZOS)

    return resize


def rotate(degrees: float) -> Edit:
    """Counter-clockwise; right angles are lossless, other angles expand onto white."""

    def turn(image: Image.Image) -> Image.Image:
        return image.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor="white")

    return turn


def caption(text: str = "SALE -50% lookalike") -> Edit:
    def write(image: Image.Image) -> Image.Image:
        out = image.copy()
        draw = ImageDraw.Draw(out)
        size = max(12, image.height // 12)
        font = ImageFont.load_default(size=size)
        band = (0, image.height - int(size * 1.6), image.width, image.height)
        draw.rectangle(band, fill="black")
        draw.text((size // 2, band[1] + size // 4), text, fill="white", font=font)
        return out

    return write


def border(fraction: float = 0.08, colour: str = "white") -> Edit:
    def frame(image: Image.Image) -> Image.Image:
        return ImageOps.expand(image, border=max(1, round(min(image.size) * fraction)), fill=colour)

    return frame


def letterbox(colour: str = "black") -> Edit:
    """Pad with bars to 16:9 (a landscape or square picture) or 9:16 (a portrait one), as a
    video frame or a phone screen shows a picture of another shape."""

    def pad(image: Image.Image) -> Image.Image:
        wide, tall = (16, 9) if image.width >= image.height else (9, 16)
        width = max(image.width, round(image.height * wide / tall))
        height = max(image.height, round(image.width * tall / wide))
        out = Image.new("RGB", (width, height), colour)
        out.paste(image.convert("RGB"), ((width - image.width) // 2, (height - image.height) // 2))
        return out

    return pad


def screenshot(desktop: str = "#3a6ea5", title_bar: str = "#c8c8c8") -> Edit:
    """The picture shown in a window on a screen, captured whole: a grey title bar with its
    buttons above it, a thin window edge, and a margin of coloured desktop around."""

    def capture(image: Image.Image) -> Image.Image:
        side = min(image.size)
        bar, edge, margin = max(8, round(side * 0.06)), max(1, round(side * 0.004)), max(4, round(side * 0.08))
        width = image.width + 2 * (margin + edge)
        height = image.height + bar + 2 * edge + 2 * margin
        out = Image.new("RGB", (width, height), desktop)
        draw = ImageDraw.Draw(out)
        draw.rectangle((margin, margin, width - margin - 1, height - margin - 1), fill="#808080")
        draw.rectangle((margin + edge, margin + edge, width - margin - edge - 1, margin + edge + bar - 1), fill=title_bar)
        radius = max(2, bar // 4)
        for i, colour in enumerate(("#e05050", "#e0b040", "#50b050")):
            x = width - margin - edge - (i + 1) * 3 * radius
            y = margin + edge + bar // 2
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
        out.paste(image.convert("RGB"), (margin + edge, margin + edge + bar))
        return out

    return capture


def enhance(brightness: float = 1.0, contrast: float = 1.0, saturation: float = 1.0) -> Edit:
    def adjust(image: Image.Image) -> Image.Image:
        out = ImageEnhance.Brightness(image).enhance(brightness)
        out = ImageEnhance.Contrast(out).enhance(contrast)
        return ImageEnhance.Color(out).enhance(saturation)

    return adjust


def grayscale(image: Image.Image) -> Image.Image:
    return image.convert("L").convert("RGB")


def chain(*edits: Edit) -> Edit:
    def apply(image: Image.Image) -> Image.Image:
        for edit in edits:
            image = edit(image)
        return image

    return apply


T = Image.Transpose
EDITS: dict[str, Edit] = {
    "rot90": lambda im: im.transpose(T.ROTATE_90),
    "rot180": lambda im: im.transpose(T.ROTATE_180),
    "rot270": lambda im: im.transpose(T.ROTATE_270),
    "mirror": lambda im: im.transpose(T.FLIP_LEFT_RIGHT),
    "rot5": rotate(5),
    "crop80": crop(0.8),
    "crop70-corner": crop(0.7, (0.0, 1.0)),
    "jpeg15": jpeg(15),
    "downscale25": scale(0.25),
    "grayscale": grayscale,
    "brighter": enhance(brightness=1.3, contrast=1.2),
    "recolour": enhance(saturation=0.4, brightness=0.9),
    "border": border(),
    "caption": caption(),
    "crop80-jpeg20-downscale50": chain(crop(0.85), jpeg(20), scale(0.5)),
}


def save_edit(image: Image.Image, name: str, folder: Path, stem: str) -> Path:
    """Write an edited copy as FOLDER/STEM-NAME.jpg."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}-{name}.jpg"
    image.save(path, "JPEG", quality=95)
    return path
