"""kdkit doctor reports the stack and fails loudly when a check breaks."""
import kdkit.doctor as doctor


def test_all_green_on_this_stack(capsys):
    assert doctor.doctor() == 0
    out = capsys.readouterr().out
    for name in ('torch', 'torchvision', 'mmcv', 'mmengine', 'mmpose', 'mmcv ops',
                 'torchvision ops', 'cuda', 'threads'):
        assert f'] {name}' in out
    assert 'all green' in out


def test_broken_check_exits_nonzero(monkeypatch, capsys):
    def broken():
        raise ImportError('libfoo.so: cannot open shared object file')
    monkeypatch.setattr(doctor, 'CHECKS', doctor.CHECKS + (('fake', broken),))
    assert doctor.doctor() == 1
    out = capsys.readouterr().out
    assert '[FAIL] fake' in out and 'libfoo.so' in out
    assert out.strip().splitlines()[-1] == 'kdkit doctor: broken: fake (see the lines above)'
