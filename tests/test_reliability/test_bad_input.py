"""Bad input: each case stops with a one-line error naming the file or field
and what was expected, before anything is written where possible.

Cases covered elsewhere (not repeated here):
  * teacher/student key points (by name, keypoint_map) and crops/codecs on the
    models: tests/test_distill/test_teacher.py, tests/test_distill/test_mapping.py;
    here through a real run.
  * truncated / wrong-architecture / non-checkpoint files:
    tests/test_distill/test_teacher.py, tests/test_utils/test_checkpoint.py.
  * typo'd top-level key in a config file / hook argument: tests/test_configs.py.
  * negative / all-zero / non-finite weights on the Distiller and rules:
    tests/test_distill/test_distiller.py, tests/test_synthesis/test_weighted_sum.py.
  * NaN term at the Distiller level: tests/test_distill/test_distiller.py.
  * slider ranges: tests/test_notebook/test_sliders.py; generator knobs and
    foreign output folders: tests/test_data/test_generator.py, test_cli.py,
    test_export.py (one representative of each is repeated here).
"""
from __future__ import annotations

import json
import shutil

import pytest
import torch
from mmpose.registry import MODELS

from kdkit.distill.cli import build_runner, load_config, train
from kdkit.distill.cli import test as run_test
from kdkit.distill.distiller import NonFiniteLossError
from kdkit.losses.base import BaseDistillLoss
from kdkit.utils.validate import InputError

from rel_helpers import KD_CFG, STUDENT_CFG

TRAIN_JSON = 'annotations/person_keypoints_train.json'


def one_line(e) -> str:
    text = str(e.value)
    assert '\n' not in text, text
    return text


@pytest.fixture
def data_copy(tiny_data, tmp_path):
    """A private copy of the tiny data set, to break."""
    return shutil.copytree(tiny_data, tmp_path / 'data')


def build_dataset(root, ann=TRAIN_JSON, **extra):
    from mmengine.registry import DefaultScope
    from mmpose.registry import DATASETS
    with DefaultScope.overwrite_default_scope('mmpose'):
        return DATASETS.build(dict(type='VideoPoseDataset', data_root=f'{root}/', ann_file=ann,
                                   data_prefix=dict(img='images/'), pipeline=[], **extra))


def expect_nothing_written(work):
    assert not work.exists(), f'{work} was created: {sorted(work.rglob("*"))[:5]}'


# --------------------------------------------------------------------- data
def test_missing_data_root(kd_options, tmp_path, tiny_data):
    work = tmp_path / 'work'
    opts = kd_options(work, **{'train_dataloader.dataset.data_root': f'{tmp_path}/nothere/'})
    with pytest.raises(InputError) as e:
        train(KD_CFG, cfg_options=opts)
    assert one_line(e).startswith(
        f'train_dataloader.dataset.data_root: {tmp_path}/nothere/ does not exist')
    assert TRAIN_JSON in str(e.value)
    expect_nothing_written(work)
    # the dataset itself (MMPose's tools/train.py, notebooks)
    with pytest.raises(InputError, match=r'VideoPoseDataset.data_root: .*nothere/ does not exist'):
        build_dataset(tmp_path / 'nothere')


def truncate(path):
    path.write_bytes(path.read_bytes()[:2000])


def not_json(path):
    path.write_bytes(b'\x00\x01 binary junk')


def wrong_structure(path):
    path.write_text(json.dumps([{'id': 1}]))


def no_annotations(path):
    coco = json.loads(path.read_text())
    del coco['annotations']
    path.write_text(json.dumps(coco))


@pytest.mark.parametrize('damage, message', [
    (truncate, r'is not valid JSON \(.* at line 1 column \d+; truncated or corrupt\?'),
    (not_json, r'is not (valid JSON|UTF-8 text)'),
    (wrong_structure, r'is not a COCO key-point file \(top level is a list\); expected'),
    (no_annotations, r'is not a COCO key-point file \(no "annotations" list'),
])
def test_corrupt_annotation_json(data_copy, kd_options, tmp_path, damage, message):
    ann = data_copy / TRAIN_JSON
    damage(ann)
    work = tmp_path / 'work'
    opts = kd_options(work, **{'train_dataloader.dataset.data_root': f'{data_copy}/'})
    with pytest.raises(InputError, match=message) as e:
        train(KD_CFG, cfg_options=opts)
    assert one_line(e).startswith(f'train_dataloader.dataset.ann_file: {ann} ')
    expect_nothing_written(work)
    if damage is not no_annotations:  # MMPose's loader tolerates a missing list
        with pytest.raises(InputError) as e:
            build_dataset(data_copy)
        assert one_line(e).startswith(f'VideoPoseDataset.ann_file: {ann} is not ')
        assert 'not valid JSON' in str(e.value) or 'not a COCO key-point file' in str(e.value)


