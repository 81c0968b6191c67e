"""Training and evaluation of Music-VAE (reads top to bottom, like nanoGPT's train.py)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch

from generator.musicvae.events import NUM_CLASSES, mean_pitch, note_density
from generator.musicvae.model import MusicVAE, inverse_sigmoid, loss_terms
from generator.musicvae.presets import Preset

log = logging.getLogger(__name__)

# Attribute vectors: name -> a per-melody measure; the vector is mean z of the top quarter minus the
# bottom quarter (Roberts et al. 2018, section 5.3).
ATTRIBUTES: dict[str, Callable[[np.ndarray], float]] = {"density": note_density, "pitch": mean_pitch}


def transpose_batch(batch: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Shift each melody by a random -max_shift..max_shift+1 semitones that keeps it in range."""
    if max_shift <= 0:
        return batch
    on = batch >= 2
    lo = torch.where(on, batch, torch.full_like(batch, NUM_CLASSES)).min(1).values
    hi = torch.where(on, batch, torch.zeros_like(batch)).max(1).values
    lo_s = torch.clamp(2 - lo, min=-max_shift)
    hi_s = torch.clamp(NUM_CLASSES - 1 - hi, max=max_shift + 1)
    r = torch.rand(batch.shape[0], generator=generator)
    shift = lo_s + torch.floor(r * (hi_s - lo_s + 1).float()).long()
    return torch.where(on, batch + shift[:, None], batch)


