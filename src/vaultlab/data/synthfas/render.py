"""Bona fide rendering: a parametric 3-D head seen orthographically, shaded from its own normals.

Everything is evaluated analytically at the output resolution for a whole batch at once (one tensor
op per step over ``[N, S, S]``); region edges are anti-aliased with a one-pixel linear ramp on an
approximate signed distance, so no supersampling is needed for the face itself.

Geometry (canonical head units, image half-width = 1): an egg-shaped ellipsoid height map with a hair
volume on top, a Gaussian nose bump and two eye sockets. Yaw and pitch move the features over the
head (the nose, standing further out, moves more: parallax); roll, scale and translation are a
similarity transform. Depth is the exact height map; parsing is the region map.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

PARSING_CLASSES = ["background", "skin", "brows", "eyes", "nose", "mouth", "hair"]
BG, SKIN, BROWS, EYES, NOSE, MOUTH, HAIR = range(7)

SUBJECT_KEYS = (
    "head_a", "head_b", "jaw", "nose_amp", "nose_len", "eye_dx", "eye_y", "brow_y", "mouth_y",
    "mouth_w", "hairline", "hair_side", "socket",
)
SUBJECT_RGB_KEYS = ("skin_rgb", "hair_rgb", "iris_rgb", "lip_rgb")


def sample_subjects(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-subject identity parameters (shared by every domain, video and attack of that subject)."""
    u = lambda lo, hi: rng.uniform(lo, hi, n).astype(np.float32)  # noqa: E731
    p = {
        "head_a": u(0.50, 0.60), "head_b": u(0.68, 0.78), "jaw": u(0.05, 0.2),
        "nose_amp": u(0.14, 0.26), "nose_len": u(0.11, 0.17), "eye_dx": u(0.19, 0.25),
        "eye_y": u(-0.16, -0.08), "brow_y": u(-0.31, -0.24), "mouth_y": u(0.30, 0.38),
        "mouth_w": u(0.12, 0.19), "hairline": u(-0.62, -0.40), "hair_side": u(0.0, 1.0),
        "socket": u(0.03, 0.08),
    }
    tone = rng.uniform(0, 1, n)
    light, dark = np.array([0.93, 0.76, 0.66]), np.array([0.33, 0.21, 0.14])
    skin = light[None] * (1 - tone[:, None]) + dark[None] * tone[:, None]
    skin *= rng.uniform(0.94, 1.06, (n, 3))
    hair_level = rng.uniform(0.03, 0.55, n)[:, None]
    hair = hair_level * np.array([1.0, 0.8, 0.6])[None] * rng.uniform(0.85, 1.15, (n, 3))
    iris = rng.uniform(0.05, 0.45, n)[:, None] * np.array([0.8, 0.65, 0.5])[None] * rng.uniform(0.7, 1.3, (n, 3))
    lip = skin * np.array([1.0, 0.62, 0.62])[None] * rng.uniform(0.8, 1.0, (n, 1))
    p.update(skin_rgb=skin, hair_rgb=hair, iris_rgb=iris, lip_rgb=lip)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in p.items()}


def _c(v: Tensor) -> Tensor:
    return v.view(-1, 1, 1)


def _ramp(d: Tensor) -> Tensor:
    """Anti-aliased coverage from a signed distance in pixels (negative inside)."""
    return (0.5 - d).clamp_(0.0, 1.0)