def test_missing_annotation_file(data_copy, kd_options, tmp_path):
    (data_copy / TRAIN_JSON).unlink()
    opts = kd_options(tmp_path / 'work', **{'train_dataloader.dataset.data_root': f'{data_copy}/'})
    with pytest.raises(InputError, match=r'^train_dataloader.dataset.ann_file: .*'
                       r'person_keypoints_train.json does not exist \(expected a COCO'):
        train(KD_CFG, cfg_options=opts)


def test_listed_images_missing(data_copy, kd_options, tmp_path):
    gone = sorted((data_copy / 'images' / 'train').rglob('*.jpg'))[:3]
    for p in gone:
        p.unlink()
    work = tmp_path / 'work'
    opts = kd_options(work, **{'train_dataloader.dataset.data_root': f'{data_copy}/'})
    with pytest.raises(InputError) as e:
        train(KD_CFG, cfg_options=opts)
    msg = one_line(e)
    assert msg.startswith('train_dataloader.dataset: 3 of 16 images listed in ')
    assert str(data_copy / TRAIN_JSON) in msg and f'e.g. {gone[0]}' in msg
    expect_nothing_written(work)
    with pytest.raises(InputError, match=r'^VideoPoseDataset: 3 of 16 images listed in '):
        build_dataset(data_copy)


# --------------------------------------------------------- key-point counts
def drop_last_keypoint(path):
    coco = json.loads(path.read_text())
    for ann in coco['annotations']:
        ann['keypoints'] = ann['keypoints'][:-3]
    path.write_text(json.dumps(coco))


def test_keypoint_count_data_vs_metainfo(data_copy, kd_options, tmp_path):
    ann = data_copy / TRAIN_JSON
    drop_last_keypoint(ann)
    opts = kd_options(tmp_path / 'work', **{'train_dataloader.dataset.data_root': f'{data_copy}/'})
    pattern = (r'annotation \d+ has 16 key points, the dataset\'s metainfo \(coco\) has 17; '
               r'pass the dataset a metainfo=dict\(from_file=...\)')
    with pytest.raises(InputError, match=pattern) as e:
        train(KD_CFG, cfg_options=opts)
    assert one_line(e).startswith(f'train_dataloader.dataset.ann_file: {ann}: ')
    with pytest.raises(InputError, match=pattern):
        build_dataset(data_copy)


def test_keypoint_count_data_vs_student(kd_options, tmp_path):
    work = tmp_path / 'work'
    opts = kd_options(work, **{'model.head.out_channels': 16})
    with pytest.raises(InputError) as e:
        train(KD_CFG, cfg_options=opts)
    assert one_line(e) == ('model.head.out_channels=16 but train_dataloader.dataset has 17 key '
                           'points (coco); set model.head.out_channels=17 or use data with 16 '
                           'key points')
    expect_nothing_written(work)
    # a run built without the pre-flight check (e.g. MMPose's tools/train.py):
    # DistillLossHook checks before the teacher is even built
    runner = build_runner(load_config(KD_CFG, opts))
    with pytest.raises(InputError, match=r'^model.head.out_channels=16 but train_dataloader'):
        runner.train()


def test_teacher_at_another_aspect_ratio_is_refused(kd_options, tmp_path):
    """A teacher at another input size is mapped onto the student; one at
    another aspect ratio sees another crop: refused in one line naming the
    field, before the run (kdkit train) and in the hook (tools/train.py)."""
    teacher_opts = dict(model=dict(head=dict(decoder=dict(input_size=(96, 96),
                                                          heatmap_size=(24, 24)))))
    work = tmp_path / 'work'
    opts = kd_options(work, **{'custom_hooks.1.teacher.cfg_options': teacher_opts})
    expected = (r'^custom_hooks\[1\]\.teacher: teacher input 96x96 \(w/h 1\.000\) and student '
                r'input 96x128 \(w/h 0\.750\) differ in aspect ratio, .* unsupported')
    with pytest.raises(InputError, match=expected) as e:
        train(KD_CFG, cfg_options=opts)
    one_line(e)
    expect_nothing_written(work)
    runner = build_runner(load_config(KD_CFG, opts))
    with pytest.raises(ValueError, match=expected):
        runner.train()


