"""A melody's media: MIDI (pretty_midi), a piano-roll PNG, and audio through fluidsynth (WAV PCM16)."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gallery.errors import BadInput, GalleryError
from generator.musicvae.events import STEPS_PER_BAR, STEPS_PER_QUARTER, events_to_notes

SAMPLE_RATE = 44100


def instrument_program(value: str | int) -> int:
    """A General MIDI program from its number (0-127) or its name ('Acoustic Grand Piano', 'flute')."""
    import pretty_midi

    if isinstance(value, int) or str(value).strip().isdigit():
        n = int(value)
        if not 0 <= n <= 127:
            raise BadInput(f"instrument {n}: General MIDI programs are 0..127")
        return n
    want = str(value).strip().lower()
    names = [pretty_midi.program_to_instrument_name(i) for i in range(128)]
    exact = [i for i, n in enumerate(names) if n.lower() == want]
    if exact:
        return exact[0]
    partial = [i for i, n in enumerate(names) if want in n.lower()]
    if len(partial) >= 1 and want:
        return partial[0]
    raise BadInput(f"instrument {value!r} is not a General MIDI instrument name (e.g. 'Acoustic Grand Piano', "
                   "'Flute', 'Violin') or number 0..127")


def step_seconds(tempo: float) -> float:
    return 60.0 / tempo / STEPS_PER_QUARTER


def events_to_midi(events: Sequence[int], path: Path, tempo: float, program: int, velocity: int = 90) -> float:
    """Write a one-track MIDI file; returns its duration in seconds (the melody's length)."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=float(tempo))
    pm.time_signature_changes.append(pretty_midi.TimeSignature(4, 4, 0.0))
    inst = pretty_midi.Instrument(program=program, name=pretty_midi.program_to_instrument_name(program))
    dt = step_seconds(tempo)
    for n in events_to_notes(events):
        inst.notes.append(pretty_midi.Note(velocity=velocity, pitch=n.pitch, start=n.start * dt, end=n.end * dt))
    pm.instruments.append(inst)
    path = Path(path)
    pm.write(str(path))
    return len(events) * dt


def render_audio(midi_path: Path, wav_path: Path, soundfont: str | Path, gain: float = 0.8,
                 timeout: float = 120.0) -> float:
    """Render MIDI through fluidsynth to WAV (PCM16, 44.1 kHz); returns the audio's duration."""
    import soundfile as sf

    exe = shutil.which("fluidsynth")
    if exe is None:
        raise GalleryError("fluidsynth is not installed (Debian package fluidsynth; see scripts/system-deps.sh)")
    sf2 = Path(soundfont)
    if not sf2.is_file():
        raise BadInput(f"musicvae.soundfont: {sf2} does not exist (Debian package fluid-soundfont-gm)")
    cmd = [exe, "-ni", "-q", "-g", str(gain), "-r", str(SAMPLE_RATE), "-O", "s16", "-T", "wav",
           "-F", str(wav_path), str(sf2), str(midi_path)]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise GalleryError(f"fluidsynth took longer than {timeout:.0f} s on {midi_path}") from None
    if res.returncode != 0 or not Path(wav_path).is_file():
        raise GalleryError(f"fluidsynth failed on {midi_path}: {res.stderr.strip() or res.returncode}")
    info = sf.info(str(wav_path))
    if info.subtype != "PCM_16" or info.samplerate != SAMPLE_RATE:  # normalise whatever this build wrote
        data, sr = sf.read(str(wav_path), dtype="int16")
        if sr != SAMPLE_RATE:
            raise GalleryError(f"fluidsynth wrote {sr} Hz instead of {SAMPLE_RATE}")
        sf.write(str(wav_path), data, SAMPLE_RATE, subtype="PCM_16")
        info = sf.info(str(wav_path))
    return float(info.duration)


PALETTE = [(236, 112, 99), (245, 176, 65), (88, 214, 141), (93, 173, 226), (175, 122, 197), (72, 201, 176)]


def pianoroll_png(rows: Sequence[Sequence[int]], width: int = 1024, semitone_px: int = 6,
                  labels: Sequence[str] | None = None) -> bytes:
    """Piano roll of one melody or several stacked (one row each, e.g. interpolation steps)."""
    from PIL import Image, ImageDraw

    rows = [np.asarray(r) for r in rows]
    pitches = [n.pitch for r in rows for n in events_to_notes(r)]
    lo, hi = (min(pitches), max(pitches)) if pitches else (60, 72)
    lo, hi = lo - 2, max(hi + 2, lo + 14)
    steps = max(len(r) for r in rows)
    px = max(1, width // steps)
    w = steps * px
    row_h = (hi - lo + 1) * semitone_px
    gap = 4
    img = Image.new("RGB", (w, len(rows) * (row_h + gap) - gap), (18, 18, 24))
    d = ImageDraw.Draw(img)
    for i, r in enumerate(rows):
        y0 = i * (row_h + gap)
        d.rectangle([0, y0, w - 1, y0 + row_h - 1], fill=(28, 28, 36))
        for p in range(lo, hi + 1):
            if p % 12 in (1, 3, 6, 8, 10):
                yy = y0 + (hi - p) * semitone_px
                d.rectangle([0, yy, w - 1, yy + semitone_px - 1], fill=(23, 23, 30))
        for t in range(0, steps + 1, STEPS_PER_QUARTER):
            col = (70, 70, 90) if t % STEPS_PER_BAR == 0 else (40, 40, 52)
            d.line([(t * px, y0), (t * px, y0 + row_h - 1)], fill=col)
        colour = PALETTE[i % len(PALETTE)]
        for n in events_to_notes(r):
            yy = y0 + (hi - n.pitch) * semitone_px
            d.rectangle([n.start * px + 1, yy, max(n.end * px - 2, n.start * px + 1), yy + semitone_px - 2],
                        fill=colour)
        if labels:
            d.text((4, y0 + 2), labels[i], fill=(220, 220, 220))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()