def render_heads(sub: dict[str, Tensor], pose: dict[str, Tensor], light: dict[str, Tensor], bg: Tensor, size: int) -> dict[str, Tensor]:
    """Render N heads over backgrounds ``bg`` [N,3,S,S] (linear RGB).

    ``sub``: per-image subject parameters (``sample_subjects`` gathered by subject); ``pose``: tx, ty,
    scale, roll, yaw, pitch [N]; ``light``: dir [N,3] (unit, image coords), rgb [N,3], level [N], ambient [N].
    Returns rgb [N,3,S,S] float, depth uint8 [N,S,S], parsing uint8 [N,S,S], mask float [N,S,S].
    """
    S = size
    g = (torch.arange(S, dtype=torch.float32) + 0.5) * (2.0 / S) - 1.0
    x, y = g.view(1, 1, S), g.view(1, S, 1)
    scale = _c(pose["scale"])
    px = scale * (S / 2.0)  # pixels per canonical unit
    dx, dy = x - _c(pose["tx"]), y - _c(pose["ty"])
    cr, sr = _c(torch.cos(pose["roll"])), _c(torch.sin(pose["roll"]))
    X = (dx * cr + dy * sr) / scale
    Y = (dy * cr - dx * sr) / scale

    a, b = _c(sub["head_a"]), _c(sub["head_b"])
    # egg: narrower towards the jaw (Y grows downwards)
    a_eff = a * (1.0 - _c(sub["jaw"]) * (Y / b).clamp(min=0.0))
    qh = (X / a_eff) ** 2 + (Y / b) ** 2
    h_head = a * torch.sqrt((1.0 - qh).clamp_(min=0.0))
    # hair volume: a slightly larger ellipsoid on the upper part of the head
    ah, bh = a + 0.07, b + 0.06
    qv = (X / ah) ** 2 + ((Y + 0.05) / bh) ** 2
    upper = (Y < 0.05 * b).float()
    h_vol = 0.92 * ah * torch.sqrt((1.0 - qv).clamp_(min=0.0)) * upper
    height = torch.maximum(h_head, h_vol)
    sil = height > 0
    sil_soft = torch.maximum(_ramp((qh - 1.0) * 0.5 * a * px), _ramp((qv - 1.0) * 0.5 * ah * px) * upper)

    sy, sp = _c(torch.sin(pose["yaw"])), _c(torch.sin(pose["pitch"]))
    Xf = X - sy * 0.62 * a
    Yf = Y - sp * 0.45 * b
    Xn = Xf - sy * 0.18  # the nose stands out further: parallax
    aXf = Xf.abs()

    inside = h_head > 0
    hf = inside.float()
    nose_len = _c(sub["nose_len"])
    nose = _c(sub["nose_amp"]) * torch.exp(-0.5 * ((Xn / 0.075) ** 2 + ((Yf - 0.04) / nose_len) ** 2))
    socket = _c(sub["socket"]) * torch.exp(-0.5 * (((aXf - _c(sub["eye_dx"])) / 0.1) ** 2 + ((Yf - _c(sub["eye_y"])) / 0.07) ** 2))
    height = height + (nose - socket) * hf
    height = height * scale  # image units

    # normals by central differences (image units: one pixel = 2/S)
    hp = torch.nn.functional.pad(height.unsqueeze(1), (1, 1, 1, 1), mode="replicate").squeeze(1)
    k = S / 4.0
    gx = (hp[:, 1:-1, 2:] - hp[:, 1:-1, :-2]) * k
    gy = (hp[:, 2:, 1:-1] - hp[:, :-2, 1:-1]) * k
    gx.clamp_(-6.0, 6.0)
    gy.clamp_(-6.0, 6.0)
    inv = torch.rsqrt(gx * gx + gy * gy + 1.0)
    L = light["dir"]
    ndl = ((_c(L[:, 2]) - gx * _c(L[:, 0]) - gy * _c(L[:, 1])) * inv).clamp_(min=0.0)
    hv = L + torch.tensor([0.0, 0.0, 1.0])
    hv = hv / hv.norm(dim=1, keepdim=True)
    ndh = ((_c(hv[:, 2]) - gx * _c(hv[:, 0]) - gy * _c(hv[:, 1])) * inv).clamp_(min=0.0)

    # regions (soft for albedo, hard for parsing)
    def ellipse(u: Tensor, v: Tensor, rx: float | Tensor, ry: float | Tensor) -> tuple[Tensor, Tensor]:
        q = (u / rx) ** 2 + (v / ry) ** 2
        rmin = min(rx, ry) if isinstance(rx, float) and isinstance(ry, float) else torch.minimum(torch.as_tensor(rx), torch.as_tensor(ry))
        return _ramp((q - 1.0) * 0.5 * rmin * px), q < 1.0

    hairline = _c(sub["hairline"]) + 0.35 * X * X
    d_hair = (Y - hairline) * px
    side = (X.abs() - a * (1.0 - 0.16 * _c(sub["hair_side"]))) * px
    hair_soft = torch.maximum(_ramp(d_hair), _ramp(-side) * (Y < 0.15 * b).float())
    hair_soft = torch.where(inside, hair_soft, torch.ones_like(hair_soft))
    hair_hard = sil & ((~inside) | (d_hair < 0) | ((side > 0) & (Y < 0.15 * b)))

    brow_soft, brow_hard = ellipse(aXf - _c(sub["eye_dx"]), Yf - _c(sub["brow_y"]) + 0.02 * (aXf - _c(sub["eye_dx"])), 0.12, 0.028)
    eye_soft, eye_hard = ellipse(aXf - _c(sub["eye_dx"]), Yf - _c(sub["eye_y"]), 0.095, 0.042)
    iris_soft, _ = ellipse(aXf - _c(sub["eye_dx"]) - sy * 0.03, Yf - _c(sub["eye_y"]), 0.04, 0.04)
    mouth_soft, mouth_hard = ellipse(Xf, Yf - _c(sub["mouth_y"]), _c(sub["mouth_w"]), 0.045)
    nose_soft, nose_hard = ellipse(Xn, Yf - 0.04, 0.07, nose_len * 1.15)

    def rgb(key: str) -> Tensor:
        return sub[key].view(-1, 3, 1, 1)

    skin = rgb("skin_rgb")
    alb = skin * (1.0 + nose_soft.unsqueeze(1) * torch.tensor([0.04, -0.02, -0.03]).view(1, 3, 1, 1))
    alb = torch.lerp(alb, rgb("lip_rgb").expand_as(alb), mouth_soft.unsqueeze(1))
    sclera = torch.tensor([0.86, 0.84, 0.80]).view(1, 3, 1, 1)
    eye_col = torch.lerp(sclera.expand_as(alb), rgb("iris_rgb").expand_as(alb), iris_soft.unsqueeze(1))
    alb = torch.lerp(alb, eye_col, eye_soft.unsqueeze(1))
    alb = torch.lerp(alb, (rgb("hair_rgb") * 0.8).expand_as(alb), brow_soft.unsqueeze(1))
    alb = torch.lerp(alb, rgb("hair_rgb").expand_as(alb), hair_soft.unsqueeze(1))

    lrgb = light["rgb"].view(-1, 3, 1, 1) * light["level"].view(-1, 1, 1, 1)
    shade = light["ambient"].view(-1, 1, 1, 1) + ndl.unsqueeze(1)
    spec = (0.12 * (1.0 - hair_soft) * ndh.pow(24)).unsqueeze(1)
    face = (alb * shade + spec) * lrgb
    out = torch.lerp(bg, face, sil_soft.unsqueeze(1))

    parsing = torch.zeros(height.shape, dtype=torch.uint8)
    parsing[sil] = SKIN
    feats = inside & ~hair_hard
    parsing[hair_hard] = HAIR
    parsing[feats & nose_hard] = NOSE
    parsing[feats & brow_hard] = BROWS
    parsing[feats & eye_hard] = EYES
    parsing[feats & mouth_hard] = MOUTH

    hmax = height.flatten(1).amax(1).clamp(min=1e-6).view(-1, 1, 1)
    depth = torch.where(sil, 1.0 + 254.0 * height / hmax, torch.zeros_like(height)).round_().to(torch.uint8)
    return {"rgb": out, "depth": depth, "parsing": parsing, "mask": sil_soft}


