import os.path as osp

from kdkit.cli import main


def _mobilenetv2():
    import mmpose
    return osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs',
                    'body_2d_keypoint', 'topdown_heatmap', 'coco',
                    'td-hm_mobilenetv2_8xb64-210e_coco-256x192.py')


def test_export_cli_bad_checkpoint_is_one_line_error(tmp_path, capsys):
    bad = tmp_path / 'bad.pth'
    bad.write_bytes(b'not a checkpoint')
    rc = main(['export', _mobilenetv2(), str(bad), '--onnx',
               str(tmp_path / 'm.onnx'), '--input-size', '64', '64'])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1
    assert len(err) == 1 and 'bad.pth' in err[0]
    assert not (tmp_path / 'm.onnx').exists()


def test_profile_cli_prints_a_table(tmp_path, capsys):
    rc = main(['profile', _mobilenetv2(), '--input-size', '64', '64',
               '--threads', '1', '--warmup', '1', '--iters', '2'])
    out = capsys.readouterr().out
    assert rc == 0
    assert 'GFLOPs' in out and 'torch-eager' in out
