"""kdkit/distill/cli.py: the train wrapper's epoch override; the checkpoints
``kdkit test`` / ``load_from`` accept; pretrained downloads; imports."""
import ast
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from kdkit.distill.cli import load_config, set_max_epochs


def test_set_max_epochs_rescales_whole_run_schedules():
    cfg = Config(dict(
        train_cfg=dict(max_epochs=60),
        param_scheduler=[
            dict(type='LinearLR', begin=0, end=200, by_epoch=False),
            dict(type='CosineAnnealingLR', begin=0, end=60, T_max=60, by_epoch=True),
            dict(type='MultiStepLR', begin=0, end=40, milestones=[30], by_epoch=True)]))
    set_max_epochs(cfg, 8)
    assert cfg.train_cfg.max_epochs == 8
    warmup, cosine, step = cfg.param_scheduler
    assert (warmup.end, cosine.end, cosine.T_max) == (200, 8, 8)  # iterations: untouched
    assert step.end == 40  # did not span the run: left as the user wrote it


def test_set_max_epochs_on_a_real_config():
    cfg = load_config('configs/teacher/td-hm_res18_60e_kdkit-video-128x96.py')
    set_max_epochs(cfg, 16)
    cosine = cfg.param_scheduler[-1]
    assert (cfg.train_cfg.max_epochs, cosine.end, cosine.T_max) == (16, 16, 16)
    # the shipped teacher's own config says the same
    shipped = load_config('configs/teacher/td-hm_res18_16e_kdkit-video-128x96.py')
    assert shipped.param_scheduler[-1].T_max == 16
    assert shipped.train_dataloader.dataset.keep_unlabeled is False


# ------------------------------------------------ student weights, downloads
HM_STUDENT = 'configs/student/td-hm_mobilenetv2_quick_kdkit-video-128x96.py'
RTMPOSE_T = 'configs/student/rtmpose-t_quick_kdkit-video-128x96.py'


def data_options(data_root) -> list[str]:
    return [f'{split}_dataloader.dataset.data_root={data_root}/' for split in ('train', 'val', 'test')]


def test_kdkit_test_refuses_a_checkpoint_of_another_architecture(tiny_data, teacher_ckpt,
                                                                 tmp_path, capsys):
    """A ResNet-18 heatmap checkpoint into the RTMPose-t config: exit 2, one
    line, nothing evaluated (MMEngine alone would test a random RTMPose-t)."""
    from kdkit.cli import main
    work = tmp_path / 'work'
    code = main(['test', RTMPOSE_T, str(teacher_ckpt), '--work-dir', str(work),
                 '--cfg-options', *data_options(tiny_data)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f'kdkit test: error: load_from: {teacher_ckpt} does not fit the model '
                          'architecture: ')
    assert 'missing (e.g. backbone.' in err and 'unexpected (e.g. backbone.' in err
    assert not work.exists()


def test_load_from_of_another_architecture_stops_training(tiny_data, run_options, teacher_ckpt,
                                                          tmp_path):
    from kdkit.distill.cli import train
    from kdkit.utils.validate import InputError
    work = tmp_path / 'work'
    opts = dict(run_options(tiny_data, work), load_from=str(teacher_ckpt))
    with pytest.raises(InputError, match=rf'^load_from: {teacher_ckpt} does not fit the model '
                                         r'architecture: \d+ missing'):
        train(RTMPOSE_T, cfg_options=opts)
    assert not work.exists()


def test_mmpose_0x_checkpoint_via_kdkit_test_and_load_from(tiny_data, run_options, tmp_path,
                                                          mmpose0x_checkpoint):
    """keypoint_head.* names and a data_preprocessor key: accepted by the
    pre-run check, loaded by MMEngine (load_from) as the same weights, and
    evaluated by ``kdkit test`` as the 1.x checkpoint is."""
    from kdkit.distill.cli import build_runner, load_config
    from kdkit.distill.cli import test as run_test
    from kdkit.distill.teacher import build_pose_model
    from kdkit.utils.validate import check_run_config
    torch.manual_seed(1)
    model = build_pose_model(HM_STUDENT)
    model.init_weights()
    new = tmp_path / 'new.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, new)
    old = mmpose0x_checkpoint(new, tmp_path / 'old.pth')

    cfg = load_config(HM_STUDENT, dict(run_options(tiny_data, tmp_path / 'load'),
                                       load_from=str(old)))
    check_run_config(cfg, ('train', 'val'))
    runner = build_runner(cfg)
    runner.load_or_resume()
    loaded = runner.model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in model.state_dict().items())

    metrics = [run_test(HM_STUDENT, str(ckpt), cfg_options=run_options(tiny_data, tmp_path / name))
               for name, ckpt in (('new', new), ('old', old))]
    assert metrics[0] and metrics[0] == metrics[1]


