"""Sound-only works on screen (issue 23): the frame cost of a melody's scrolling piano roll and of a
spectrogram with a playhead, against redrawing a still, on this machine's GL (llvmpipe without a GPU).

A sound view alone on screen is drawn straight into the frame (then the label pass); during a transition
it goes through its picture slot (then the picture pass mixes the two slots: "via slot" here, one slot);
a still's redraw is the picture pass alone. A melody of 180 s (720 notes) at 120 bpm and
a 1024x256 spectrogram; wall time per frame (after glFinish) and the process's CPU time per frame.

    nice -n 10 .venv/bin/python bench/soundview.py [--frames 120] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np


def melody_midi(path: Path, seconds: float = 180.0, tempo: float = 120.0) -> None:
    import pretty_midi

    rng = np.random.default_rng(0)
    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(4, 4, 0.0))
    inst = pretty_midi.Instrument(program=0)
    step, p = 60 / tempo / 2, 67
    for k in range(int(seconds / step)):
        p = int(np.clip(p + rng.integers(-3, 4), 55, 84))
        inst.notes.append(pretty_midi.Note(90, p, k * step, (k + 1) * step))
    pm.instruments.append(inst)
    pm.write(str(path))


def measure(W: int, H: int, frames: int, midi: Path) -> dict[str, tuple[float, float, float]]:
    from installation.render import Renderer, headless_context, offscreen_target
    from installation.soundview import Page, SoundViews, read_roll

    ctx = headless_context()
    fbo = offscreen_target(ctx, W, H)
    r = Renderer(ctx, W, H, "contain")
    views = SoundViews(r)
    x = np.linspace(0, 1, 1024)[None, :] * np.linspace(1, 0, 256)[:, None]
    spect = (np.stack([x, x ** 2, x ** 3], axis=-1) * 255).astype(np.uint8)
    still = np.zeros((H, W, 4), np.uint8)
    still[..., 0], still[..., 3] = 120, 255
    out = {}
    for name in ("still", "melody", "melody via slot", "spectrogram", "spectr. via slot"):
        if name == "still":
            r.upload(0, still, still=True)
        else:
            views.load(0, read_roll(midi, 180.0) if name.startswith("melody") else Page(spect, 180.0))
        wall, cpu = [], []
        for i in range(frames + 10):
            w0, c0 = time.perf_counter(), time.process_time()
            if name == "still":
                r.draw(fbo, a=0, b=None)
            elif "slot" in name:  # as in a transition: into the slot, then the picture pass
                views.draw(0, 10.0 + i / 30)
                r.draw(fbo, a=0, b=None)
            else:  # alone on screen: straight into the frame, the label pass over it
                views.draw(0, 10.0 + i / 30, fbo=fbo)
                r.draw(fbo, a=None, b=None, keep=True)
            ctx.finish()
            if i >= 10:
                wall.append(time.perf_counter() - w0)
                cpu.append(time.process_time() - c0)
        out[name] = (1000 * float(np.median(wall)), 1000 * float(np.percentile(wall, 99)), 1000 * float(np.mean(cpu)))
    views.release()
    r.release()
    fbo.release()
    ctx.release()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--quick", action="store_true", help="1080p only, 40 frames")
    a = ap.parse_args()
    frames = 40 if a.quick else a.frames
    sizes = [(1920, 1080)] if a.quick else [(1920, 1080), (3840, 2160)]
    with tempfile.TemporaryDirectory() as tmp:
        midi = Path(tmp) / "m.mid"
        melody_midi(midi)
        print(f"{'size':>10} {'view':>16} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms':>8} {'frames/s':>9}")
        for W, H in sizes:
            for name, (p50, p99, cpu) in measure(W, H, frames, midi).items():
                print(f"{W}x{H:<5} {name:>16} {p50:8.2f} {p99:8.2f} {cpu:8.2f} {1000 / p50:9.1f}")


if __name__ == "__main__":
    from gallery.machine import print_machine

    print_machine()  # the machine beside the tables: CPU, torch kernels, threads, load, GPU
    main()
