"""Reading media that a user brings or the catalogue holds, within limits: the one image reader, and header
checks for video and audio.

Every image that the show, projection, search by image, the web upload, VQGAN+CLIP's image prompts and the
indexer decode goes through :func:`read_image`. It reads the header first (Pillow's lazy open: the size
without decoding a pixel), refuses a picture whose header claims more than ``media.max_image_pixels``, and
decodes an allowed one reduced to the size the caller needs (JPEG: the decoder's own 1/2, 1/4, 1/8 scaling;
other formats: an integer box reduction right after decoding), so memory stays bounded by the budget.
Only PNG, JPEG, WebP, GIF, BMP and TIFF are opened (no plugin that runs a helper program, such as EPS).

Errors: :class:`MediaTooLarge` (over a limit) and :class:`MediaUnreadable` (missing, truncated, corrupt,
not an image), both :class:`BadMedia`, a ``BadInput``: the CLI exits 2, the web app answers 4xx, the show
skips and quarantines the work. Nothing here writes anything.

Torch-free and light: ``gallery.config`` imports :class:`MediaSettings` at start; Pillow, numpy and
soundfile are imported only when a reader runs.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from gallery.errors import BadInput
from gallery.settings_base import Strict

if TYPE_CHECKING:
    import numpy as np

# Pillow refuses by itself (DecompressionBombError) beyond twice its MAX_IMAGE_PIXELS (about 179 MP).
PILLOW_HARD_LIMIT = 178_000_000
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")  # JPEG includes MPO (camera JPEGs)
FORMATS_SAID = "PNG, JPEG, WebP, GIF, BMP, TIFF"
MAX_SIDE = 65_535  # no format here stores a larger side; a header that claims one is lying


class MediaSettings(Strict):
    """The `media` section: limits on what any reader decodes (user files and catalogue blobs)."""

    # Pixels (width x height) an image's header may claim; larger ones are refused before decoding.
    max_image_pixels: int = Field(64_000_000, ge=1, le=PILLOW_HARD_LIMIT)
    # Pixels of one video frame; larger videos are refused before their first frame is decoded.
    max_video_pixels: int = Field(16_777_216, ge=1, le=PILLOW_HARD_LIMIT)
    # Frames a video may claim (duration x fps).
    max_video_frames: int = Field(1_000_000, ge=1)
    # Seconds a sound file may last; longer ones are refused from their header, before decoding.
    max_audio_seconds: float = Field(1800.0, gt=0, le=86_400)


DEFAULTS = MediaSettings()


class BadMedia(BadInput):
    """A media file that is not read: ``what`` names it, ``reason`` says why (without the name)."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"{what}: {reason}")
        self.what = what
        self.reason = reason


class MediaTooLarge(BadMedia):
    """The header claims more than a configured limit (pixels, frames, seconds)."""


class MediaUnreadable(BadMedia):
    """Missing, empty, truncated, corrupt, or not a supported format."""


def limits_of(settings: Any) -> MediaSettings:
    """The media limits of a Settings (or anything with ``.media``), else the defaults."""
    m = getattr(settings, "media", None)
    return m if isinstance(m, MediaSettings) else DEFAULTS


def _mp(n: float) -> str:
    return f"{n / 1e6:.1f} MP" if n >= 100_000 else f"{n:.0f} pixels"


# ---- images --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageHeader:
    format: str
    width: int
    height: int
    mode: str


def _source(src: bytes | bytearray | memoryview | Path | str, what: str) -> Any:
    if isinstance(src, (bytes, bytearray, memoryview)):
        if len(src) == 0:
            raise MediaUnreadable(what, "empty file")
        return io.BytesIO(src)
    p = Path(src)
    if not p.is_file():
        raise MediaUnreadable(what, f"file {p} is missing")
    if p.stat().st_size == 0:
        raise MediaUnreadable(what, "empty file")
    return p


def _open(src: Any, what: str, max_pixels: int) -> Any:
    """Pillow's lazy open (header only), its own errors turned into ours."""
    from PIL import Image, UnidentifiedImageError

    Image.init()
    try:
        return Image.open(src, formats=[f for f in IMAGE_FORMATS if f in Image.OPEN])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        m = re.search(r"\((\d+) pixels\)", str(e))
        claimed = f"{_mp(int(m.group(1)))}" if m else "more than Pillow opens"
        raise MediaTooLarge(what, f"header claims {claimed}, over the limit of {_mp(max_pixels)} "
                                  "(media.max_image_pixels)") from e
    except UnidentifiedImageError as e:
        raise MediaUnreadable(what, f"not a readable image ({FORMATS_SAID})") from e
    except Exception as e:  # a malformed header: struct.error, SyntaxError, EOFError, ValueError, OSError...
        raise MediaUnreadable(what, f"not a readable image ({FORMATS_SAID}): broken header "
                                    f"({_first_line(e)})") from e