def test_codec_cfg_option_for_the_teacher_is_refused(kd_options, tmp_path):
    """``cfg_options=dict(codec=...)`` (the old hint) changes nothing: refused."""
    work = tmp_path / 'work'
    opts = kd_options(work, **{'custom_hooks.1.teacher.cfg_options': dict(
        codec=dict(input_size=(192, 256)))})
    with pytest.raises(InputError, match=r'custom_hooks\[1\] \(DistillLossHook\): '
                       r'DistillLossHook\.teacher\.cfg_options\.codec has no effect') as e:
        train(KD_CFG, cfg_options=opts)
    one_line(e)
    expect_nothing_written(work)


def test_teacher_student_keypoint_mismatch(kd_options, tmp_path):
    from kdkit.distill.teacher import build_pose_model
    from rel_helpers import TEACHER_CFG
    teacher_opts = dict(model=dict(head=dict(out_channels=16)))
    ckpt = tmp_path / 'teacher16.pth'
    torch.save({'state_dict': build_pose_model(TEACHER_CFG, teacher_opts).state_dict()}, ckpt)
    opts = kd_options(tmp_path / 'work', **{'custom_hooks.1.teacher.cfg_options': teacher_opts,
                                            'custom_hooks.1.teacher.checkpoint': str(ckpt)})
    runner = build_runner(load_config(KD_CFG, opts))
    with pytest.raises(ValueError, match=r'^custom_hooks\[1\]\.teacher\.metainfo: 17 key-point '
                       r'names \(coco: nose, left_eye, right_eye, \.\.\.\) but the teacher predicts '
                       r'16 key points; give the metainfo of its training data$'):
        runner.train()


def test_teacher_with_other_keypoint_names_is_refused(kd_options, tmp_path):
    """Same count, other names (a COCO teacher for PoseTrack18 data): named,
    with the keypoint_map fix, before the run."""
    work = tmp_path / 'work'
    opts = kd_options(work, **{'train_dataloader.dataset.metainfo': dict(
        from_file='configs/_base_/datasets/posetrack18.py')})
    with pytest.raises(InputError, match=r"^custom_hooks\[1\]\.teacher: key point 1 is "
                       r"'head_bottom' in the student \(posetrack18\) but 'left_eye' in the "
                       r"teacher \(coco\).*keypoint_map='auto'") as e:
        train(KD_CFG, cfg_options=opts)
    one_line(e)
    expect_nothing_written(work)


# -------------------------------------------------------------- checkpoints
@pytest.mark.parametrize('kind', ['missing', 'truncated', 'not_a_checkpoint'])
def test_bad_teacher_checkpoint_stops_before_the_run(kd_options, tmp_path, teacher_ckpt, kind):
    path = tmp_path / f'{kind}.pth'
    if kind == 'truncated':
        path.write_bytes(teacher_ckpt.read_bytes()[:5000])
    elif kind == 'not_a_checkpoint':
        path.write_text('hello')
    work = tmp_path / 'work'
    opts = kd_options(work, **{'custom_hooks.1.teacher.checkpoint': str(path)})
    with pytest.raises(InputError) as e:
        train(KD_CFG, cfg_options=opts)
    expected = ('does not exist' if kind == 'missing' else
                'is not a readable torch checkpoint (truncated or not a checkpoint)')
    assert one_line(e) == f'custom_hooks[1].teacher.checkpoint: {path} {expected}'
    expect_nothing_written(work)


def test_wrong_architecture_teacher_checkpoint(kd_options, tmp_path):
    from kdkit.distill.teacher import build_pose_model
    path = tmp_path / 'student.pth'
    torch.save({'state_dict': build_pose_model(STUDENT_CFG).state_dict()}, path)
    runner = build_runner(load_config(KD_CFG, kd_options(
        tmp_path / 'work', **{'custom_hooks.1.teacher.checkpoint': str(path)})))
    with pytest.raises(ValueError) as e:
        runner.train()
    assert one_line(e).startswith(f'teacher checkpoint: {path} does not fit the model '
                                  'architecture: ')


