"""Bona fide rendering: a parametric 3-D head seen orthographically, shaded from its own normals.

Each subject's frontal head (albedo, height, silhouette coverage, parsing) is evaluated analytically
once, on a canonical grid at 1.5× the output resolution (region edges anti-aliased with a one-pixel
ramp on an approximate signed distance). Every frame then only resamples those maps through its pose
(``grid_sample``) and shades the result under its light, batched over all frames.

Geometry (canonical head units, image half-width = 1): an egg-shaped ellipsoid height map with a hair
volume on top, a Gaussian nose bump and two eye sockets. Yaw and pitch rotate the height field
orthographically (the nose, standing further out, moves more: parallax); roll, scale and translation
are a similarity transform. Depth is the rotated height field; parsing is the region map.
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


# Canonical maps cover [-EXTENT, EXTENT]² head units at CANON_OVERSAMPLE × the output resolution.
EXTENT = 1.3
CANON_OVERSAMPLE = 1.5


def head_maps(sub: dict[str, Tensor], size: int) -> dict[str, Tensor]:
    """Each subject's frontal head in canonical coordinates (evaluated once per subject).

    Per subject: albedo (3), height (head units, 0 outside), coverage (anti-aliased silhouette) and
    specular weight, plus parsing, on an M×M grid over [-EXTENT, EXTENT]²; subjects are stacked
    vertically into one tall image so that every frame of every subject is resampled by a single
    ``grid_sample`` call without gathering per-frame copies of the maps.
    """
    M = int(round(size * CANON_OVERSAMPLE * EXTENT))
    g = ((torch.arange(M, dtype=torch.float32) + 0.5) * (2.0 / M) - 1.0) * EXTENT
    X, Y = g.view(1, 1, M), g.view(1, M, 1)
    px = M / (2.0 * EXTENT)  # canonical-map pixels per head unit

    a, b = _c(sub["head_a"]), _c(sub["head_b"])
    a_eff = a * (1.0 - _c(sub["jaw"]) * (Y / b).clamp(min=0.0))  # egg: narrower towards the jaw
    qh = (X / a_eff) ** 2 + (Y / b) ** 2
    h_head = a * torch.sqrt((1.0 - qh).clamp(min=0.0))
    ah, bh = a + 0.07, b + 0.06  # hair volume: a larger ellipsoid over the upper head
    qv = (X / ah) ** 2 + ((Y + 0.05) / bh) ** 2
    upper = (Y < 0.05 * b).float()
    h_vol = 0.92 * ah * torch.sqrt((1.0 - qv).clamp(min=0.0)) * upper
    height = torch.maximum(h_head, h_vol)
    sil = height > 0
    coverage = torch.maximum(_ramp((qh - 1.0) * 0.5 * a * px), _ramp((qv - 1.0) * 0.5 * ah * px) * upper)

    inside = h_head > 0
    aX = X.abs()
    eye_dx, eye_y = _c(sub["eye_dx"]), _c(sub["eye_y"])
    nose_len = _c(sub["nose_len"])
    nose = _c(sub["nose_amp"]) * torch.exp(-0.5 * ((X / 0.075) ** 2 + ((Y - 0.04) / nose_len) ** 2))
    socket = _c(sub["socket"]) * torch.exp(-0.5 * (((aX - eye_dx) / 0.1) ** 2 + ((Y - eye_y) / 0.07) ** 2))
    height = height + (nose - socket) * inside.float()

    def ellipse(u: Tensor, v: Tensor, rx, ry) -> tuple[Tensor, Tensor]:
        q = (u / rx) ** 2 + (v / ry) ** 2
        rmin = torch.minimum(torch.as_tensor(rx), torch.as_tensor(ry))
        return _ramp((q - 1.0) * 0.5 * rmin * px), q < 1.0

    hairline = _c(sub["hairline"]) + 0.35 * X * X
    d_hair = (Y - hairline) * px
    side = (aX - a * (1.0 - 0.16 * _c(sub["hair_side"]))) * px
    low = (Y < 0.15 * b)
    hair_soft = torch.maximum(_ramp(d_hair), _ramp(-side) * low.float())
    hair_soft = torch.where(inside, hair_soft, torch.ones_like(hair_soft))
    hair_hard = sil & ((~inside) | (d_hair < 0) | ((side > 0) & low))

    brow_soft, brow_hard = ellipse(aX - eye_dx, Y - _c(sub["brow_y"]) + 0.02 * (aX - eye_dx), 0.12, 0.028)
    eye_soft, eye_hard = ellipse(aX - eye_dx, Y - eye_y, 0.095, 0.042)
    iris_soft, _ = ellipse(aX - eye_dx, Y - eye_y, 0.04, 0.04)
    mouth_soft, mouth_hard = ellipse(X, Y - _c(sub["mouth_y"]), _c(sub["mouth_w"]), 0.045)
    nose_soft, nose_hard = ellipse(X, Y - 0.04, 0.07, nose_len * 1.15)

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
    gloss = (1.0 - hair_soft) * (1.0 - eye_soft)  # specular weight: skin only

    parsing = torch.zeros(height.shape, dtype=torch.uint8)
    parsing[sil] = SKIN
    feats = inside & ~hair_hard
    parsing[hair_hard] = HAIR
    parsing[feats & nose_hard] = NOSE
    parsing[feats & brow_hard] = BROWS
    parsing[feats & eye_hard] = EYES
    parsing[feats & mouth_hard] = MOUTH
    # one tall image per channel: subject i occupies rows [i*M, (i+1)*M) (see ``pose_heads``)
    n = height.shape[0]
    stack = torch.cat([alb, height.unsqueeze(1), coverage.unsqueeze(1), gloss.unsqueeze(1)], 1)
    return {
        "stack": stack.transpose(0, 1).reshape(1, 6, n * M, M).contiguous(),
        "parsing": parsing.reshape(1, 1, n * M, M).float(),
        "n": n, "M": M,
    }


def pose_heads(maps: dict[str, Tensor], idx: Tensor, sub: dict[str, Tensor], pose: dict[str, Tensor], light: dict[str, Tensor], bg: Tensor, size: int) -> dict[str, Tensor]:
    """Render posed, lit heads from the canonical ``maps`` (rows ``idx``) over backgrounds ``bg``.

    The head is rotated orthographically: an output pixel at canonical (x, y) after the similarity
    (translation, scale, roll) sees the surface point X with X·cos(yaw) + Z(X)·sin(yaw) = x (one
    fixed-point step, Z from the head ellipsoid), likewise for pitch, so features that stand out (the
    nose) move more than the outline: real parallax. Depth is z' = Z·cos·cos − X·sin(yaw) − Y·sin(pitch);
    normals come from its finite differences, shading is Lambertian plus a small specular lobe.
    ``sub`` holds per-image subject parameters; ``pose`` tx, ty, scale, roll, yaw, pitch [N];
    ``light`` dir [N,3], rgb [N,3], level [N], ambient [N]. Returns rgb [N,3,S,S] (linear),
    depth uint8 [N,S,S], parsing uint8 [N,S,S].
    """
    S = size
    F = torch.nn.functional
    g = (torch.arange(S, dtype=torch.float32) + 0.5) * (2.0 / S) - 1.0
    x, y = g.view(1, 1, S), g.view(1, S, 1)
    scale = _c(pose["scale"])
    dx, dy = x - _c(pose["tx"]), y - _c(pose["ty"])
    cr, sr = _c(torch.cos(pose["roll"])), _c(torch.sin(pose["roll"]))
    Xa = (dx * cr + dy * sr) / scale
    Ya = (dy * cr - dx * sr) / scale
    a, b = _c(sub["head_a"]), _c(sub["head_b"])
    Z = a * torch.sqrt((1.0 - (Xa / a) ** 2 - (Ya / b) ** 2).clamp_(min=0.0))
    sy, cy = _c(torch.sin(pose["yaw"])), _c(torch.cos(pose["yaw"]))
    sp, cp = _c(torch.sin(pose["pitch"])), _c(torch.cos(pose["pitch"]))
    X = (Xa - Z * sy) / cy
    Y = (Ya - Z * sp) / cp
    # address subject idx's block of the tall canonical image (blocks are background at their borders)
    n_sub, N = maps["n"], X.shape[0]
    gx_ = (X * (1.0 / EXTENT)).clamp_(-1.0, 1.0)
    gy_ = ((Y * (1.0 / EXTENT)).clamp_(-1.0, 1.0) + (2.0 * _c(idx.float()) + 1.0 - n_sub)) * (1.0 / n_sub)
    grid = torch.stack([gx_, gy_], -1).reshape(1, N * S, S, 2)
    smp = F.grid_sample(maps["stack"], grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    smp = smp.reshape(6, N, S, S).transpose(0, 1)
    parsing = F.grid_sample(maps["parsing"], grid, mode="nearest", padding_mode="zeros", align_corners=False)
    parsing = parsing.reshape(N, S, S).to(torch.uint8)
    alb, Hs, cov, gloss = smp[:, :3], smp[:, 3], smp[:, 4], smp[:, 5]

    zimg = (Hs * (cy * cp) - X * sy - Y * sp) * scale  # image units, towards the camera
    # normals by central differences (one pixel = 2/S image units)
    zp = F.pad(zimg.unsqueeze(1), (1, 1, 1, 1), mode="replicate").squeeze(1)
    k = S / 4.0
    gx = ((zp[:, 1:-1, 2:] - zp[:, 1:-1, :-2]) * k).clamp_(-6.0, 6.0)
    gy = ((zp[:, 2:, 1:-1] - zp[:, :-2, 1:-1]) * k).clamp_(-6.0, 6.0)
    inv = torch.rsqrt(gx * gx + gy * gy + 1.0)
    L = light["dir"]
    ndl = ((_c(L[:, 2]) - gx * _c(L[:, 0]) - gy * _c(L[:, 1])) * inv).clamp_(min=0.0)
    hv = L + torch.tensor([0.0, 0.0, 1.0])
    hv = hv / hv.norm(dim=1, keepdim=True)
    ndh = ((_c(hv[:, 2]) - gx * _c(hv[:, 0]) - gy * _c(hv[:, 1])) * inv).clamp_(min=0.0)

    lrgb = (light["rgb"] * light["level"].view(-1, 1)).view(-1, 3, 1, 1)
    shade = (ndl + light["ambient"].view(-1, 1, 1)).unsqueeze(1)
    spec = (0.12 * gloss * ndh.pow(24)).unsqueeze(1)
    face = (alb * shade + spec) * lrgb
    rgb = torch.lerp(bg, face, cov.unsqueeze(1))

    sil = parsing > 0
    big = torch.tensor(1e9)
    zmin = torch.where(sil, zimg, big).flatten(1).amin(1).view(-1, 1, 1)
    zmax = torch.where(sil, zimg, -big).flatten(1).amax(1).view(-1, 1, 1)
    rel = (zimg - zmin) / (zmax - zmin).clamp(min=1e-6)
    depth = torch.where(sil, 1.0 + 254.0 * rel.clamp(0.0, 1.0), torch.zeros_like(rel)).round_().to(torch.uint8)
    return {"rgb": rgb, "depth": depth, "parsing": parsing}


def backgrounds(kind: str, base_rgb: Tensor, n: int, size: int, gen: torch.Generator) -> Tensor:
    """Per-image scene backgrounds [n,3,S,S] of one domain's kind (linear RGB, before lighting)."""
    S = size
    g = (torch.arange(S, dtype=torch.float32) + 0.5) * (2.0 / S) - 1.0
    x, y = g.view(1, 1, 1, S), g.view(1, 1, S, 1)
    base = base_rgb.view(1, 3, 1, 1) * (1.0 + 0.08 * torch.randn(n, 3, 1, 1, generator=gen))
    if kind == "plain":
        return base * (1.0 + 0.06 * y) + torch.zeros(n, 1, S, S)
    if kind == "blotchy":
        from vaultlab.data.synthfas.attacks import lowfreq

        blobs = lowfreq(n, 4, S, gen)
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
