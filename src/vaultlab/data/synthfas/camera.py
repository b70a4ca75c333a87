"""The capture camera of a domain: linear scene radiance in, 8-bit sRGB out.

Steps, all batched: white balance with exposure jitter → separable Gaussian optical blur → optional
down-up resample (a low-resolution sensor) → shot + read noise → gamma encoding (``encode_gamma``) → JPEG-like compression (YCbCr,
8×8 block DCT, IJG quality-scaled luma/chroma tables, rounding) → 8-bit quantisation.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

from vaultlab.data.synthfas.domains import Camera

_LUMA_Q = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
]
_CHROMA_Q = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99] + [99] * 32


@lru_cache(maxsize=1)
def _dct8() -> Tensor:
    k = torch.arange(8, dtype=torch.float64)
    m = torch.cos(math.pi * (2 * k.view(1, 8) + 1) * k.view(8, 1) / 16.0)
    m[0] /= math.sqrt(2.0)
    return (m * 0.5).float()  # orthonormal DCT-II


def _quality_tables(quality: Tensor) -> Tensor:
    """IJG scaling of the standard tables: [N, 3, 1, 1, 8, 8] (Y, Cb, Cr), in units of 1/255."""
    q = quality.clamp(1.0, 100.0)
    scale = torch.where(q < 50, 5000.0 / q, 200.0 - 2.0 * q)
    base = torch.tensor([_LUMA_Q, _CHROMA_Q, _CHROMA_Q], dtype=torch.float32).view(1, 3, 1, 1, 8, 8)
    t = ((base * scale.view(-1, 1, 1, 1, 1, 1) + 50.0) / 100.0).floor().clamp(min=1.0)
    return t / 255.0


@lru_cache(maxsize=1)
def _dct64() -> Tensor:
    """kron(D, D): the 2-D 8×8 DCT as one 64×64 matrix acting on flattened blocks."""
    D = _dct8()
    return torch.kron(D, D)


_RGB2YCC = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
_YCC2RGB = torch.linalg.inv(_RGB2YCC)


def jpeg_like(rgb: Tensor, quality: Tensor) -> Tensor:
    """Block-DCT quantisation of gamma-encoded RGB [N,3,S,W] in [0,1] (S, W multiples of 8)."""
    n, _, S, W = rgb.shape
    ycc = torch.einsum("ij,njhw->nihw", _RGB2YCC, rgb)
    ycc[:, 0] -= 0.5
    blocks = ycc.reshape(n, 3, S // 8, 8, W // 8, 8).transpose(3, 4).reshape(n, 3, -1, 64)
    K = _dct64()
    coef = blocks @ K.T
    q = _quality_tables(quality).view(-1, 3, 1, 64)
    coef = torch.round(coef / q) * q
    blocks = coef @ K
    ycc = blocks.reshape(n, 3, S // 8, W // 8, 8, 8).transpose(3, 4).reshape(n, 3, S, W)
    ycc[:, 0] += 0.5
    return torch.einsum("ij,njhw->nihw", _YCC2RGB, ycc)


def blur(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of [N,C,S,W] (reflect boundary) as a sum of shifted slices."""
    if sigma < 0.05:
        return x
    k = _gauss_kernel(sigma).tolist()
    r = (len(k) - 1) // 2
    r = min(r, x.shape[-1] - 1, x.shape[-2] - 1)
    k = k[(len(k) - 1) // 2 - r: (len(k) - 1) // 2 + r + 1]
    tot = sum(k)
    k = [w / tot for w in k]
    S, W = x.shape[-2], x.shape[-1]
    xp = F.pad(x, (r, r, 0, 0), mode="reflect")
    y = xp[..., r:r + W] * k[r]
    for i, w in enumerate(k):
        if i != r:
            y.add_(xp[..., i:i + W], alpha=w)
    yp = F.pad(y, (0, 0, r, r), mode="reflect")
    z = yp[..., r:r + S, :] * k[r]
    for i, w in enumerate(k):
        if i != r:
            z.add_(yp[..., i:i + S, :], alpha=w)
    return z


def _gauss_kernel(sigma: float) -> Tensor:
    r = max(1, int(math.ceil(2.5 * sigma)))
    x = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


class NoiseBank:
    """Unit Gaussian noise fields drawn once per generation run; each image takes a random field at
    a random offset and orientation (``take``), which is far cheaper than fresh ``randn`` per pixel."""

    def __init__(self, size: int, gen: torch.Generator, fields: int = 48, margin: int = 16) -> None:
        self.size, self.margin = size, margin
        self.bank = torch.randn(fields, 3, size + margin, size + margin, generator=gen)

    def take(self, n: int, channels: int, gen: torch.Generator) -> Tensor:
        S, m = self.size, self.margin
        idx = torch.randint(0, self.bank.shape[0], (n,), generator=gen).tolist()
        oy = torch.randint(0, m + 1, (n,), generator=gen).tolist()
        ox = torch.randint(0, m + 1, (n,), generator=gen).tolist()
        c0 = torch.randint(0, 4 - channels, (n,), generator=gen).tolist() if channels < 3 else [0] * n
        fl = torch.randint(0, 2, (n,), generator=gen).tolist()
        out = torch.empty(n, channels, S, S)
        for j in range(n):
            view = self.bank[idx[j], c0[j]:c0[j] + channels, oy[j]:oy[j] + S, ox[j]:ox[j] + S]
            out[j] = view.transpose(1, 2) if fl[j] else view
        return out


def encode_gamma(x: Tensor) -> Tensor:
    """Display gamma of about 1/2.2 as s·(1.13 − 0.13·s), s = √x: within 0.012 of x^(1/2.2) on [0, 1]
    and 3× cheaper than ``pow`` (it is the camera's tone curve; it need not be exactly sRGB)."""
    s = x.sqrt_()
    return s.mul_(s.mul(-0.13).add_(1.13))


def capture(rgb: Tensor, cam: Camera, gen: torch.Generator, noise: NoiseBank) -> Tensor:
    """Linear RGB [N,3,S,S] → uint8 [N,S,S,3] through the domain's camera."""
    n, _, S, _ = rgb.shape
    gains = torch.tensor(cam.wb).view(1, 3, 1, 1) * (1.0 + 0.08 * torch.randn(n, 1, 1, 1, generator=gen))
    x = blur(rgb * gains, cam.blur_sigma)
    if cam.downup > 1.01:
        small = max(4, int(round(S / cam.downup)))
        x = F.interpolate(x, size=(small, small), mode="bilinear", antialias=True, align_corners=False)
        x = F.interpolate(x, size=(S, S), mode="bilinear", align_corners=False)
    x = x.clamp_(min=0.0)
    sigma = torch.sqrt(cam.noise**2 + (0.6 * cam.noise) ** 2 * x)  # read + shot noise
    x = x.addcmul_(sigma, noise.take(n, 3, gen))
    x = encode_gamma(x.clamp_(0.0, 1.0))
    pad = (-S) % 8
    if cam.jpeg_quality < 99.5:
        q = (cam.jpeg_quality + 4.0 * torch.randn(n, generator=gen)).clamp(min=8.0)
        if pad:
            x = jpeg_like(F.pad(x, (0, pad, 0, pad), mode="replicate"), q)[..., :S, :S]
        else:
            x = jpeg_like(x, q)
    return (x.clamp_(0.0, 1.0) * 255.0).round_().to(torch.uint8).permute(0, 2, 3, 1).contiguous()
