"""Magenta's Music-VAE (``music_vae/lstm_models.py``) in PyTorch, laid out so that published
checkpoints load exactly: one-hot inputs (no embedding), a bidirectional LSTM stack whose top layer's
final forward and backward h give mu (dense) and sigma (softplus dense), decoder LSTM stacks whose
(c, h) start from ``tanh(dense(z))``, inputs ``[previous one-hot output, z]`` (zeros at the start),
and an output projection. ``hierdec``: a conductor LSTM on zero inputs, started from z, gives one
embedding per bar; each bar's decoder takes it as its z and starts from the previous bar's last
output (HierarchicalLstmDecoder.sample), so bars are decoded one after another as magenta does.

LSTM weights are kept in torch's gate order (i, f, g, o) with TensorFlow's forget bias (+1.0)
already folded into ``b``; :mod:`generator.musicvae.magenta_import` converts TF's (i, j, f, o).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from gallery.errors import BadInput
from generator.musicvae.events import NUM_CLASSES, STEPS_PER_BAR

DEPTH = NUM_CLASSES  # OneHotMelodyConverter: no-event, note-off, pitches 21..108


@dataclass(frozen=True)
class MagentaConfig:
    name: str
    bars: int
    latent: int
    enc_sizes: tuple[int, ...]
    dec_sizes: tuple[int, ...]
    hierarchical: bool = False
    arch: str = field(default="magenta", init=False)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["enc_sizes"], d["dec_sizes"] = list(self.enc_sizes), list(self.dec_sizes)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> MagentaConfig:
        d = {k: v for k, v in d.items() if k != "arch"}
        return cls(name=str(d["name"]), bars=int(d["bars"]), latent=int(d["latent"]),
                   enc_sizes=tuple(int(x) for x in d["enc_sizes"]), dec_sizes=tuple(int(x) for x in d["dec_sizes"]),
                   hierarchical=bool(d.get("hierarchical", False)))


# magenta music_vae/configs.py (the published models' hparams)
PUBLISHED = {
    "cat-mel_2bar_big": MagentaConfig("cat-mel_2bar_big", 2, 512, (2048,), (2048, 2048, 2048)),
    "hierdec-mel_16bar": MagentaConfig("hierdec-mel_16bar", 16, 512, (2048, 2048), (1024, 1024), True),
}


def published_config(name: str) -> MagentaConfig:
    try:
        return PUBLISHED[name]
    except KeyError:
        raise BadInput(f"unknown Music-VAE config {name!r}; known: {', '.join(PUBLISHED)}") from None


class LSTMStack(nn.Module):
    """magenta's MultiRNNCell of LSTMBlockCells, one step at a time.

    Layer 0's input contribution is computed by the caller (a row gather for the one-hot part plus
    a per-sequence term for the constant z), the rest here: ``gates = in + h @ w_hh.T``.
    """

    def __init__(self, input_size: int, sizes: tuple[int, ...]) -> None:
        super().__init__()
        self.sizes = tuple(sizes)
        ins = [input_size, *sizes[:-1]]
        self.w_ih = nn.ParameterList([nn.Parameter(torch.zeros(4 * h, i)) for i, h in zip(ins, sizes, strict=True)])
        self.w_hh = nn.ParameterList([nn.Parameter(torch.zeros(4 * h, h)) for h in sizes])
        self.b = nn.ParameterList([nn.Parameter(torch.zeros(4 * h)) for h in sizes])

    @staticmethod
    def _cell(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        i, f, g, o = gates.chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return c, torch.sigmoid(o) * torch.tanh(c)

    def step(self, in0: torch.Tensor, state: list[tuple[torch.Tensor, torch.Tensor]]
             ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """``in0``: layer 0's input gates (without the recurrent term, with the bias)."""
        new = []
        x = None
        for k, (c, h) in enumerate(state):
            gates = in0 if k == 0 else torch.addmm(self.b[k], x, self.w_ih[k].t())
            gates = torch.addmm(gates, h, self.w_hh[k].t())
            c, x = self._cell(gates, c)
            new.append((c, x))
        return x, new


