"""The sound corpus the project makes for Latent Timbre Synthesis (deterministic, cached under data_dir).

Two halves:
- melodies: parts of Bach chorales from music21's bundled corpus, written as General MIDI files (mido)
  with several instruments and rendered through fluidsynth and the FluidR3 GM soundfont (Debian
  packages ``fluidsynth`` and ``fluid-soundfont-gm``);
- textures synthesised here with numpy: drones (detuned harmonic stacks with slow beating), bells
  (inharmonic partials with exponential decays) and noise bands (band-passed noise, slowly swept).

``build_corpus(out_dir)`` writes WAV files (PCM16, 44.1 kHz, mono) and a ``manifest.json``; a second
call with the same arguments reuses them. ``read_audio`` loads wav/flac/ogg for training and says
which file was unreadable or silent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

SR = 44100
SOUNDFONT_PATHS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/soundfonts/FluidR3_GM.sf2")
# General MIDI programs (0-based): piano, vibraphone, church organ, nylon guitar, violin, cello,
# trumpet, clarinet, flute, choir aahs
INSTRUMENTS = {"piano": 0, "vibraphone": 11, "organ": 19, "guitar": 24, "violin": 40, "cello": 42,
               "trumpet": 56, "clarinet": 71, "flute": 73, "choir": 52}
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga")
VERSION = 1


@dataclass(frozen=True)
class CorpusSpec:
    n_chorales: int = 6
    instruments: tuple[str, ...] = ("piano", "vibraphone", "organ", "guitar", "violin", "cello",
                                    "trumpet", "clarinet", "flute", "choir")
    clip_seconds: float = 8.0
    n_textures: int = 12
    texture_seconds: float = 6.0
    seed: int = 0

    def key(self) -> str:
        return hashlib.sha256(json.dumps([VERSION, self.__dict__], sort_keys=True).encode()).hexdigest()[:12]


SMALL = CorpusSpec(n_chorales=2, instruments=("piano", "flute", "cello"), clip_seconds=3.0, n_textures=3,
                   texture_seconds=2.0)


def soundfont() -> Path | None:
    for p in SOUNDFONT_PATHS:
        if Path(p).is_file():
            return Path(p)
    return None


# ---------------------------------------------------------------- melodies through fluidsynth

def chorale_notes(index: int, voice: int = 0, max_seconds: float = 8.0, bpm: float = 96.0
                  ) -> list[tuple[int, float, float]]:
    """(midi pitch, start s, duration s) of one voice of the index-th Bach chorale in music21's corpus."""
    from music21 import corpus

    paths = sorted(corpus.getComposer("bach"), key=lambda p: str(p))
    score = corpus.parse(paths[index % len(paths)])
    parts = list(score.parts)
    part = parts[voice % len(parts)]
    spb = 60.0 / bpm
    notes = []
    for n in part.flatten().notes:
        start = float(n.offset) * spb
        if start >= max_seconds:
            break
        dur = max(0.05, float(n.quarterLength) * spb)
        for p in getattr(n, "pitches", [n.pitch]):
            notes.append((int(p.midi), start, min(dur, max_seconds - start)))
    return notes


def write_midi(notes: list[tuple[int, float, float]], program: int, path: Path, bpm: float = 96.0,
               velocity: int = 90) -> None:
    import mido

    tpb = 480
    mid = mido.MidiFile(ticks_per_beat=tpb)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    tr.append(mido.Message("program_change", program=program, channel=0, time=0))
    ticks = tpb * bpm / 60.0
    events = []
    for pitch, start, dur in notes:
        events.append((round(start * ticks), 1, pitch))
        events.append((round((start + dur) * ticks), 0, pitch))
    events.sort()
    now = 0
    for t, on, pitch in events:
        kind = "note_on" if on else "note_off"
        tr.append(mido.Message(kind, note=pitch, velocity=velocity if on else 0, channel=0, time=t - now))
        now = t
    mid.save(str(path))


