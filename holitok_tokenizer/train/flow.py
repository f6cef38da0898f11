"""The KL term of stages II/III: a VITS-style normalizing flow on the posterior sample.

Posterior q(z|x) = N(mean, exp(log_std)^2) per frame and dim; z is the reparameterised sample the
decoder reads. A small invertible flow f (affine couplings over channels) maps z to f(z), and
the prior is N(f(z); 0, I) |det df/dz|, i.e. the learned density p(z) = N(f(z)) |det J_f(z)|.
The single-sample KL estimate per frame is

    KL = log q(z|x) - log N(f(z); 0, I) - log |det df/dz|          (summed over the D dims)

averaged over valid frames. Why a flow: as in VITS (Kim et al. 2021, eq. 5-7) it lets the prior be
more expressive than N(0, I), so the strong KL of stage III (beta = 7) regularises the latent
towards a simple *learned* density instead of forcing it onto an isotropic Gaussian (which would
erase the detail the decoder needs). The official runtime's config has `use_flow` /
`flow_hidden_channels: 256` and its checkpoints carry `flow.*` training-only keys; the exact form
is unpublished, this is the natural reading. The flow is training-only: it is never exported.

Coupling layer: split channels in halves (a, b); h = conv stack(a) (kernel 5, hidden 256,
non-causal: training-only so lookahead is harmless); b' = b * exp(s(h)) + t(h); channel order is
reversed between layers so every channel gets transformed. The last conv is zero-initialised,
so a fresh flow is the identity (log det 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

@dataclass
class FlowConfig:
    hidden: int = 256
    layers: int = 4
    kernel: int = 5
    conv_layers: int = 2  # convs per coupling network


class AffineCoupling(nn.Module):
    """[B, D, T] -> ([B, D, T], log_det [B, T]); mask [B, 1, T] zeroes padding."""

    def __init__(self, dim: int, cfg: FlowConfig) -> None:
        super().__init__()
        half = dim // 2
        self.half = half
        layers: list[nn.Module] = [nn.Conv1d(half, cfg.hidden, cfg.kernel, padding=cfg.kernel // 2), nn.GELU()]
        for _ in range(cfg.conv_layers - 1):
            layers += [nn.Conv1d(cfg.hidden, cfg.hidden, cfg.kernel, padding=cfg.kernel // 2), nn.GELU()]
        self.net = nn.Sequential(*layers)
        self.out = nn.Conv1d(cfg.hidden, 2 * (dim - half), 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, z: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = z[:, : self.half], z[:, self.half :]
        log_scale, shift = self.out(self.net(a * mask) * mask).chunk(2, dim=1)  # 2 x [B, D - half, T]
        log_scale = torch.tanh(log_scale)  # bounded scales keep the flow well-conditioned
        b = (b * log_scale.exp() + shift) * mask
        return torch.cat([a, b], dim=1), (log_scale * mask).sum(dim=1)


class LatentFlow(nn.Module):
    """f: z [B, T, D] -> (f(z) [B, T, D], log|det df/dz| [B, T]) for each frame."""

    def __init__(self, dim: int, cfg: FlowConfig = FlowConfig()) -> None:
        super().__init__()
        self.couplings = nn.ModuleList(AffineCoupling(dim, cfg) for _ in range(cfg.layers))

    def forward(self, z: torch.Tensor, frame_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = frame_mask[:, None, :].to(z.dtype)  # [B, 1, T]
        x = z.transpose(1, 2) * mask  # [B, D, T]
        log_det = torch.zeros(z.shape[0], z.shape[1], dtype=z.dtype, device=z.device)
        for coupling in self.couplings:
            x, ld = coupling(x, mask)
            log_det = log_det + ld
            x = x.flip(1)  # reverse channel order between couplings (a permutation: log det 0)
        if len(self.couplings) % 2:
            x = x.flip(1)  # restore the channel order, so an untrained flow is exactly the identity
        return x.transpose(1, 2), log_det


def flow_kl(
    z: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor, flow: LatentFlow, frame_mask: torch.Tensor
) -> torch.Tensor:
    """Single-sample KL(q(z|x) || flow prior), summed over dims, averaged over valid frames.

    z, mean, log_std [B, T, D] (z = mean + eps * exp(log_std)); frame_mask [B, T] bool. Scalar.
    """
    z, mean, log_std = z.float(), mean.float(), log_std.float()
    eps = (z - mean) * torch.exp(-log_std)
    fz, log_det = flow(z, frame_mask)
    # log q - log N(f(z)) per element (the 0.5 log 2 pi terms cancel), then minus log det
    kl = (-log_std - 0.5 * eps**2 + 0.5 * fz.float() ** 2).sum(-1) - log_det.float()  # [B, T]
    mask = frame_mask.to(kl.dtype)
    return (kl * mask).sum() / mask.sum().clamp(min=1.0)
