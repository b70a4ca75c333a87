"""Central difference convolution against its definition, and the CDCN network's shapes."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vaultlab.nn.cdcn import CDCN, CDConv2d


def test_cdc_matches_its_definition():
    """y(p0) = Σ_n w(p_n)·x(p0+p_n) − θ·x(p0)·Σ_n w(p_n), written with unfold."""
    torch.manual_seed(0)
    conv = CDConv2d(3, 4, theta=0.7)
    x = torch.randn(2, 3, 6, 6)
    patches = F.unfold(x, 3, padding=1).view(2, 3, 9, 36)  # [B, C, 9 neighbours, pixels]
    centre = patches[:, :, 4:5]
    w = conv.weight.view(4, 3, 9)
    # the second term uses x(p0) for every neighbour n: Σ_n w(p_n)·x(p0)
    expected = torch.einsum("ocn,bcnp->bop", w, patches) - 0.7 * torch.einsum("ocn,bcnp->bop", w, centre.expand_as(patches))
    assert torch.allclose(conv(x), expected.view(2, 4, 6, 6), atol=1e-5)


def test_theta_zero_is_a_plain_convolution():
    torch.manual_seed(0)
    conv = CDConv2d(3, 4, theta=0.0)
    x = torch.randn(1, 3, 5, 5)
    assert torch.allclose(conv(x), F.conv2d(x, conv.weight, padding=1))


def test_cdcn_gives_depth_maps_of_the_requested_size():
    net = CDCN(width=0.125, depth_size=8).eval()
    with torch.no_grad():
        multi, embedding = net.encode(torch.randn(2, 3, 32, 32))
        depth = net.depth(multi)
    assert multi.shape == (2, net.map_channels, 8, 8) and embedding.shape == (2, net.out_features)
    assert depth.shape == (2, 1, 8, 8) and bool((depth >= 0).all())
