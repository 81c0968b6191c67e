"""Music-VAE (Roberts et al. 2018) in PyTorch: a bidirectional LSTM encoder, a Gaussian latent, and
either a flat LSTM decoder (2-bar) or a hierarchical one (a conductor LSTM gives one embedding per
bar; a bar decoder plays each bar from its embedding).

Each bar of the hierarchical decoder starts from a start token and its own conductor embedding, so
all bars of a batch decode side by side (16 sequential steps, not 256): this is what keeps a 16-bar
interpolation within the installation's live budget.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from generator.musicvae.events import NUM_CLASSES, STEPS_PER_BAR
from generator.musicvae.presets import ModelConfig

START = NUM_CLASSES  # the decoder's start token (an extra embedding row)


class Encoder(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.rnn = nn.LSTM(cfg.embed, cfg.enc_hidden, cfg.enc_layers, batch_first=True, bidirectional=True)
        self.to_mu = nn.Linear(2 * cfg.enc_hidden, cfg.latent)
        self.to_logvar = nn.Linear(2 * cfg.enc_hidden, cfg.latent)

    def forward(self, emb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, (h, _) = self.rnn(emb)
        last = torch.cat([h[-2], h[-1]], dim=-1)  # final forward and backward states of the top layer
        return self.to_mu(last), self.to_logvar(last).clamp(-12.0, 6.0)


class LSTMDecoder(nn.Module):
    """An autoregressive LSTM whose state starts from, and whose every input carries, a context."""

    def __init__(self, embed: int, context: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.layers, self.hidden = layers, hidden
        self.init = nn.Linear(context, 2 * layers * hidden)
        self.rnn = nn.LSTM(embed + context, hidden, layers, batch_first=True)
        self.out = nn.Linear(hidden, NUM_CLASSES)

    def initial_state(self, ctx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = torch.tanh(self.init(ctx)).view(ctx.shape[0], 2, self.layers, self.hidden).permute(1, 2, 0, 3)
        return s[0].contiguous(), s[1].contiguous()

    def forward(self, inp_emb: torch.Tensor, ctx: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits [B, T, C] for input embeddings [B, T, E] and context [B, D]."""
        x = torch.cat([inp_emb, ctx[:, None, :].expand(-1, inp_emb.shape[1], -1)], dim=-1)
        y, _ = self.rnn(x, self.initial_state(ctx))
        return self.out(y)

    def sample(self, embedding: nn.Embedding, ctx: torch.Tensor, steps: int, temperature: float,
               generator: torch.Generator | None) -> torch.Tensor:
        state = self.initial_state(ctx)
        tok = torch.full((ctx.shape[0],), START, dtype=torch.long, device=ctx.device)
        out = []
        for _ in range(steps):
            x = torch.cat([embedding(tok), ctx], dim=-1)[:, None, :]
            y, state = self.rnn(x, state)
            logits = self.out(y[:, 0])
            if temperature <= 0:
                tok = logits.argmax(-1)
            else:
                probs = F.softmax(logits / temperature, dim=-1)
                tok = torch.multinomial(probs, 1, generator=generator)[:, 0]
            out.append(tok)
        return torch.stack(out, dim=1)