class InitialState(nn.Module):
    """``initial_cell_state_from_embedding``: tanh(dense(z)) split as (c0, h0, c1, h1, ...)."""

    def __init__(self, z: int, sizes: tuple[int, ...]) -> None:
        super().__init__()
        self.sizes = sizes
        self.dense = nn.Linear(z, 2 * sum(sizes))

    def forward(self, z: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        parts = torch.tanh(self.dense(z)).split([s for s in self.sizes for _ in (0, 1)], dim=1)
        return [(parts[2 * k], parts[2 * k + 1]) for k in range(len(self.sizes))]


class CoreDecoder(nn.Module):
    """CategoricalLstmDecoder: inputs [previous one-hot output, z]."""

    def __init__(self, z: int, sizes: tuple[int, ...]) -> None:
        super().__init__()
        self.init = InitialState(z, sizes)
        self.rnn = LSTMStack(DEPTH + z, sizes)
        self.out = nn.Linear(sizes[-1], DEPTH)

    def prepare(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list]:
        """(token table [DEPTH+1, 4H] (last row: the zero start), z term [B, 4H], initial state)."""
        w = self.rnn.w_ih[0]
        table = torch.cat([w[:, :DEPTH].t(), w.new_zeros(1, w.shape[0])], 0)
        zterm = torch.addmm(self.rnn.b[0], z, w[:, DEPTH:].t())
        return table, zterm, self.init(z)

    def run(self, z: torch.Tensor, steps: int, first: torch.Tensor, inputs: torch.Tensor | None = None,
            temperature: float = 0.0, generator: torch.Generator | None = None
            ) -> tuple[torch.Tensor, torch.Tensor]:
        """(tokens [B, steps], logits [B, steps, DEPTH]). ``first``: start tokens (DEPTH is the zero
        input); ``inputs`` [B, steps] instead: teacher forcing (each step's input token given)."""
        table, zterm, state = self.prepare(z)
        tok = first
        toks, logits = [], []
        for t in range(steps):
            if inputs is not None:
                tok = inputs[:, t]
            y, state = self.rnn.step(zterm + table[tok], state)
            lg = self.out(y)
            if temperature <= 0:
                nxt = lg.argmax(-1)
            else:
                nxt = torch.multinomial(F.softmax(lg / temperature, -1), 1, generator=generator)[:, 0]
            toks.append(nxt)
            logits.append(lg)
            tok = nxt
        return torch.stack(toks, 1), torch.stack(logits, 1)


class MagentaMusicVAE(nn.Module):
    def __init__(self, cfg: MagentaConfig) -> None:
        super().__init__()
        if len(set(cfg.enc_sizes)) != 1 or len(set(cfg.dec_sizes)) != 1:
            raise BadInput(f"{cfg.name}: layers of different sizes in one LSTM stack are not supported")
        self.cfg = cfg
        self.steps = cfg.bars * STEPS_PER_BAR
        h = cfg.enc_sizes[0]
        self.encoder = nn.LSTM(DEPTH, h, len(cfg.enc_sizes), batch_first=True, bidirectional=True)
        self.mu = nn.Linear(2 * h, cfg.latent)
        self.sigma = nn.Linear(2 * h, cfg.latent)
        if cfg.hierarchical:
            self.conductor_init = InitialState(cfg.latent, cfg.dec_sizes)
            self.conductor = LSTMStack(1, cfg.dec_sizes)
            self.decoder = CoreDecoder(cfg.dec_sizes[-1], cfg.dec_sizes)
        else:
            self.decoder = CoreDecoder(cfg.latent, cfg.dec_sizes)

    def encode_sigma(self, events: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Events [B, T] -> (mu, sigma), as magenta's encoder gives them."""
        if events.shape[1] != self.steps:
            raise ValueError(f"this model reads {self.cfg.bars}-bar melodies ({self.steps} steps), "
                             f"got {events.shape[1]} steps")
        _, (h, _) = self.encoder(F.one_hot(events.long(), DEPTH).float())
        last = torch.cat([h[-2], h[-1]], dim=-1)
        return self.mu(last), F.softplus(self.sigma(last))

    def encode(self, events: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar), the interface the jobs use."""
        mu, sigma = self.encode_sigma(events)
        return mu, 2.0 * torch.log(sigma.clamp_min(1e-12))

    def bar_contexts(self, z: torch.Tensor) -> torch.Tensor:
        """Conductor: one embedding per bar [B, bars, H] (inputs are zeros of width 1)."""
        state = self.conductor_init(z)
        in0 = self.conductor.b[0].expand(z.shape[0], -1)
        out = []
        for _ in range(self.cfg.bars):
            y, state = self.conductor.step(in0, state)
            out.append(y)
        return torch.stack(out, 1)

    @torch.no_grad()
    def run(self, z: torch.Tensor, teacher: torch.Tensor | None = None, temperature: float = 0.0,
            generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(tokens [B, T], logits [B, T, DEPTH]); ``teacher`` events give teacher-forced logits."""
        B = z.shape[0]
        start = torch.full((B,), DEPTH, dtype=torch.long, device=z.device)
        shifted = None if teacher is None else torch.cat([start[:, None], teacher[:, :-1].long()], 1)
        if not self.cfg.hierarchical:
            return self.decoder.run(z, self.steps, start, shifted, temperature, generator)
        ctx = self.bar_contexts(z)
        toks, logits = [], []
        first = start
        for i in range(self.cfg.bars):
            sl = slice(i * STEPS_PER_BAR, (i + 1) * STEPS_PER_BAR)
            t, lg = self.decoder.run(ctx[:, i], STEPS_PER_BAR, first, None if shifted is None else shifted[:, sl],
                                     temperature, generator)
            toks.append(t)
            logits.append(lg)
            first = t[:, -1]
        return torch.cat(toks, 1), torch.cat(logits, 1)

    @torch.no_grad()
    def decode(self, z: torch.Tensor, temperature: float = 0.0,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Free-running decode of z [B, latent] -> events [B, T]; temperature 0 is greedy."""
        return self.run(z, None, temperature, generator)[0]
