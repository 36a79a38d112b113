import math

import pytest
import torch

from kdkit.synthesis import UncertaintyWeighting


def test_known_value_and_logs():
    rule = UncertaintyWeighting(['gt'], init_log_var=math.log(2))
    out = rule({'gt': torch.tensor(4.0), 'kd': torch.tensor(3.0)},
               {'gt': 1.0, 'kd': 0.5})
    # exp(-ln 2) * 4 + ln 2
    assert out['loss_gt'].item() == pytest.approx(2 + math.log(2))
    assert out['w_gt'].item() == pytest.approx(0.5)
    assert out['sigma_gt'].item() == pytest.approx(math.sqrt(2))
    # 'kd' is not learned: plain w * L
    assert out['loss_kd'].item() == pytest.approx(1.5)
    assert 'sigma_kd' not in out


def test_zero_init_is_the_weighted_sum():
    rule = UncertaintyWeighting(['gt', 'kd'])
    out = rule({'gt': torch.tensor(4.0), 'kd': torch.tensor(3.0)},
               {'gt': 2.0, 'kd': 1.0})
    assert out['loss_gt'].item() == pytest.approx(8.0)
    assert out['loss_kd'].item() == pytest.approx(3.0)


def grad_of_log_var(loss_value):
    rule = UncertaintyWeighting(['gt'])
    out = rule({'gt': torch.tensor(loss_value)}, {'gt': 1.0})
    out['loss_gt'].backward()
    return rule.log_vars['gt'].grad.item()


def test_gradient_direction_on_log_var():
    # d/ds (e^-s L + s) = 1 - e^-s L at s = 0
    assert grad_of_log_var(4.0) == pytest.approx(-3.0)  # large L: s grows
    assert grad_of_log_var(0.25) == pytest.approx(0.75)  # small L: s shrinks


def test_log_var_converges_to_log_loss():
    rule = UncertaintyWeighting(['gt'])
    opt = torch.optim.SGD(rule.parameters(), lr=0.1)
    for _ in range(300):
        opt.zero_grad()
        rule({'gt': torch.tensor(4.0)}, {'gt': 1.0})['loss_gt'].backward()
        opt.step()
    assert rule.log_vars['gt'].item() == pytest.approx(math.log(4.0), abs=1e-3)


def test_parameters_and_validation():
    rule = UncertaintyWeighting(['gt', 'kd'])
    assert {n for n, _ in rule.named_parameters()} == {
        'log_vars.gt', 'log_vars.kd'}
    with pytest.raises(ValueError, match='terms'):
        UncertaintyWeighting([])
    with pytest.raises(ValueError, match='gt'):
        rule({'gt': torch.tensor(1.0)}, {'gt': -1.0})