class MusicVAE(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.steps = cfg.bars * STEPS_PER_BAR
        self.embedding = nn.Embedding(NUM_CLASSES + 1, cfg.embed)
        self.encoder = Encoder(cfg)
        if cfg.hierarchical:
            self.conductor_init = nn.Linear(cfg.latent, 2 * cfg.conductor_layers * cfg.conductor_hidden)
            self.conductor = nn.LSTM(1, cfg.conductor_hidden, cfg.conductor_layers, batch_first=True)
            self.decoder = LSTMDecoder(cfg.embed, cfg.conductor_hidden, cfg.dec_hidden, cfg.dec_layers)
        else:
            self.decoder = LSTMDecoder(cfg.embed, cfg.latent, cfg.dec_hidden, cfg.dec_layers)

    # ------------------------------------------------------------------ latent

    def encode(self, events: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Events [B, T] -> (mu, logvar) [B, latent]."""
        if events.shape[1] != self.steps:
            raise ValueError(f"this model reads {self.cfg.bars}-bar melodies ({self.steps} steps), "
                             f"got {events.shape[1]} steps")
        return self.encoder(self.embedding(events))

    def bar_contexts(self, z: torch.Tensor) -> torch.Tensor:
        """Hierarchical: z [B, latent] -> one conductor embedding per bar [B, bars, H]."""
        cfg = self.cfg
        s = torch.tanh(self.conductor_init(z)).view(z.shape[0], 2, cfg.conductor_layers, cfg.conductor_hidden)
        s = s.permute(1, 2, 0, 3)
        zeros = z.new_zeros(z.shape[0], cfg.bars, 1)
        y, _ = self.conductor(zeros, (s[0].contiguous(), s[1].contiguous()))
        return y

    # ------------------------------------------------------------------ decoding

    def _inputs(self, targets: torch.Tensor) -> torch.Tensor:
        """Decoder inputs: the targets shifted right behind a start token (per bar if hierarchical)."""
        if self.cfg.hierarchical:
            b = targets.view(targets.shape[0], self.cfg.bars, STEPS_PER_BAR)
            start = torch.full_like(b[:, :, :1], START)
            return torch.cat([start, b[:, :, :-1]], dim=2).view_as(targets)
        start = torch.full_like(targets[:, :1], START)
        return torch.cat([start, targets[:, :-1]], dim=1)

    def decode_teacher(self, z: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Logits [B, T, C] given z and the decoder's inputs [B, T] (see ``_inputs``)."""
        emb = self.embedding(inputs)
        if not self.cfg.hierarchical:
            return self.decoder(emb, z)
        B, U = z.shape[0], self.cfg.bars
        ctx = self.bar_contexts(z).reshape(B * U, -1)
        logits = self.decoder(emb.view(B * U, STEPS_PER_BAR, -1), ctx)
        return logits.view(B, U * STEPS_PER_BAR, NUM_CLASSES)

    def forward(self, events: torch.Tensor, ss_prob: float = 0.0, generator: torch.Generator | None = None,
                sample_z: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction logits, mu, logvar.

        Scheduled sampling (``ss_prob`` > 0) is done in two passes: a teacher-forced pass predicts
        every step, then each input is replaced by that prediction with probability ``ss_prob``.
        """
        mu, logvar = self.encode(events)
        if sample_z:
            eps = torch.randn(mu.shape, generator=generator, device=mu.device)
            z = mu + eps * torch.exp(0.5 * logvar)
        else:
            z = mu
        inputs = self._inputs(events)
        if ss_prob > 0:
            with torch.no_grad():
                pred = self.decode_teacher(z, inputs)
                pred = torch.multinomial(F.softmax(pred.reshape(-1, NUM_CLASSES), -1), 1,
                                         generator=generator).view_as(events)
            swap = torch.rand(events.shape, generator=generator, device=events.device) < ss_prob
            swap &= inputs != START
            inputs = torch.where(swap, self._inputs(pred), inputs)
        return self.decode_teacher(z, inputs), mu, logvar

    @torch.no_grad()
    def decode(self, z: torch.Tensor, temperature: float = 0.0,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Free-running decode of z [B, latent] -> events [B, T]; temperature 0 is greedy."""
        if not self.cfg.hierarchical:
            return self.decoder.sample(self.embedding, z, self.steps, temperature, generator)
        B, U = z.shape[0], self.cfg.bars
        ctx = self.bar_contexts(z).reshape(B * U, -1)
        ev = self.decoder.sample(self.embedding, ctx, STEPS_PER_BAR, temperature, generator)
        return ev.view(B, U * STEPS_PER_BAR)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) per example, in nats."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)


def loss_terms(model: MusicVAE, events: torch.Tensor, beta: float, free_bits: float, ss_prob: float = 0.0,
               generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    logits, mu, logvar = model(events, ss_prob=ss_prob, generator=generator)
    rec = F.cross_entropy(logits.reshape(-1, NUM_CLASSES), events.reshape(-1), reduction="none")
    rec = rec.view(events.shape).sum(1).mean()
    kl = kl_divergence(mu, logvar)
    kl_cost = torch.clamp(kl - free_bits, min=0.0).mean()
    acc = (logits.argmax(-1) == events).float().mean()
    return {"loss": rec + beta * kl_cost, "rec": rec, "kl": kl.mean(), "acc": acc}


def inverse_sigmoid(step: int, rate: float) -> float:
    """magenta's scheduled-sampling probability: 1 - rate / (rate + exp(step / rate))."""
    if rate <= 0:
        return 0.0
    x = min(step / rate, 50.0)
    return 1.0 - rate / (rate + math.exp(x))


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
