"""The functional inner step of the onesidetriplet episodes: θ' = θ − α∇L_inner, second order."""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

from vaultlab.recipes.onesidetriplet import inner_step


def test_inner_step_matches_manual_sgd_on_a_linear_layer():
    torch.manual_seed(0)
    layer = nn.Linear(3, 1)
    x, y = torch.randn(5, 3), torch.randn(5)
    params = dict(layer.named_parameters())
    loss = ((functional_call(layer, params, (x,)).squeeze(1) - y) ** 2).mean()
    adapted = inner_step(params, loss, step_size=0.1)
    # manual gradient of mean((xw + b − y)²)
    residual = (x @ layer.weight.detach().T).squeeze(1) + layer.bias.detach() - y
    grad_w = (2 * residual[:, None] * x).mean(0, keepdim=True)
    grad_b = (2 * residual).mean(0, keepdim=True)
    torch.testing.assert_close(adapted["weight"], layer.weight.detach() - 0.1 * grad_w)
    torch.testing.assert_close(adapted["bias"], layer.bias.detach() - 0.1 * grad_b)
    assert layer.weight.grad is None  # the step does not touch .grad: the engine's backward does


def test_outer_gradient_includes_the_second_order_path():
    # scalar model w: L_in = (w·x1 − y1)², w' = w − α·dL_in/dw, L_out = (w'·x2 − y2)²
    w0, x1, y1, x2, y2, alpha = 0.7, 1.5, 0.2, -0.8, 1.1, 0.05
    w = torch.tensor(w0, requires_grad=True)
    inner = (w * x1 - y1) ** 2
    w_prime = inner_step({"w": w}, inner, alpha)["w"]
    outer = (w_prime * x2 - y2) ** 2
    (grad,) = torch.autograd.grad(outer, w)

    wp = w0 - alpha * 2 * (w0 * x1 - y1) * x1
    d_outer_d_wp = 2 * (wp * x2 - y2) * x2
    second_order = d_outer_d_wp * (1 - alpha * 2 * x1**2)  # dw'/dw = 1 − α·d²L_in/dw²
    first_order = d_outer_d_wp
    assert abs(float(w_prime.detach()) - wp) < 1e-6
    assert abs(float(grad) - second_order) < 1e-5
    assert abs(float(grad) - first_order) > 1e-2  # the Hessian term is really there


def test_first_order_variant_drops_the_hessian_term():
    w0, x1, y1, x2, y2, alpha = 0.7, 1.5, 0.2, -0.8, 1.1, 0.05
    w = torch.tensor(w0, requires_grad=True)
    w_prime = inner_step({"w": w}, (w * x1 - y1) ** 2, alpha, create_graph=False)["w"]
    (grad,) = torch.autograd.grad((w_prime * x2 - y2) ** 2, w)
    wp = w0 - alpha * 2 * (w0 * x1 - y1) * x1
    assert abs(float(grad) - 2 * (wp * x2 - y2) * x2) < 1e-5  # dw'/dw = 1: first order only