@pytest.mark.parametrize('kind', ['missing', 'truncated'])
def test_bad_checkpoint_to_evaluate_or_load(kd_options, run_options, tiny_data, tmp_path,
                                            teacher_ckpt, kind):
    path = tmp_path / 'model.pth'
    if kind == 'truncated':
        path.write_bytes(teacher_ckpt.read_bytes()[:5000])
    work = tmp_path / 'work'
    with pytest.raises((InputError, FileNotFoundError)) as e:
        run_test(STUDENT_CFG, str(path), cfg_options=run_options(tiny_data, work))
    assert str(path) in one_line(e)
    with pytest.raises((InputError, FileNotFoundError)) as e:
        train(KD_CFG, cfg_options=kd_options(work, load_from=str(path)))
    assert one_line(e).startswith(f'load_from: {path} ')
    expect_nothing_written(work)


# ------------------------------------------------------------------ config
def test_typo_in_cfg_options_is_rejected(kd_options, tmp_path):
    work = tmp_path / 'work'
    with pytest.raises(ValueError, match=r"^config --cfg-options: unknown key 'train_cgf' "
                       r"\(did you mean 'train_cfg'\?\)$"):
        train(KD_CFG, cfg_options=kd_options(work, **{'train_cgf.max_epochs': 3}))
    expect_nothing_written(work)


def test_typo_in_a_hook_argument_stops_before_the_run(kd_options, tmp_path):
    work = tmp_path / 'work'
    opts = kd_options(work, **{'custom_hooks.1.weigths': dict(gt=1.0, kd_heatmap=1.0)})
    with pytest.raises(InputError, match=r"^custom_hooks\[1\] \(DistillLossHook\): .*"
                       r"unexpected keyword argument 'weigths'"):
        train(KD_CFG, cfg_options=opts)
    expect_nothing_written(work)


def test_typo_in_a_hook_type_stops_before_the_run(kd_options, tmp_path):
    work = tmp_path / 'work'
    opts = kd_options(work, **{'custom_hooks.1.type': 'DistillLosHook'})
    with pytest.raises(InputError) as e:
        train(KD_CFG, cfg_options=opts)
    assert one_line(e).startswith("custom_hooks[1] (DistillLosHook): 'DistillLosHook is not in "
                                  'the mmpose::hook registry')
    expect_nothing_written(work)


def test_typo_in_a_nested_runner_key_is_rejected(kd_options, tmp_path):
    """MMEngine builds its loops from keyword arguments: an unknown one fails."""
    with pytest.raises(TypeError, match="unexpected keyword argument 'max_epoch'"):
        train(KD_CFG, cfg_options=kd_options(tmp_path / 'work', **{'train_cfg.max_epoch': 2}))


# ------------------------------------------------------------ loss weights
@pytest.mark.parametrize('weights, message', [
    (dict(gt=1.0, kd_heatmap=-1.0), "weight of term 'kd_heatmap' is -1.0; must be >= 0"),
    (dict(gt=0.0, kd_heatmap=0.0), 'all term weights are zero (gt, kd_heatmap); at least one '
                                   'must be > 0'),
    (dict(gt=1.0, kd_heatmap=float('inf')), "weight of term 'kd_heatmap' is inf; must be finite"),
])
def test_bad_loss_weights_stop_before_the_run(kd_options, tmp_path, weights, message):
    work = tmp_path / 'work'
    with pytest.raises(InputError) as e:
        train(KD_CFG, cfg_options=kd_options(work, **{'custom_hooks.1.weights': weights}))
    assert one_line(e) == f'custom_hooks[1] (DistillLossHook): {message}'
    expect_nothing_written(work)


def test_bad_weight_schedule_stops_before_the_run(kd_options, tmp_path):
    work = tmp_path / 'work'
    opts = kd_options(work, custom_hooks=[
        dict(type='WeightScheduleHook', schedules=dict(kd_heatmap=dict(type='cosine', start=-1.0)))])
    with pytest.raises(InputError, match=r'^custom_hooks\[0\] \(WeightScheduleHook\): .*kd_heatmap'):
        train(KD_CFG, cfg_options=opts)
    expect_nothing_written(work)


# ---------------------------------------------------------------- NaN / Inf
@MODELS.register_module(force=True)
class NaNFromStepLoss(BaseDistillLoss):
    """Test-only term: heatmap MSE that turns NaN from its ``step``-th call."""

    input_kind = teacher_kind = 'heatmap'

    def __init__(self, step: int = 2):
        super().__init__()
        self.step, self.calls = step, 0

    def forward(self, pred_s, pred_t, weight=None):
        self.calls += 1
        loss = (pred_s - pred_t.detach()).pow(2).mean()
        return loss * float('nan') if self.calls >= self.step else loss


