"""Capture domains of SynthFAS: light, background, camera and the domain's own printer and screen.

Values are given at the reference resolution of 64 px and at ``dom = 1``; ``camera_for`` applies the
config's ``dom`` (how far each camera departs from a neutral one: linearly for blur, noise, resample
and white balance, geometrically for JPEG quality, q = 100·(q₁/100)^dom, so it never degenerates)
and the image size (spatial sizes scale with it). The neutral camera is: no blur, no noise, JPEG quality 100, no resample, unit gains.
The per-domain values follow the measured prototype (reference/synthfas-prototype.md §3); the
default ``dom`` (1.6) was calibrated in benchmarks/calibrate_synthfas.py.
"""

from __future__ import annotations

from dataclasses import dataclass

REF_SIZE = 64


@dataclass(frozen=True)
class DomainSpec:
    name: str
    title: str
    # light: direction in image coordinates (x right, y down, z towards the camera), colour, levels
    light_dir: tuple[float, float, float]
    light_rgb: tuple[float, float, float]
    light_level: float
    ambient: float
    background: str  # "plain" | "blotchy" | "gradient" | "stripes"
    background_rgb: tuple[float, float, float]
    # camera at dom = 1, 64 px
    blur_sigma: float  # px
    noise: float  # read-noise sigma (shot noise scales with it)
    jpeg_quality: float  # 1..100
    downup: float  # 1 = none, else down-then-up factor
    wb: tuple[float, float, float]  # white-balance gain deviation from 1, per channel
    # instruments: exponents on the config's spread (0 = the centre value), paper/screen tint
    halftone_exp: float  # halftone frequency = centre * spread**exp
    halftone_angle: float  # degrees, base screen angle
    paper_rgb: tuple[float, float, float]
    pitch_exp: float  # screen sub-pixel pitch = centre * spread**exp
    screen_tint: tuple[float, float, float]
    # domain-specific artefact emphasis (prototype "spec 1"): which cue this domain's attacks lean on
    print_cue: str  # "halftone" | "gamut" | "paper" | ""
    replay_cue: str  # "moire" | "glare" | "cast" | "gamma"


DOMAINS: dict[str, DomainSpec] = {
    "D0": DomainSpec(
        name="D0", title="lab",
        light_dir=(0.0, -0.15, 1.0), light_rgb=(1.0, 1.0, 1.0), light_level=1.0, ambient=0.30,
        background="plain", background_rgb=(0.50, 0.50, 0.50),
        blur_sigma=0.30, noise=0.0077, jpeg_quality=92.3, downup=1.0, wb=(0.0, 0.0, 0.0),
        halftone_exp=0.30, halftone_angle=0.0, paper_rgb=(0.95, 0.95, 0.93),
        pitch_exp=-0.30, screen_tint=(1.00, 1.00, 1.04),
        print_cue="halftone", replay_cue="moire",
    ),
    "D1": DomainSpec(
        name="D1", title="webcam",
        light_dir=(0.35, -0.25, 1.0), light_rgb=(1.0, 0.85, 0.65), light_level=0.62, ambient=0.22,
        background="blotchy", background_rgb=(0.58, 0.45, 0.32),
        blur_sigma=1.0, noise=0.030, jpeg_quality=70.0, downup=1.0, wb=(0.054, 0.0, -0.10),
        halftone_exp=-0.85, halftone_angle=7.0, paper_rgb=(0.96, 0.93, 0.86),
        pitch_exp=0.85, screen_tint=(1.05, 1.00, 0.92),
        print_cue="gamut", replay_cue="glare",
    ),
    "D2": DomainSpec(
        name="D2", title="phone",
        light_dir=(-0.9, -0.1, 0.6), light_rgb=(0.82, 0.9, 1.0), light_level=1.05, ambient=0.18,
        background="gradient", background_rgb=(0.45, 0.50, 0.60),
        blur_sigma=0.5, noise=0.0154, jpeg_quality=35.4, downup=1.0, wb=(-0.046, 0.0, 0.10),
        halftone_exp=0.85, halftone_angle=-9.0, paper_rgb=(0.92, 0.94, 0.96),
        pitch_exp=-0.85, screen_tint=(0.93, 0.98, 1.08),
        print_cue="paper", replay_cue="cast",
    ),
    "D3": DomainSpec(
        name="D3", title="lowres",
        light_dir=(0.1, -0.9, 0.55), light_rgb=(0.85, 1.0, 0.8), light_level=0.8, ambient=0.25,
        background="stripes", background_rgb=(0.22, 0.26, 0.22),
        blur_sigma=0.4, noise=0.020, jpeg_quality=80.0, downup=2.0, wb=(0.0, 0.0, 0.0),
        halftone_exp=-0.30, halftone_angle=4.0, paper_rgb=(0.94, 0.95, 0.90),
        pitch_exp=0.30, screen_tint=(0.98, 1.05, 0.97),
        print_cue="", replay_cue="gamma",
    ),
}

# Instrument centres, in cycles (halftone) and screen pixels (pitch) per image width. The prototype
# measured 0.17–0.47 cycles/px and 1.9–5.6 px pitch at 128 px with spread 1.8.
HALFTONE_CENTRE = 36.0  # halftone cycles across the image width
PITCH_CENTRE = 3.25 / 128.0  # screen pixel pitch as a fraction of the image width
INSTRUMENT_JITTER = 0.15  # ±15 % within a domain


@dataclass(frozen=True)
class Camera:
    blur_sigma: float  # px at the output size
    noise: float
    jpeg_quality: float
    downup: float
    wb: tuple[float, float, float]


def camera_for(spec: DomainSpec, dom: float, image_size: int) -> Camera:
    """The domain's camera with its departure from neutral scaled by ``dom`` and sizes by the image size."""
    px = image_size / REF_SIZE
    return Camera(
        blur_sigma=dom * spec.blur_sigma * px,
        noise=dom * spec.noise,
        jpeg_quality=max(10.0, 100.0 * (spec.jpeg_quality / 100.0) ** dom),  # geometric: never degenerate
        downup=1.0 + dom * (spec.downup - 1.0),
        wb=tuple(1.0 + dom * g for g in spec.wb),  # type: ignore[arg-type]
    )
