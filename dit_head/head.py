"""DiTHead: the per-step flow-matching head that turns a backbone hidden state into a latent patch.

A loss module in the style of MAR's DiffLoss (Li et al. 2024): `forward` returns the training
loss (with `batch_mul` noise/time draws per target), `sample` integrates the learned ODE.

Flow convention (rectified flow / flow matching; Liu et al. 2023, Lipman et al. 2023):
    x_t = (1 - t) * noise + t * x1,   noise ~ N(0, I),   target velocity v = x1 - noise,
    t = 0 is pure noise, t = 1 is data; sampling integrates dx/dt = v(x, t) from 0 to 1.
Training times are logit-normal, t = sigmoid(N(time_mean, time_std^2)) (SD3, Esser et al. 2024).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from dit_head.blocks import DiTBlock, FinalLayer, TimestepEmbedder
from dit_head.config import DiTConfig
from dit_head.samplers import SOLVERS, cfg_combine


@dataclass
class FlowLoss:
    """Training output of DiTHead.forward."""

    loss: Tensor  # scalar, at least float32: mean squared velocity error over valid (draw, example, frame)
    per_example: Tensor  # [N], at least float32: mean over each target's valid frames and batch_mul draws


def _repeat(x: Tensor | None, times: int) -> Tensor | None:
    """Tile the batch dim: [N, ...] -> [times * N, ...]; row r * N + i is a copy of row i."""
    if x is None or times == 1:
        return x
    return x.repeat(times, *([1] * (x.dim() - 1)))


class DiTHead(nn.Module):
    """DiT over a window of K*P clean history frames + P noisy current frames, adaLN-Zero."""

    def __init__(self, cfg: DiTConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        w, d = cfg.width, cfg.latent_dim
        self.cond_mlp = nn.Sequential(nn.Linear(cfg.cond_dim, w), nn.SiLU(), nn.Linear(w, w))
        self.null_cond = nn.Parameter(torch.empty(w))  # replaces cond_mlp(cond) when dropped (CFG)
        self.t_embed = TimestepEmbedder(w)
        self.x_proj = nn.Linear(d, w)  # noisy current frames
        if cfg.history_patches > 0:
            self.h_proj = nn.Linear(d, w)  # clean history frames (separate projection)
            self.type_embed = nn.Parameter(torch.empty(2, w))  # row 0 = history, row 1 = current
        self.pos_embed = nn.Parameter(torch.empty(cfg.window, w))  # history positions first
        self.blocks = nn.ModuleList(DiTBlock(w, cfg.heads, cfg.ffn) for _ in range(cfg.depth))
        self.final = FinalLayer(w, d)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """DiT initialisation: Xavier linears, N(0, 0.02) embeddings, zero adaLN and output."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        for layer in (self.t_embed.mlp[0], self.t_embed.mlp[2]):
            nn.init.normal_(layer.weight, std=0.02)
        for param in (self.null_cond, self.pos_embed, getattr(self, "type_embed", None)):
            if param is not None:
                nn.init.normal_(param, std=0.02)
        for block in self.blocks:
            block.zero_init()
        self.final.zero_init()

    # ------------------------------------------------------------------ network
    def condition(self, t: Tensor, cond: Tensor, drop_cond: Tensor | None = None) -> Tensor:
        """c = (MLP(cond) or the learned null where drop_cond) + TimestepEmbedding(t).

        t [N] flow time; cond [N, C]; drop_cond [N] bool or None -> c [N, W].
        """
        h = self.cond_mlp(cond.to(self.null_cond.dtype))  # [N, W]
        if drop_cond is not None:
            h = torch.where(drop_cond[:, None], self.null_cond.to(h.dtype), h)  # [N, W]
        return h + self.t_embed(t)

    def _tokens(self, x_t: Tensor, history: Tensor | None, history_mask: Tensor | None,
                frame_mask: Tensor | None, frame_cond: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Embed the window (frame_cond [N, P, W] is added to the current frames). -> tokens [N, L, W]
        (L = P, or K*P + P with history) and the key validity [N, L] bool (None = every key valid)."""
        cfg, dtype = self.cfg, self.pos_embed.dtype
        n, p, d = x_t.shape
        if (p, d) != (cfg.patch_size, cfg.latent_dim):
            raise ValueError(f"x_t must be [N, {cfg.patch_size}, {cfg.latent_dim}], got {list(x_t.shape)}")
        kp = cfg.history_patches * cfg.patch_size
        x = self.x_proj(x_t.to(dtype))  # [N, P, W]
        if frame_cond is not None:
            x = x + frame_cond.to(x.dtype)  # [N, P, W]
        if frame_mask is not None:
            # An example with no valid frame keeps all its keys (its loss is masked out anyway)
            # so that no attention row is fully masked (which would give NaN).
            frame_mask = frame_mask | ~frame_mask.any(dim=-1, keepdim=True)  # [N, P]
        if history is None:
            if kp > 0:
                x = x + self.type_embed[1]
            return x + self.pos_embed[kp:], frame_mask  # [N, P, W]
        if kp == 0:
            raise ValueError("history was given but DiTConfig.history_patches is 0; pass history=None")
        if tuple(history.shape) != (n, kp, d):
            raise ValueError(f"history must be [N, K*P, D] = [{n}, {kp}, {d}], got {list(history.shape)}")
        if history_mask is None:
            history_mask = torch.ones(n, kp, dtype=torch.bool, device=history.device)  # [N, K*P]
        # Zero masked frames before projecting: whatever they hold (padding, NaN) cannot leak.
        history = torch.where(history_mask[..., None], history, torch.zeros_like(history))  # [N, K*P, D]
        h = self.h_proj(history.to(dtype)) + self.type_embed[0]  # [N, K*P, W]
        tokens = torch.cat([h, x + self.type_embed[1]], dim=1) + self.pos_embed  # [N, K*P + P, W]
        if frame_mask is None:
            frame_mask = torch.ones(n, p, dtype=torch.bool, device=history_mask.device)  # [N, P]
        return tokens, torch.cat([history_mask, frame_mask], dim=1)  # [N, K*P + P]

    def velocity(self, x_t: Tensor, t: Tensor, cond: Tensor, history: Tensor | None = None,
                 history_mask: Tensor | None = None, drop_cond: Tensor | None = None,
                 frame_mask: Tensor | None = None, frame_cond: Tensor | None = None) -> Tensor:
        """Predicted velocity of the current patch.

        x_t [N, P, D] noisy patch; t [N] flow time in [0, 1]; cond [N, C] backbone hidden state;
        history [N, K*P, D] clean latents of the previous K patches (oldest first) or None;
        history_mask [N, K*P] bool, True = valid (False before the utterance start);
        drop_cond [N] bool, True = use the learned null condition (CFG);
        frame_mask [N, P] bool, True = real frame: padded current frames are hidden from the
        others (training on a partial last patch; None = all real);
        frame_cond [N, P, W] or None: a per-frame condition added to the current frames' tokens
        (e.g. the text unit each frame speaks; zeroed where drop_cond, like `cond`) -> velocity [N, P, D].
        """
        c = self.condition(t, cond, drop_cond)  # [N, W]
        if frame_cond is not None:
            if tuple(frame_cond.shape) != (x_t.shape[0], self.cfg.patch_size, self.cfg.width):
                raise ValueError(f"frame_cond must be [N, P, W] = [{x_t.shape[0]}, {self.cfg.patch_size}, "
                                 f"{self.cfg.width}], got {list(frame_cond.shape)}")
            if drop_cond is not None:
                frame_cond = torch.where(drop_cond[:, None, None], torch.zeros_like(frame_cond), frame_cond)
        tokens, key_valid = self._tokens(x_t, history, history_mask, frame_mask, frame_cond)  # [N, L, W]
        key_mask = None if key_valid is None else key_valid[:, None, None, :]  # [N, 1, 1, L]
        for block in self.blocks:
            tokens = block(tokens, c, key_mask)
        return self.final(tokens[:, -self.cfg.patch_size:], c)  # [N, P, D]

    # ------------------------------------------------------------------ training
    def forward(self, target: Tensor, cond: Tensor, history: Tensor | None = None,
                history_mask: Tensor | None = None, frame_mask: Tensor | None = None,
                generator: torch.Generator | None = None, frame_cond: Tensor | None = None) -> FlowLoss:
        """Flow-matching loss. target [N, P, D] clean patch; cond [N, C]; history/history_mask as
        in `velocity`; frame_mask [N, P] bool (True = frame counts; the last patch of an utterance
        may be partial); frame_cond [N, P, W] as in `velocity`. Draws cfg.batch_mul (noise, t) pairs per target; condition dropout
        (prob cfg.cond_dropout, per target) only in training mode."""
        cfg = self.cfg
        n, b = target.shape[0], cfg.batch_mul
        dtype = torch.promote_types(target.dtype, torch.float32)
        noise = torch.randn((b * n, *target.shape[1:]), generator=generator, device=target.device, dtype=dtype)
        t = torch.randn(b * n, generator=generator, device=target.device, dtype=torch.float32)  # [B*N]
        t = torch.sigmoid(cfg.time_mean + cfg.time_std * t)
        drop = None
        if self.training and cfg.cond_dropout > 0:
            drop = torch.rand(n, generator=generator, device=target.device) < cfg.cond_dropout  # [N]
            drop = _repeat(drop, b)  # [B*N]
        return self.loss_with_draws(target, cond, noise, t, drop, history, history_mask, frame_mask, frame_cond)

    def loss_with_draws(self, target: Tensor, cond: Tensor, noise: Tensor, t: Tensor,
                        drop_cond: Tensor | None = None, history: Tensor | None = None,
                        history_mask: Tensor | None = None, frame_mask: Tensor | None = None,
                        frame_cond: Tensor | None = None) -> FlowLoss:
        """The deterministic part of `forward`, given explicit draws.

        target [N, P, D]; noise [B*N, P, D]; t [B*N]; drop_cond [B*N] bool or None; with B draws
        per target in tiled order: row r * N + i is draw r of target i.
        """
        n = target.shape[0]
        if noise.shape[0] % n or noise.shape[1:] != target.shape[1:] or t.shape != (noise.shape[0],):
            raise ValueError(f"noise must be [B*N, P, D] and t [B*N] for target {list(target.shape)}; "
                             f"got noise {list(noise.shape)}, t {list(t.shape)}")
        b = noise.shape[0] // n
        if frame_mask is None:
            frame_mask = torch.ones(target.shape[:2], dtype=torch.bool, device=target.device)  # [N, P]
        # Padded frames of a partial patch are zeroed so their content cannot reach the loss.
        x1 = torch.where(frame_mask[..., None], target, torch.zeros_like(target))  # [N, P, D]
        x1, mask = _repeat(x1, b), _repeat(frame_mask, b)  # [B*N, P, D], [B*N, P]
        tt = t.to(noise.dtype)[:, None, None]  # [B*N, 1, 1]
        x_t = (1 - tt) * noise + tt * x1  # [B*N, P, D]
        v = self.velocity(x_t, t, _repeat(cond, b), _repeat(history, b), _repeat(history_mask, b),
                          drop_cond, frame_mask=mask, frame_cond=_repeat(frame_cond, b))  # [B*N, P, D]
        dtype = torch.promote_types(v.dtype, torch.float32)  # the loss is at least fp32 (bf16 autocast)
        err = (v.to(dtype) - (x1 - noise).to(dtype)).pow(2).mean(dim=-1)  # [B*N, P]
        err = torch.where(mask, err, torch.zeros_like(err))
        loss = err.sum() / mask.sum().clamp(min=1)
        per_example = err.view(b, n, -1).sum(dim=(0, 2)) / mask.view(b, n, -1).sum(dim=(0, 2)).clamp(min=1)  # [N]
        return FlowLoss(loss=loss, per_example=per_example)

    # ------------------------------------------------------------------ generation
    @torch.no_grad()
    def sample(self, cond: Tensor, history: Tensor | None = None, history_mask: Tensor | None = None,
               steps: int = 10, cfg_scale: float = 1.0, solver: str = "euler", noise: Tensor | None = None,
               generator: torch.Generator | None = None, frame_cond: Tensor | None = None) -> Tensor:
        """Generate one patch per condition: cond [N, C] (+ history, frame_cond as in `velocity`) -> [N, P, D].

        Integrates from noise [N, P, D] (drawn from `generator` unless given) at t = 0 to data at
        t = 1 with `steps` steps of `solver` ("euler": 1 evaluation per step, "midpoint": 2).
        cfg_scale != 1 runs the conditional and null-conditioned halves as one doubled batch.
        """
        if solver not in SOLVERS:
            raise ValueError(f"unknown solver {solver!r}; choose one of {sorted(SOLVERS)}")
        cfg, n = self.cfg, cond.shape[0]
        shape = (n, cfg.patch_size, cfg.latent_dim)
        if noise is None:
            noise = torch.randn(shape, generator=generator, device=cond.device, dtype=torch.float32)
        elif tuple(noise.shape) != shape:
            raise ValueError(f"noise must be {list(shape)}, got {list(noise.shape)}")
        if cfg_scale == 1.0:
            def velocity_fn(x: Tensor, t: Tensor) -> Tensor:
                return self.velocity(x, t, cond, history, history_mask, frame_cond=frame_cond)
        else:
            cond2, hist2, hmask2 = _repeat(cond, 2), _repeat(history, 2), _repeat(history_mask, 2)
            fcond2 = _repeat(frame_cond, 2)
            drop = torch.arange(2 * n, device=cond.device) >= n  # [2N]: second half unconditional

            def velocity_fn(x: Tensor, t: Tensor) -> Tensor:
                v = self.velocity(_repeat(x, 2), _repeat(t, 2), cond2, hist2, hmask2, drop, frame_cond=fcond2)  # [2N, P, D]
                v_cond, v_uncond = v.chunk(2)  # 2 x [N, P, D]
                return cfg_combine(v_cond, v_uncond, cfg_scale)
        return SOLVERS[solver](velocity_fn, noise, steps)