def test_nan_term_stops_the_run_naming_term_and_step(kd_options, tmp_path):
    opts = kd_options(tmp_path / 'work', **{
        'train_dataloader.dataset.indices': 8,  # 2 iterations
        'custom_hooks.1.terms': dict(kd_heatmap=dict(type='HeatmapMSEDistillLoss'),
                                     kd_bad=dict(type='NaNFromStepLoss', step=2)),
        'custom_hooks.1.weights': dict(gt=1.0, kd_heatmap=1.0, kd_bad=0.5)})
    with pytest.raises(NonFiniteLossError) as e:
        train(KD_CFG, cfg_options=opts)
    assert one_line(e).startswith("loss term 'kd_bad' is nan at distillation step 2 ")


def test_diverging_run_stops_at_the_first_non_finite_step(kd_options, tmp_path):
    """A learning rate of 1e30 sends the weights to inf after the first update."""
    opts = kd_options(tmp_path / 'work', **{'train_dataloader.dataset.indices': 12,
                                             'optim_wrapper.optimizer.lr': 1e30})
    with pytest.raises(NonFiniteLossError, match=r"^loss term '(gt|kd_heatmap)' is (nan|inf|-inf) "
                       r'at distillation step 2 \(lower the learning rate'):
        train(KD_CFG, cfg_options=opts)


def test_cli_prints_one_line_and_exits_2(kd_options, tmp_path, capsys):
    from kdkit.cli import main
    opts = kd_options(tmp_path / 'work', **{'train_dataloader.dataset.data_root': '/nowhere/'})
    code = main(['train', KD_CFG, '--cfg-options', *(f'{k}={v}' for k, v in opts.items())])
    err = capsys.readouterr().err
    assert code == 2
    assert err == ('kdkit train: error: train_dataloader.dataset.data_root: /nowhere/ does not '
                   'exist (expected the dataset folder holding '
                   'annotations/person_keypoints_train.json)\n')


# --------------------------------------------------- ranges, output folders
@pytest.mark.parametrize('name, value, message', [
    ('gt_weight', 2.5, r'^gt_weight=2.5 out of range: the gt_weight slider allows \[0, 2\]$'),
    ('temperature', 0.0, r'^temperature=0.0 out of range: the temperature slider allows'),
])
def test_slider_out_of_range(name, value, message):
    from kdkit.notebook.sliders import check_slider
    with pytest.raises(ValueError, match=message):
        check_slider(name, value)


def test_generator_option_out_of_range(tmp_path):
    from kdkit.data import generate_dataset
    with pytest.raises(ValueError, match=r'^knob blur=1.5 out of range: expected float in '
                       r'\[0.0, 1.0\]$'):
        generate_dataset(tmp_path / 'out', blur=1.5)
    assert not (tmp_path / 'out').exists()


def test_generator_refuses_a_foreign_output_folder(tmp_path):
    from kdkit.data import generate_dataset
    out = tmp_path / 'mine'
    out.mkdir()
    (out / 'notes.txt').write_text('keep')
    with pytest.raises(FileExistsError, match=f'^{out}: exists and is not a kdkit dataset'):
        generate_dataset(out, progress=False, n_train_clips=1, frames_per_clip=2)
    assert [p.name for p in out.iterdir()] == ['notes.txt']


def test_train_refuses_a_foreign_work_dir(kd_options, tmp_path):
    work = tmp_path / 'work'
    work.mkdir()
    (work / 'notes.txt').write_text('keep')
    (work / 'photos').mkdir()
    with pytest.raises(InputError) as e:
        train(KD_CFG, cfg_options=kd_options(work))
    assert one_line(e) == (f'work_dir: {work} exists with other content (notes.txt, photos) and '
                           'holds no MMEngine run; choose a new or empty --work-dir')
    assert sorted(p.name for p in work.iterdir()) == ['notes.txt', 'photos']


def test_work_dir_of_an_earlier_run_is_accepted(tmp_path):
    from kdkit.utils.validate import check_work_dir
    for content in ('20250101_120000', 'last_checkpoint', 'epoch_3.pth'):
        work = tmp_path / content.replace('.', '_')
        (work / content).mkdir(parents=True)
        check_work_dir(work)
    check_work_dir(tmp_path / 'new')
    (tmp_path / 'empty').mkdir()
    check_work_dir(tmp_path / 'empty')
    (tmp_path / 'file').write_text('x')
    with pytest.raises(InputError, match='exists and is not a folder'):
        check_work_dir(tmp_path / 'file')