def test_pretrained_download_without_network_is_one_line(tiny_data, tmp_path, closed_port,
                                                         torch_hub_dir, capsys):
    """A stock-style backbone init_cfg whose URL cannot be reached (a closed
    port stands for no network): exit 2, one line naming the field."""
    from kdkit.cli import main
    url = f'http://127.0.0.1:{closed_port}/mobilenet_v2_imagenet.pth'
    work = tmp_path / 'work'
    code = main(['train', HM_STUDENT, '--work-dir', str(work), '--cfg-options',
                 *data_options(tiny_data), 'model.backbone.init_cfg.type=Pretrained',
                 f'model.backbone.init_cfg.checkpoint={url}'])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f'kdkit train: error: model.backbone.init_cfg: cannot download {url} '
                          '(URLError: ')
    assert err.endswith('or set model.backbone.init_cfg=None to start from random weights')
    assert not work.exists()


def test_pretrained_url_is_downloaded_before_the_run(tiny_data, run_options, tmp_path,
                                                     http_files, torch_hub_dir):
    """The pre-run check downloads a backbone init_cfg URL into torch hub's
    cache; MMEngine's init_weights then reads it there (the server is gone)."""
    from kdkit.distill.cli import build_runner, load_config
    from kdkit.distill.teacher import build_pose_model
    from kdkit.utils.validate import check_run_config
    torch.manual_seed(2)
    backbone = build_pose_model(HM_STUDENT).backbone
    (tmp_path / 'srv').mkdir()
    torch.save({'state_dict': backbone.state_dict()}, tmp_path / 'srv' / 'backbone.pth')
    url = http_files(tmp_path / 'srv', requests=1) + '/backbone.pth'
    cfg = load_config(HM_STUDENT, dict(run_options(tiny_data, tmp_path / 'work'), **{
        'model.backbone.init_cfg': dict(type='Pretrained', checkpoint=url)}))
    check_run_config(cfg, ('train', 'val'))
    assert (torch_hub_dir / 'checkpoints' / 'backbone.pth').is_file()
    assert cfg.model.backbone.init_cfg.checkpoint == url  # the run's config is untouched
    runner = build_runner(cfg)
    runner.model.init_weights()
    got = runner.model.backbone.state_dict()
    assert all(torch.equal(got[k], v) for k, v in backbone.state_dict().items())


def test_pretrained_download_failure_inside_a_runner_is_one_line(tiny_data, run_options,
                                                                 tmp_path, closed_port,
                                                                 torch_hub_dir):
    """Without kdkit's pre-run check (MMPose's tools/train.py): MMEngine's
    init_weights goes through kdkit's URL loader, which fails in one line."""
    from kdkit.distill.cli import build_runner, load_config
    from kdkit.utils.checkpoint import DownloadError
    url = f'http://127.0.0.1:{closed_port}/mobilenet_v2_imagenet.pth'
    opts = dict(run_options(tiny_data, tmp_path / 'work'),
                **{'model.backbone.init_cfg': dict(type='Pretrained', checkpoint=url)})
    runner = build_runner(load_config(HM_STUDENT, opts))
    with pytest.raises(DownloadError, match=rf'^cannot download {url} \(URLError: '):
        runner.train()


def imported_modules(path) -> set[str]:
    """Every module a file imports, at module level or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(Path(path).read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_no_import_cycle_between_cli_and_hook():
    import kdkit.distill.cli as cli
    import kdkit.distill.hook as hook
    assert 'kdkit.distill.cli' not in imported_modules(hook.__file__)
    # the CLI's use of the hook module is a plain module-level import
    top_level = {n.module for n in ast.parse(Path(cli.__file__).read_text()).body
                 if isinstance(n, ast.ImportFrom)}
    assert 'kdkit.distill.hook' in top_level


def test_runners_built_in_one_second_get_their_own_logger(tiny_data, run_options, tmp_path,
                                                          monkeypatch):
    """MMEngine names a run's logger '<config>_<second>' and keeps one per name:
    without kdkit's own name, the second Runner below would log to the first's
    console stream and log file."""
    import time

    from kdkit.distill.cli import build_runner
    now = time.time()
    monkeypatch.setattr(time, 'time', lambda: now)  # both Runners start in one second
    first, second = (build_runner(load_config(RTMPOSE_T, run_options(tiny_data, tmp_path / w)))
                     for w in ('a', 'b'))
    assert first.timestamp == second.timestamp
    assert first.experiment_name != second.experiment_name
    assert first.logger is not second.logger
    assert Path(RTMPOSE_T).stem in first.experiment_name
    named = load_config(RTMPOSE_T, dict(run_options(tiny_data, tmp_path / 'c'),
                                        experiment_name='mine'))
    assert build_runner(named).experiment_name.startswith('mine_')  # a user's name is kept