def _check_size(w: int, h: int, what: str, max_pixels: int) -> None:
    if w <= 0 or h <= 0:
        raise MediaUnreadable(what, f"header claims an empty picture ({w}x{h})")
    if w > MAX_SIDE or h > MAX_SIDE or w * h > max_pixels:
        raise MediaTooLarge(what, f"header claims {w}x{h} pixels ({_mp(w * h)}), over the limit of "
                                  f"{_mp(max_pixels)} (media.max_image_pixels)")


def _webp_claim(src: Any) -> tuple[int, int] | None:
    """The canvas a WebP header claims, read here: Pillow's WebP open already sets up libwebp's decoder,
    which allocates the canvas, so the budget is checked before Pillow sees the file."""
    if isinstance(src, io.BytesIO):
        head = src.getbuffer()[:30].tobytes()
    else:
        with open(src, "rb") as f:
            head = f.read(30)
    if len(head) < 30 or head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return None
    kind = head[12:16]
    if kind == b"VP8X":
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    if kind == b"VP8 ":
        return int.from_bytes(head[26:28], "little") & 0x3FFF, int.from_bytes(head[28:30], "little") & 0x3FFF
    if kind == b"VP8L":
        v = int.from_bytes(head[21:25], "little")
        return (v & 0x3FFF) + 1, ((v >> 14) & 0x3FFF) + 1
    return None


def _open_checked(src: Any, what: str, max_pixels: int) -> Any:
    webp = _webp_claim(src)
    if webp is not None and webp[0] * webp[1] > max_pixels:
        _check_size(*webp, what, max_pixels)
    return _open(src, what, max_pixels)


def probe_image(src: bytes | Path | str, *, what: str = "image",
                max_pixels: int = DEFAULTS.max_image_pixels) -> ImageHeader:
    """Format and size from the header alone (nothing decoded); the same refusals as read_image."""
    im = _open_checked(_source(src, what), what, max_pixels)
    with im:
        w, h = im.size
        _check_size(w, h, what, max_pixels)
        return ImageHeader(str(im.format), w, h, im.mode)


def reduce_factor(w: int, h: int, fit: tuple[int, int] | None, cover: bool) -> int:
    """The largest integer factor that keeps a w x h picture at least as large as it will be drawn when
    scaled to fit inside (``cover=False``) or to cover (``cover=True``) the box ``fit``."""
    if fit is None:
        return 1
    fw, fh = max(1, int(fit[0])), max(1, int(fit[1]))
    s = max(fw / w, fh / h) if cover else min(fw / w, fh / h)
    if s >= 1.0:
        return 1
    return max(1, int(1.0 / s + 1e-9))


# EXIF orientation -> the transpositions that show the picture upright (as cv2.imread did).
_ORIENT = {2: ("FLIP_LEFT_RIGHT",), 3: ("ROTATE_180",), 4: ("FLIP_TOP_BOTTOM",), 5: ("TRANSPOSE",),
           6: ("ROTATE_270",), 7: ("TRANSVERSE",), 8: ("ROTATE_90",)}


