"""The capture camera of a domain: linear scene radiance in, 8-bit sRGB out.

Steps, all batched: white balance with exposure jitter → Gaussian optical blur → optional down-up
resample (a low-resolution sensor) → shot + read noise → sRGB gamma → JPEG-like compression (YCbCr,
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


def jpeg_like(rgb: Tensor, quality: Tensor) -> Tensor:
    """Block-DCT quantisation of gamma-encoded RGB [N,3,S,S] in [0,1] (S a multiple of 8)."""
    n, _, S, W = rgb.shape
    m = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
    ycc = torch.einsum("ij,njhw->nihw", m, rgb)
    ycc[:, 0] -= 0.5
    blocks = ycc.reshape(n, 3, S // 8, 8, W // 8, 8).transpose(3, 4)  # [n,3,by,bx,8,8]
    D = _dct8()
    coef = D @ blocks @ D.T
    q = _quality_tables(quality)
    coef = torch.round(coef / q) * q
    blocks = D.T @ coef @ D
    ycc = blocks.transpose(3, 4).reshape(n, 3, S, W)
    ycc[:, 0] += 0.5
    inv = torch.linalg.inv(m)
    return torch.einsum("ij,njhw->nihw", inv, ycc)


def _gauss_kernel(sigma: float) -> Tensor:
    r = max(1, int(math.ceil(2.5 * sigma)))
    x = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def blur(rgb: Tensor, sigma: float) -> Tensor:
    if sigma < 0.05:
        return rgb
    n, c, h, w = rgb.shape
    k = _gauss_kernel(sigma)
    r = (len(k) - 1) // 2
    x = rgb.reshape(n * c, 1, h, w)
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1))
    return x.reshape(n, c, h, w)


def capture(rgb: Tensor, cam: Camera, gen: torch.Generator) -> Tensor:
    """Linear RGB [N,3,S,S] → uint8 [N,S,S,3] through the domain's camera."""
    n, _, S, _ = rgb.shape
    gains = torch.tensor(cam.wb).view(1, 3, 1, 1) * (1.0 + 0.08 * torch.randn(n, 1, 1, 1, generator=gen))
    x = rgb * gains
    x = blur(x, cam.blur_sigma)
    if cam.downup > 1.01:
        small = max(8, int(round(S / cam.downup)))
        x = F.interpolate(x, size=(small, small), mode="bilinear", antialias=True, align_corners=False)
        x = F.interpolate(x, size=(S, S), mode="bilinear", align_corners=False)
    x = x.clamp_(min=0.0)
    sigma = torch.sqrt(cam.noise**2 + (0.6 * cam.noise) ** 2 * x)  # read + shot noise
    x = x + sigma * torch.randn(x.shape, generator=gen)
    x = x.clamp_(0.0, 1.0).pow_(1.0 / 2.2)
    pad = (-S) % 8
    if cam.jpeg_quality < 99.5:
        q = cam.jpeg_quality + 4.0 * torch.randn(n, generator=gen)
        if pad:
            x = jpeg_like(F.pad(x, (0, pad, 0, pad), mode="replicate"), q)[..., :S, :S]
        else:
            x = jpeg_like(x, q)
    return (x.clamp_(0.0, 1.0) * 255.0).round_().to(torch.uint8).permute(0, 2, 3, 1).contiguous()
