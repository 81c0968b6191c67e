"""Content features of artworks (OpenCV / numpy): what search by feature range and the map use.

Images: brightness, colourfulness (Hasler & Suesstrunk), contrast, sharpness (variance of the
Laplacian), dominant colours (k-means), a 64-bit perceptual hash (DCT) and a colour-histogram
embedding. Sounds: loudness (RMS, dBFS) and spectral centroid (Hz).
"""

from __future__ import annotations

import io
import wave
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from gallery.errors import BadInput
from gallery.media import DEFAULTS as MEDIA_DEFAULTS
from gallery.media import MediaSettings, check_audio_header, read_image

# Scalar features a search can take a range of, with a line a person understands.
SCALARS: dict[str, str] = {
    "brightness": "mean luminance, 0 (black) to 1 (white)",
    "colourfulness": "Hasler-Suesstrunk colourfulness, 0 (grey) upwards (about 1 is vivid)",
    "contrast": "standard deviation of luminance, 0 to 0.5",
    "sharpness": "variance of the Laplacian of luminance (higher is crisper), log10 scale",
    "loudness": "RMS level in dBFS (0 is full scale, -60 near silence)",
    "spectral_centroid": "spectral centroid in Hz (higher is brighter sound)",
}
VISUAL_ROLES = ("image", "poster", "thumbnail", "spectrogram", "pianoroll")
HIST_BINS = (8, 4, 4)  # hue x saturation x value


# Images are decoded reduced to no less than this on the short side: enough for the features (256 on the
# long side) and for CLIP (224 on the short side).
DECODE_SIDE = 512


def decode_image(data: bytes | Path, what: str = "image", max_pixels: int = MEDIA_DEFAULTS.max_image_pixels,
                 side: int | None = DECODE_SIDE) -> np.ndarray:
    """PNG/JPEG/WebP/... bytes or a file -> RGB uint8 HxWx3, through the one reader (gallery.media): refused
    over ``max_pixels`` from the header (MediaTooLarge), MediaUnreadable when it is not a readable image
    (both BadInput naming ``what``); decoded reduced to no less than ``side`` pixels on the short side."""
    return read_image(data, what=what, max_pixels=max_pixels, fit=(side, side) if side else None, cover=True)


def _small(rgb: np.ndarray, side: int = 256) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = side / max(h, w)
    if s < 1:
        rgb = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return rgb


def luminance(rgb: np.ndarray) -> np.ndarray:
    f = rgb.astype(np.float32) / 255.0
    return 0.2126 * f[..., 0] + 0.7152 * f[..., 1] + 0.0722 * f[..., 2]


def colourfulness(rgb: np.ndarray) -> float:
    f = rgb.astype(np.float32) / 255.0
    rg = f[..., 0] - f[..., 1]
    yb = 0.5 * (f[..., 0] + f[..., 1]) - f[..., 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def sharpness(rgb: np.ndarray) -> float:
    lum = luminance(rgb)
    return float(np.log10(1e-6 + cv2.Laplacian(lum, cv2.CV_32F).var() * 1e4))


def dominant_colours(rgb: np.ndarray, k: int = 3, seed: int = 0) -> np.ndarray:
    """k dominant colours (RGB 0..1) and their shares, largest first: a flat vector of k*4 floats."""
    px = _small(rgb, 64).reshape(-1, 3).astype(np.float32) / 255.0
    k = min(k, len(np.unique(px, axis=0)))
    cv2.setRNGSeed(seed)
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1e-3)
    _, labels, centres = cv2.kmeans(px, k, None, crit, 2, cv2.KMEANS_PP_CENTERS)
    share = np.bincount(labels.ravel(), minlength=k).astype(np.float32) / len(px)
    order = np.argsort(-share, kind="stable")
    out = np.zeros((3, 4), np.float32)
    out[:k, :3] = centres[order]
    out[:k, 3] = share[order]
    return out.ravel()


def phash(rgb: np.ndarray) -> np.ndarray:
    """64-bit perceptual hash: DCT of the 32x32 luminance, low 8x8 block above its median -> 64 bits (0/1)."""
    lum = cv2.resize(luminance(rgb), (32, 32), interpolation=cv2.INTER_AREA)
    block = cv2.dct(lum)[:8, :8].ravel()
    return (block > np.median(block[1:])).astype(np.float32)