def _orientation(im: Any) -> int:
    try:
        return int(im.getexif().get(0x0112, 1) or 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block: show the picture as stored
        return 1


def read_image(src: bytes | Path | str, *, what: str = "image", max_pixels: int = DEFAULTS.max_image_pixels,
               fit: tuple[int, int] | None = None, cover: bool = False,
               background: tuple[int, int, int] | None = None) -> np.ndarray:
    """An image file or its bytes -> RGB uint8 (H, W, 3), decoded within the pixel budget.

    ``fit`` (width, height): the box the caller will scale the picture into (``cover``: to fill it); the
    picture is decoded reduced by the largest integer factor that keeps it at least that large, so a big
    photo never costs its full size when a screen or a 256-pixel model input is all that is needed.
    Raises MediaTooLarge (header over ``max_pixels``) or MediaUnreadable (anything else wrong).
    Animated images give their first frame; EXIF orientation is applied; alpha is dropped, or with
    ``background`` (RGB) the picture is composited over that colour (a transparent PNG's hidden pixels stay hidden).
    """
    import numpy as np
    from PIL import Image

    im = _open_checked(_source(src, what), what, max_pixels)
    try:
        w, h = im.size
        _check_size(w, h, what, max_pixels)
        fmt = im.format
        orient = _orientation(im)
        f = reduce_factor(w, h, fit, cover)
        try:
            if f > 1 and fmt in ("JPEG", "MPO"):
                # the decoder scales by 1/2, 1/4 or 1/8 itself, to no smaller than asked
                im.draft("RGB", (-(-w // f), -(-h // f)))
                f = reduce_factor(*im.size, fit, cover)
            im.load()
            out = _to_rgb_reduced(_over(im, background) if background is not None else im, f)
            if orient in _ORIENT:
                for op in _ORIENT[orient]:
                    out = out.transpose(getattr(Image.Transpose, op))
            arr = np.array(out, dtype=np.uint8)  # a copy: nothing refers to the file after this
        except MemoryError as e:
            raise MediaTooLarge(what, f"{w}x{h} {fmt}: out of memory while decoding") from e
        except BadMedia:
            raise
        except Exception as e:  # truncated or corrupt data: OSError, SyntaxError, ValueError, zlib.error...
            raise MediaUnreadable(what, f"{fmt} {w}x{h}: corrupt or truncated image data "
                                        f"({_first_line(e)})") from e
    finally:
        im.close()
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.size == 0:
        raise MediaUnreadable(what, f"decoded to an unexpected shape {arr.shape}")
    return np.ascontiguousarray(arr)


def _over(im: Any, background: tuple[int, int, int]) -> Any:
    """A loaded Pillow image with transparency -> RGB composited over ``background``; others as they are."""
    from PIL import Image

    if im.mode not in ("RGBA", "LA", "PA", "RGBa", "La") and "transparency" not in im.info:
        return im
    rgba = im.convert("RGBA")
    base = Image.new("RGBA", rgba.size, (*(int(c) for c in background), 255))
    return Image.alpha_composite(base, rgba).convert("RGB")


def _to_rgb_reduced(im: Any, f: int) -> Any:
    """A loaded Pillow image -> RGB, reduced by the factor f (box average)."""
    import numpy as np
    from PIL import Image

    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit (or 32-bit) grey: keep the high byte, as cv2.imread does
        a = np.asarray(im)
        shift = 8 if im.mode.startswith("I;16") else 24 if int(a.max(initial=0)) > 0xFFFF else 8
        im = Image.fromarray((a.astype(np.uint32) >> shift).clip(0, 255).astype(np.uint8), "L")
    if im.mode not in ("L", "RGB"):
        im = im.convert("RGB")
    if f > 1:  # area average (box filter) to 1/f of the size, edges and all
        w, h = im.size
        im = im.resize((max(1, round(w / f)), max(1, round(h / f))), Image.Resampling.BOX)
    if im.mode != "RGB":
        im = im.convert("RGB")
    return im


def _first_line(e: BaseException) -> str:
    s = f"{type(e).__name__}: {e}".strip()
    return s.splitlines()[0][:200] if s else type(e).__name__


# ---- video ---------------------------------------------------------------------------------------
def check_video(width: int, height: int, fps: float | None, duration: float | None, *, what: str = "video",
                limits: MediaSettings = DEFAULTS) -> None:
    """Refuse a video from what its header says (frame size, frame count), before any frame is decoded."""
    if width <= 0 or height <= 0:
        raise MediaUnreadable(what, f"header claims an empty frame ({width}x{height})")
    if width * height > limits.max_video_pixels:
        raise MediaTooLarge(what, f"frames of {width}x{height} pixels ({_mp(width * height)}), over the limit of "
                                  f"{_mp(limits.max_video_pixels)} (media.max_video_pixels)")
    if fps is not None and duration is not None and fps > 0 and duration > 0:
        n = fps * duration
        if n > limits.max_video_frames:
            raise MediaTooLarge(what, f"claims {n:.0f} frames ({duration:.0f} s at {fps:g} fps), over the limit "
                                      f"of {limits.max_video_frames} (media.max_video_frames)")


def ffmpeg_input_limits(limits: MediaSettings = DEFAULTS) -> list[str]:
    """ffmpeg input options that make its decoder refuse frames over the pixel budget itself (it probes,
    and so decodes, a few frames before it reports the size)."""
    return ["-max_pixels", str(limits.max_video_pixels)]


# ---- audio ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AudioHeader:
    samplerate: int
    channels: int
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / self.samplerate


MAX_CHANNELS = 64
MAX_SAMPLERATE = 768_000


def check_audio_header(samplerate: int, channels: int, frames: int, *, what: str = "sound",
                       limits: MediaSettings = DEFAULTS) -> AudioHeader:
    if samplerate <= 0 or samplerate > MAX_SAMPLERATE:
        raise MediaUnreadable(what, f"header claims a sample rate of {samplerate} Hz")
    if channels <= 0 or channels > MAX_CHANNELS:
        raise MediaUnreadable(what, f"header claims {channels} channels (1..{MAX_CHANNELS})")
    if frames < 0:
        raise MediaUnreadable(what, f"header claims {frames} samples")
    hdr = AudioHeader(samplerate, channels, frames)
    if hdr.seconds > limits.max_audio_seconds:
        raise MediaTooLarge(what, f"lasts {hdr.seconds:.0f} s, over the limit of {limits.max_audio_seconds:g} s "
                                  "(media.max_audio_seconds)")
    return hdr


def probe_audio(path: Path | str, *, what: str = "sound", limits: MediaSettings = DEFAULTS) -> AudioHeader:
    """Sample rate, channels and length from a sound file's header (soundfile.info; nothing decoded),
    refused over ``media.max_audio_seconds``."""
    import soundfile as sf

    p = Path(path)
    if not p.is_file():
        raise MediaUnreadable(what, f"file {p} is missing")
    try:
        info = sf.info(str(p))
    except Exception as e:  # LibsndfileError, RuntimeError, TypeError...
        raise MediaUnreadable(what, f"not a readable sound file ({_first_line(e)})") from e
    return check_audio_header(int(info.samplerate), int(info.channels), int(info.frames), what=what, limits=limits)