def render_midi(midi: Path, wav: Path, sf2: Path) -> np.ndarray:
    """Render a MIDI file with fluidsynth; returns mono float32 at 44.1 kHz."""
    import soundfile as sf

    cmd = ["fluidsynth", "-ni", "-q", "-g", "0.8", "-r", str(SR), "-F", str(wav), "-T", "wav", str(sf2), str(midi)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if res.returncode != 0 or not wav.is_file():
        raise RuntimeError(f"fluidsynth failed on {midi}: {res.stderr.strip()[:300]}")
    data, sr = sf.read(str(wav), dtype="float32", always_2d=True)
    if sr != SR:
        raise RuntimeError(f"fluidsynth wrote {sr} Hz, expected {SR}")
    return data.mean(axis=1)


# ---------------------------------------------------------------- synthesised textures

def drone(seconds: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    f0 = 55.0 * 2 ** (rng.integers(0, 24) / 12)
    x = np.zeros_like(t)
    for h in range(1, 12):
        if f0 * h > 6000:
            break
        amp = 1.0 / h ** rng.uniform(0.8, 1.6)
        for detune in (-1, 1):
            f = f0 * h * (1 + detune * rng.uniform(0.5, 3.0) * 1e-3)
            x += amp * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    x *= 0.7 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t)
    return x


def bell(seconds: float, rng: np.random.Generator) -> np.ndarray:
    n = int(seconds * SR)
    t = np.arange(n) / SR
    x = np.zeros(n)
    strikes = np.sort(rng.uniform(0, seconds * 0.7, int(rng.integers(2, 5))))
    strikes[0] = 0.0
    for s in strikes:
        f0 = 220.0 * 2 ** (rng.integers(0, 24) / 12)
        i0 = int(s * SR)
        tt = t[: n - i0]
        for ratio, amp, decay in ((0.5, 0.6, 1.2), (1.0, 1.0, 2.0), (1.19, 0.5, 2.5), (1.56, 0.4, 3.0),
                                  (2.0, 0.5, 3.5), (2.51, 0.3, 4.5), (3.01, 0.2, 6.0), (4.1, 0.15, 8.0)):
            f = f0 * ratio
            if f < 7000:
                x[i0:] += amp * np.exp(-decay * tt) * np.sin(2 * np.pi * f * tt + rng.uniform(0, 6.3))
    return x


def noise_band(seconds: float, rng: np.random.Generator) -> np.ndarray:
    n = int(seconds * SR)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    centre = 100 * 2 ** rng.uniform(0, 6)
    width = rng.uniform(0.1, 0.6)  # octaves
    shape = np.exp(-0.5 * (np.log2(np.maximum(f, 1) / centre) / width) ** 2)
    x = np.fft.irfft(spec * shape, n)
    t = np.arange(n) / SR
    sweep = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t + rng.uniform(0, 6.3))
    return x * (0.3 + 0.7 * sweep)


TEXTURES = {"drone": drone, "bell": bell, "noise": noise_band}


def harmonic_test_audio(n: int, sr: int = 44100, seed: int = 0, note_s: float = 0.25) -> np.ndarray:
    """Test audio of n samples: notes with eight harmonics, a new pitch every note_s seconds.

    The harmonic signal the phase-recovery tests and bench/lts.py measure on (deterministic by seed).
    """
    rng = np.random.default_rng(seed)
    x = np.zeros(n)
    seg = int(note_s * sr)
    for s in range(0, n, seg):
        f0 = 110 * 2 ** (rng.integers(0, 24) / 12)
        tt = np.arange(min(seg, n - s)) / sr
        env = np.minimum(1, tt / 0.01) * np.exp(-tt * 2)
        for h in range(1, 9):
            if f0 * h < 7000:
                x[s:s + len(tt)] += env * np.sin(2 * np.pi * f0 * h * tt + rng.uniform(0, 6)) / h
    return (x / np.abs(x).max() * 0.5).astype(np.float32)