def hamming(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.count_nonzero((np.asarray(a) > 0.5) != (np.asarray(b) > 0.5)))


def hist_embedding(rgb: np.ndarray) -> np.ndarray:
    """A colour-histogram embedding (HSV 8x4x4, square-rooted, L2-normalised): similarity without CLIP."""
    hsv = cv2.cvtColor(_small(rgb, 128), cv2.COLOR_RGB2HSV)
    h = cv2.calcHist([hsv], [0, 1, 2], None, list(HIST_BINS), [0, 180, 0, 256, 0, 256]).ravel()
    v = np.sqrt(h / max(h.sum(), 1.0)).astype(np.float32)
    return v / max(float(np.linalg.norm(v)), 1e-12)


def image_features(rgb: np.ndarray) -> dict[str, Any]:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise BadInput(f"image features need an RGB uint8 HxWx3 array, got {rgb.dtype} {rgb.shape}")
    small = _small(rgb)
    lum = luminance(small)
    return {
        "brightness": float(lum.mean()),
        "colourfulness": colourfulness(small),
        "contrast": float(lum.std()),
        "sharpness": sharpness(small),
        "dominant_colours": dominant_colours(small),
        "phash": phash(small),
        "hist": hist_embedding(small),
    }


def read_wav(data: bytes | Path, what: str = "audio", limits: MediaSettings = MEDIA_DEFAULTS) -> tuple[np.ndarray, int]:
    """A PCM WAV -> (mono float32 in -1..1, sample rate); BadInput when it is not one, MediaTooLarge when its
    header says it lasts longer than ``media.max_audio_seconds`` (nothing read past the header then)."""
    src = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else str(data)
    try:
        with wave.open(src) as w:
            sr, ch, width, n = w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()
            check_audio_header(sr, ch, n, what=what, limits=limits)
            frames = w.readframes(n)
    except (wave.Error, EOFError, OSError) as e:
        raise BadInput(f"{what}: not a readable PCM WAV file ({e})") from e
    frames = frames[: len(frames) // max(1, width * ch) * width * ch]  # a truncated file ends mid-sample
    if not frames:
        raise BadInput(f"{what}: WAV file holds no samples")
    if width == 2:
        x = np.frombuffer(frames, "<i2").astype(np.float32) / 32768.0
    elif width == 4:
        x = np.frombuffer(frames, "<i4").astype(np.float32) / 2147483648.0
    elif width == 1:
        x = (np.frombuffer(frames, np.uint8).astype(np.float32) - 128.0) / 128.0
    else:
        raise BadInput(f"{what}: unsupported WAV sample width {width * 8} bits")
    if ch > 1:
        x = x[: len(x) // ch * ch].reshape(-1, ch).mean(axis=1)
    return x, sr


def sound_features(x: np.ndarray, sr: int, frame: int = 2048) -> dict[str, float]:
    """Loudness (RMS dBFS over the whole sound) and the energy-weighted mean spectral centroid (Hz)."""
    if sr <= 0:
        raise BadInput(f"sample rate must be positive, got {sr}")
    x = np.asarray(x, np.float32).ravel()
    if x.size == 0:
        raise BadInput("sound has no samples")
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    n = max(1, len(x) // frame)
    frames = np.zeros((n, frame), np.float32)
    seg = x[: n * frame] if len(x) >= frame else np.pad(x, (0, frame - len(x)))
    frames[:] = seg.reshape(n, frame)
    mag = np.abs(np.fft.rfft(frames * np.hanning(frame).astype(np.float32), axis=1))
    freqs = np.fft.rfftfreq(frame, 1.0 / sr)
    energy = mag.sum(axis=1)
    centroids = (mag * freqs).sum(axis=1) / np.maximum(energy, 1e-12)
    centroid = float((centroids * energy).sum() / energy.sum()) if energy.sum() > 0 else 0.0
    return {"loudness": float(20 * np.log10(max(rms, 1e-10))), "spectral_centroid": centroid}