def backgrounds(kind: str, base_rgb: Tensor, n: int, size: int, gen: torch.Generator) -> Tensor:
    """Per-image scene backgrounds [n,3,S,S] of one domain's kind (linear RGB, before lighting)."""
    S = size
    g = (torch.arange(S, dtype=torch.float32) + 0.5) * (2.0 / S) - 1.0
    x, y = g.view(1, 1, 1, S), g.view(1, 1, S, 1)
    base = base_rgb.view(1, 3, 1, 1) * (1.0 + 0.08 * torch.randn(n, 3, 1, 1, generator=gen))
    if kind == "plain":
        return base * (1.0 + 0.06 * y) + torch.zeros(n, 1, S, S)
    if kind == "blotchy":
        blobs = torch.randn(n, 1, 4, 4, generator=gen)
        blobs = torch.nn.functional.interpolate(blobs, size=(S, S), mode="bicubic", align_corners=False)
        return base * (1.0 + 0.28 * blobs)
    if kind == "gradient":
        th = torch.rand(n, 1, 1, 1, generator=gen) * (2 * math.pi)
        return base * (0.75 + 0.35 * (x * torch.cos(th) + y * torch.sin(th)))
    if kind == "stripes":
        th = (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 0.6
        freq = 2.0 + 2.5 * torch.rand(n, 1, 1, 1, generator=gen)
        ph = torch.rand(n, 1, 1, 1, generator=gen) * (2 * math.pi)
        s = torch.sin(math.pi * freq * (x * torch.cos(th) + y * torch.sin(th)) + ph)
        return base * (1.0 + 0.5 * (s * 4.0).clamp(-1.0, 1.0))
    raise ValueError(f"unknown background kind {kind!r}")