def _finish(x: np.ndarray, fade_s: float = 0.02) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    n = min(len(x) // 2, int(fade_s * SR))
    if n > 0:
        ramp = np.linspace(0, 1, n)
        x[:n] *= ramp
        x[-n:] *= ramp[::-1]
    peak = np.abs(x).max()
    return (x / peak * 0.8 if peak > 0 else x).astype(np.float32)


# ---------------------------------------------------------------- the corpus

def build_corpus(out_dir: Path, spec: CorpusSpec = CorpusSpec(), require_fluidsynth: bool = False) -> list[Path]:
    """Write (or reuse) the corpus under out_dir/<spec key>/; returns the WAV paths in a fixed order."""
    import soundfile as sf

    root = Path(out_dir) / spec.key()
    manifest = root / "manifest.json"
    if manifest.is_file():
        files = [root / f for f in json.loads(manifest.read_text())["files"]]
        if all(f.is_file() for f in files):
            return files
    root.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    sf2 = soundfont()
    have_fs = sf2 is not None and shutil.which("fluidsynth") is not None
    if not have_fs:
        msg = ("fluidsynth or the FluidR3 GM soundfont is missing (Debian: fluidsynth fluid-soundfont-gm; "
               "see scripts/system-deps.sh)")
        if require_fluidsynth:
            from gallery.errors import GalleryError

            raise GalleryError(msg)
        log.warning("%s: the corpus gets synthesised textures only", msg)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            for c in range(spec.n_chorales):
                for i, name in enumerate(spec.instruments):
                    voice = (c + i) % 4
                    notes = chorale_notes(c, voice, spec.clip_seconds)
                    # transpose string-bass-like voices into the instrument's comfortable range
                    shift = 12 if name in ("flute", "violin", "vibraphone") and voice >= 2 else 0
                    notes = [(p + shift, s, d) for p, s, d in notes]
                    mid = Path(tmp) / f"c{c}_{name}.mid"
                    write_midi(notes, INSTRUMENTS[name], mid)
                    audio = render_midi(mid, Path(tmp) / f"c{c}_{name}.wav", sf2)
                    out = root / f"chorale{c:02d}-v{voice}-{name}.wav"
                    sf.write(str(out), _finish(audio[: int(spec.clip_seconds * SR)]), SR, subtype="PCM_16")
                    files.append(out)
    rng = np.random.default_rng(spec.seed)
    kinds = list(TEXTURES)
    for i in range(spec.n_textures):
        kind = kinds[i % len(kinds)]
        x = TEXTURES[kind](spec.texture_seconds, np.random.default_rng(rng.integers(2**31)))
        out = root / f"texture{i:02d}-{kind}.wav"
        sf.write(str(out), _finish(x), SR, subtype="PCM_16")
        files.append(out)
    manifest.write_text(json.dumps({"version": VERSION, "spec": spec.__dict__,
                                    "fluidsynth": have_fs, "files": [f.name for f in files]}, indent=1))
    return files


def list_audio(folder: Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        from gallery.errors import BadInput

        raise BadInput(f"audio folder {folder} does not exist or is not a folder")
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def read_audio(path: Path, sr: int = SR, silence_db: float = -60.0, limits: Any = None) -> np.ndarray:
    """Mono float32 at sr. Raises ValueError naming the file when it is unreadable, empty, silent, or its
    header says it lasts longer than ``media.max_audio_seconds`` (``limits``: a MediaSettings; checked
    before decoding)."""
    import soundfile as sf

    from gallery.media import DEFAULTS, MediaTooLarge, MediaUnreadable, probe_audio

    try:
        probe_audio(path, what=str(path), limits=limits or DEFAULTS)
    except MediaUnreadable as e:
        raise ValueError(f"{path}: unreadable audio ({e.reason})") from e
    except MediaTooLarge as e:
        raise ValueError(str(e)) from e
    try:
        data, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises several types for broken files
        raise ValueError(f"{path}: unreadable audio ({e})") from e
    if data.size == 0:
        raise ValueError(f"{path}: no samples")
    x = data.mean(axis=1)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{path}: contains NaN or infinite samples")
    if file_sr != sr:
        import librosa

        x = librosa.resample(x, orig_sr=file_sr, target_sr=sr).astype(np.float32)
    peak = float(np.abs(x).max())
    if peak <= 10 ** (silence_db / 20):
        raise ValueError(f"{path}: silent (peak {20 * np.log10(max(peak, 1e-12)):.0f} dBFS)")
    return x