def train_model(preset: Preset, train_w: np.ndarray, steps: int | None = None, seed: int = 0,
                heldout_w: np.ndarray | None = None, eval_every: int = 500,
                deadline: float | None = None, progress: Callable[[int, dict], None] | None = None
                ) -> tuple[MusicVAE, list[dict]]:
    """Train a fresh model of ``preset`` on windows [N, T]; returns the model and a loss history."""
    tc = preset.train if steps is None else replace(preset.train, steps=steps)
    if len(train_w) == 0:
        raise ValueError("no training windows")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = MusicVAE(preset.model)
    opt = torch.optim.Adam(model.parameters(), lr=tc.lr)
    data = torch.as_tensor(train_w, dtype=torch.long)
    history: list[dict] = []
    t0 = time.monotonic()
    model.train()
    for step in range(tc.steps):
        lr = tc.lr_min + 0.5 * (tc.lr - tc.lr_min) * (1 + math.cos(math.pi * step / max(tc.steps, 1)))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = torch.randint(0, len(data), (tc.batch,), generator=gen)
        batch = transpose_batch(data[idx], tc.transpose, gen)
        beta = tc.beta * min(1.0, step / max(tc.beta_warmup, 1))
        ss = min(tc.ss_max, inverse_sigmoid(step, tc.ss_rate))
        terms = loss_terms(model, batch, beta, tc.free_bits, ss_prob=ss, generator=gen)
        opt.zero_grad(set_to_none=True)
        terms["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        opt.step()
        if step % 50 == 0 or step == tc.steps - 1:
            rec = {k: float(v.detach()) for k, v in terms.items()} | {"step": step, "beta": beta, "ss": ss,
                                                             "seconds": time.monotonic() - t0}
            if heldout_w is not None and len(heldout_w) and (step % eval_every == 0 or step == tc.steps - 1):
                rec |= {f"heldout_{k}": v for k, v in evaluate(model, heldout_w[:256]).items()}
                model.train()
            history.append(rec)
            if progress:
                progress(step, rec)
        if deadline is not None and time.monotonic() > deadline:
            log.warning("training stopped at step %d: deadline reached", step)
            break
    model.eval()
    return model, history


@torch.no_grad()
def evaluate(model: MusicVAE, windows: np.ndarray, batch: int = 128) -> dict[str, float]:
    """Teacher-forced and sampled (greedy, free-running) reconstruction accuracy from z = mu."""
    model.eval()
    tf_hits = smp_hits = total = 0
    for i in range(0, len(windows), batch):
        x = torch.as_tensor(windows[i:i + batch], dtype=torch.long)
        logits, mu, _ = model(x, sample_z=False)
        tf_hits += int((logits.argmax(-1) == x).sum())
        smp_hits += int((model.decode(mu, temperature=0.0) == x).sum())
        total += x.numel()
    return {"tf_acc": tf_hits / max(total, 1), "sampled_acc": smp_hits / max(total, 1)}


@torch.no_grad()
def evaluate_wrong_z(model: MusicVAE, windows: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Accuracy when each melody is decoded from ANOTHER held-out melody's z (a derangement).

    What the decoder gets right without the melody's own code: the gap to :func:`evaluate` is what
    the latent carries.
    """
    if len(windows) < 2:
        return {"tf_acc": float("nan"), "sampled_acc": float("nan")}
    model.eval()
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(windows))
    other = np.roll(perm, 1)  # perm[i] is decoded from other[i] != perm[i]
    x = torch.as_tensor(windows[perm], dtype=torch.long)
    mu = torch.cat([model.encode(torch.as_tensor(windows[other[i:i + 256]], dtype=torch.long))[0]
                    for i in range(0, len(other), 256)])
    logits = torch.cat([model.decode_teacher(mu[i:i + 256], model._inputs(x[i:i + 256]))
                        for i in range(0, len(x), 256)])
    smp = model.decode(mu, temperature=0.0)
    return {"tf_acc": float((logits.argmax(-1) == x).float().mean()), "sampled_acc": float((smp == x).float().mean())}


def baselines(train_w: np.ndarray, heldout_w: np.ndarray) -> dict[str, dict[str, float]]:
    """Latent-free baselines on held-out windows [N, T] (accuracy per 16th-note step).

    ``tf_acc`` predicts each step from the true preceding steps (like teacher forcing); ``sampled_acc``
    writes the whole melody without looking at it (or from its first bar only), like free decoding.

    - no event: always predict 'no event' (hold the sounding note / stay silent).
    - previous event: repeat the previous true event ('no event' at the start).
    - previous bar: repeat the true event one bar (16 steps) earlier ('no event' in the first bar);
      free-running: the true first bar, played 16 times.
    - bigram + bar position: the most frequent next event in the TRAINING windows given the previous
      event and the step's position in the bar (an unconditional language model, no latent);
      free-running: its greedy continuation from the start.
    """
    from generator.musicvae.events import STEPS_PER_BAR as S

    h = np.asarray(heldout_w, dtype=np.int64)
    n, t = h.shape
    pos = np.arange(t) % S
    out: dict[str, dict[str, float]] = {}
    out["no event"] = {"tf_acc": float((h == 0).mean()), "sampled_acc": float((h == 0).mean())}
    prev = np.concatenate([np.zeros((n, 1), np.int64), h[:, :-1]], 1)
    out["previous event"] = {"tf_acc": float((prev == h).mean()), "sampled_acc": float((h == 0).mean())}
    bar = np.concatenate([np.zeros((n, S), np.int64), h[:, :-S]], 1)
    first = np.tile(h[:, :S], (1, t // S))
    out["previous bar"] = {"tf_acc": float((bar == h).mean()), "sampled_acc": float((first == h).mean())}
    tr = np.asarray(train_w, dtype=np.int64)
    start = NUM_CLASSES  # context 'start of melody'
    counts = np.zeros((NUM_CLASSES + 1, S, NUM_CLASSES), np.int64)
    tprev = np.concatenate([np.full((len(tr), 1), start), tr[:, :-1]], 1)
    np.add.at(counts, (tprev.ravel(), np.tile(pos, len(tr)), tr.ravel()), 1)
    table = counts.argmax(-1)  # [prev, pos] -> most frequent next event (0 where never seen)
    hprev = np.concatenate([np.full((n, 1), start), h[:, :-1]], 1)
    tf = table[hprev, pos[None, :]]
    free, e = [], start
    for k in range(t):
        e = int(table[e, k % S])
        free.append(e)
    out["bigram + bar position"] = {"tf_acc": float((tf == h).mean()),
                                    "sampled_acc": float((np.array(free)[None, :] == h).mean())}
    return out


@torch.no_grad()
def attribute_vectors(model: MusicVAE, windows: np.ndarray, limit: int = 4000, seed: int = 0
                      ) -> dict[str, torch.Tensor]:
    """Attribute vectors from training windows: mean z (top quartile) - mean z (bottom quartile)."""
    rng = np.random.default_rng(seed)
    w = windows if len(windows) <= limit else windows[rng.choice(len(windows), limit, replace=False)]
    mus = []
    for i in range(0, len(w), 256):
        mus.append(model.encode(torch.as_tensor(w[i:i + 256], dtype=torch.long))[0])
    mu = torch.cat(mus)
    out = {}
    for name, fn in ATTRIBUTES.items():
        vals = np.array([fn(x) for x in w])
        lo, hi = np.quantile(vals, [0.25, 0.75])
        top, bottom = vals >= hi, vals <= lo
        if top.sum() and bottom.sum() and hi > lo:
            out[name] = mu[torch.as_tensor(top)].mean(0) - mu[torch.as_tensor(bottom)].mean(0)
    return out


def training_data(settings, bars: int, midi: str | None = None, stride_bars: int = 1,
                  corpus: bool = True, sources: list[str] | None = None, play_repeats: bool = False
                  ) -> tuple[dict[str, np.ndarray], dict]:
    """Train / held-out windows (split by piece) from the cached corpus and, optionally, a MIDI folder.

    ``sources`` (default: the config's ``corpus_sources``) name the corpus parts; ``play_repeats``
    reads corpus pieces with their repeats played out. Returns the windows and a report: pieces
    used, and every skipped piece or file with its reason.
    """
    from pathlib import Path

    from generator.datasets.melodies import MelodySet, cached_corpus, midi_melodies, split_windows

    mv = settings.musicvae
    if midi and not Path(midi).is_dir():
        from gallery.errors import BadInput

        raise BadInput(f"--midi {midi}: not a folder")
    ms = MelodySet()
    if corpus:
        ms = cached_corpus(settings.path("datasets/melodies"), list(sources or mv.corpus_sources), mv.corpus_limit,
                           play_repeats)
    if midi:
        folder = Path(midi)
        user = midi_melodies(folder, min_bars=bars)
        ms.pieces += user.pieces
        ms.skipped += user.skipped
    data = split_windows(ms.pieces, bars, mv.heldout_percent, stride_bars=stride_bars)
    report = {"pieces": len(ms.pieces), "skipped": [(s.name, s.reason) for s in ms.skipped],
              "train_windows": len(data["train"]), "heldout_windows": len(data["heldout"])}
    return data, report


def train(preset_name: str, out, *, settings, midi: str | None = None,
          steps: int | None = None, seed: int = 0, corpus: bool = True, sources: list[str] | None = None,
          progress: Callable[[int, dict], None] | None = None, deadline: float | None = None) -> dict:
    """The whole of `gallery train musicvae`: data, training, held-out figures, attributes, checkpoint."""
    from gallery.errors import BadInput
    from generator.musicvae.checkpoints import save_checkpoint
    from generator.musicvae.presets import get_preset

    preset = get_preset(preset_name)
    sources = list(sources or settings.musicvae.corpus_sources)
    data, report = training_data(settings, preset.model.bars, midi, preset.train.stride_bars, corpus, sources,
                                 preset.train.play_repeats)
    if len(data["train"]) == 0:
        raise BadInput(f"no {preset.model.bars}-bar training windows: {len(report['skipped'])} pieces or files "
                       "were skipped (see the report)")
    t0 = time.monotonic()
    model, history = train_model(preset, data["train"], steps=steps, seed=seed, heldout_w=data["heldout"],
                                 progress=progress, deadline=deadline)
    seconds = time.monotonic() - t0
    figures = evaluate(model, data["heldout"]) if len(data["heldout"]) else {}
    attrs = attribute_vectors(model, data["train"], seed=seed)
    info = {"seed": seed, "steps": history[-1]["step"] + 1 if history else 0, "train_seconds": round(seconds, 1),
            "heldout": figures, "train_windows": report["train_windows"],
            "heldout_windows": report["heldout_windows"], "pieces": report["pieces"],
            "sources": sources if corpus else [], "play_repeats": preset.train.play_repeats, "midi": bool(midi),
            "final": {k: round(v, 4) for k, v in history[-1].items()} if history else {}}
    sha = save_checkpoint(out, model, preset.name, attrs, info)
    return {"checkpoint": str(out), "sha256": sha, **info, "skipped": report["skipped"]}
