"""Ablation settings: a grid of (rule, weights, temperature, schedule) and how
each one becomes a runnable MMPose config.

A setting is a dict with any of these keys (the rest comes from the base
config):

* ``rule``: ``'weighted_sum'`` | ``'uncertainty'`` | ``'confidence_gating'``
  (or ``synthesis``: a full rule config, e.g. with a gating ``threshold``);
* ``gt_weight``: weight of the label loss; ``kd_weight``: weight of every
  distillation term; ``weights``: ``{term: weight}`` for single terms;
* ``temperature``: set on every term that takes one (the KL terms);
* ``schedule``: a preset name (:data:`SCHEDULE_PRESETS`, applied to every
  distillation term from its weight) or ``{term: schedule config}``;
* ``terms``: ``{term: partial loss config}`` merged into the base terms
  (swap MSE for KL: ``dict(kd_heatmap=dict(type='HeatmapKLDistillLoss'))``);
* ``label``: a display name.

``UncertaintyWeighting`` has parameters, so a hook-based base config is
translated into the ``KDPoseEstimator`` wrapper for it automatically.
"""
from __future__ import annotations

import copy
import hashlib
import inspect
import itertools
import json
import math

RULES = {
    'weighted_sum': 'WeightedSum',
    'uncertainty': 'UncertaintyWeighting',
    'confidence_gating': 'ConfidenceGating',
}
RULE_NAMES = {v: k for k, v in RULES.items()}
SETTING_KEYS = ('rule', 'synthesis', 'gt_weight', 'kd_weight', 'weights', 'temperature',
                'schedule', 'terms', 'label')
SIMCC_HEADS = ('RTMCCHead', 'SimCCHead', 'RTMWHead')


def schedule_preset(name: str, w: float) -> dict:
    """The schedule a preset name gives a term of weight ``w`` (progress p in [0, 1]):
    constant w; linear / cosine decay w -> 0; warmup 0 -> w over the first 20%;
    step w, x0.1 at 50% and again at 75%."""
    presets = {
        'constant': dict(type='constant', value=w),
        'linear': dict(type='linear', start=w, end=0.0),
        'cosine': dict(type='cosine', start=w, end=0.0),
        'warmup': dict(type='warmup', value=w, warmup=0.2),
        'step': dict(type='step', value=w, milestones=[0.5, 0.75], gamma=0.1),
    }
    if name not in presets:
        raise ValueError(f'schedule: {name!r} is not one of {list(presets)} '
                         '(or give {term: schedule config})')
    return presets[name]


SCHEDULE_PRESETS = ('constant', 'linear', 'cosine', 'warmup', 'step')


# -------------------------------------------------------------------- grid
def expand_grid(grid) -> list[dict]:
    """A list of settings as given, or the Cartesian product of a dict whose
    list values vary (scalars and dicts stay fixed):
    ``{'rule': ['weighted_sum', 'uncertainty'], 'kd_weight': [0.5, 1]}`` -> 4."""
    if isinstance(grid, dict):
        varying = {k: v for k, v in grid.items() if isinstance(v, (list, tuple))}
        fixed = {k: v for k, v in grid.items() if k not in varying}
        combos = itertools.product(*varying.values()) if varying else [()]
        settings = [dict(fixed, **dict(zip(varying, combo))) for combo in combos]
    elif isinstance(grid, (list, tuple)):
        settings = [dict(s) if isinstance(s, dict) else _bad_setting(i, s)
                    for i, s in enumerate(grid)]
    else:
        raise ValueError(f'grid: expected a list of settings or a dict of lists, got '
                         f'{type(grid).__name__}')
    if not settings:
        raise ValueError('grid: no settings')
    for i, s in enumerate(settings):
        check_setting_keys(i, s)
    return settings


def _bad_setting(i, s):
    raise ValueError(f'grid setting {i}: expected a dict, got {s!r}')


def check_setting_keys(i: int, setting: dict) -> None:
    unknown = sorted(set(setting) - set(SETTING_KEYS))
    if unknown:
        raise ValueError(f'grid setting {i}: unknown key {unknown[0]!r}; expected some of '
                         f'{list(SETTING_KEYS)}')
    if 'rule' in setting and 'synthesis' in setting:
        raise ValueError(f"grid setting {i}: give 'rule' or 'synthesis', not both")


# -------------------------------------------------------------- resolution
def find_distill_spec(cfg) -> tuple[str, dict]:
    """('hook', the DistillLossHook entry) or ('wrapper', the model dict)."""
    for hook in cfg.get('custom_hooks', []) or []:
        if hook.get('type') == 'DistillLossHook':
            return 'hook', hook
    if cfg.model.get('type') == 'KDPoseEstimator':
        return 'wrapper', cfg.model
    raise ValueError('ablation: the base config distils nothing (no DistillLossHook in '
                     "custom_hooks, model type is not 'KDPoseEstimator')")


def base_spec(cfg) -> dict:
    """The base config's distillation: route, teacher, terms, weights, synthesis."""
    route, spec = find_distill_spec(cfg)
    src = spec if route == 'hook' else spec['distill']
    return dict(route=route, teacher=_plain(spec['teacher']), terms=_plain(src['terms']),
                weights=_plain(src['weights']),
                synthesis=_plain(src.get('synthesis') or dict(type='WeightedSum')))


def resolve_setting(setting: dict, base: dict, i: int = 0) -> dict:
    """Everything a run of ``setting`` on ``base`` (:func:`base_spec`) needs:
    route, terms, weights, synthesis, schedules (or None), and the display
    fields rule / gt_weight / kd_weight / temperature / schedule / label."""
    where = f'grid setting {i}'
    terms = merge_terms(base['terms'], setting.get('terms') or {}, where)
    kd_names = list(terms)
    weights = resolve_weights(base['weights'], kd_names, setting, where)
    temperature = setting.get('temperature')
    if temperature is not None:
        set_temperature(terms, temperature, where)
    synthesis = resolve_synthesis(setting, base, kd_names, where)
    schedules = resolve_schedule(setting.get('schedule'), weights, kd_names, where)
    route = 'wrapper' if base['route'] == 'wrapper' or has_params(synthesis) else 'hook'
    kd_w = {weights[n] for n in kd_names}
    temps = {terms[n].get('temperature') for n in kd_names} - {None}
    resolved = dict(
        route=route, terms=terms, weights=weights, synthesis=synthesis, schedules=schedules,
        rule=RULE_NAMES.get(synthesis['type'], synthesis['type']),
        gt_weight=weights['gt'], kd_weight=kd_w.pop() if len(kd_w) == 1 else math.nan,
        temperature=float(temps.pop()) if len(temps) == 1 else math.nan,
        schedule=schedule_name(setting.get('schedule')))
    resolved['label'] = setting.get('label') or default_label(
        resolved, swapped=sorted(setting.get('terms') or {}))
    return resolved


def merge_terms(base_terms: dict, overrides: dict, where: str) -> dict:
    terms = copy.deepcopy(base_terms)
    for name, cfg in overrides.items():
        if not isinstance(cfg, dict):
            raise ValueError(f'{where}: terms.{name} must be a dict (a loss config)')
        if name not in terms and 'type' not in cfg:
            raise ValueError(f'{where}: new term {name!r} needs a type')
        if 'type' in cfg and cfg['type'] != terms.get(name, {}).get('type'):
            terms[name] = dict(cfg)  # another loss: keep none of the old arguments
        else:
            terms[name] = dict(terms[name], **cfg)
    return terms


def resolve_weights(base_weights: dict, kd_names: list, setting: dict, where: str) -> dict:
    from kdkit.synthesis.base import check_weights
    weights = {'gt': float(base_weights.get('gt', 1.0))}
    kd_default = setting.get('kd_weight')
    for name in kd_names:
        w = kd_default if kd_default is not None else base_weights.get(name, 1.0)
        weights[name] = float(w)
    if setting.get('gt_weight') is not None:
        weights['gt'] = float(setting['gt_weight'])
    extra = dict(setting.get('weights') or {})
    unknown = sorted(set(extra) - set(weights))
    if unknown:
        raise ValueError(f'{where}: weights for unknown terms {unknown}; the terms are '
                         f'{sorted(weights)}')
    weights.update({k: float(v) for k, v in extra.items()})
    try:
        check_weights(weights)
    except ValueError as e:
        raise ValueError(f'{where}: {e}') from None
    return weights


def set_temperature(terms: dict, temperature, where: str) -> None:
    t = float(temperature)
    if not math.isfinite(t) or t <= 0:
        raise ValueError(f'{where}: temperature={temperature!r}; expected a number > 0')
    takers = [n for n, cfg in terms.items() if takes_temperature(cfg['type'])]
    if not takers:
        names = ', '.join(f"{n}={c['type']}" for n, c in terms.items())
        raise ValueError(f'{where}: temperature={temperature} but no term takes one ({names}); '
                         "swap in a KL term, e.g. terms=dict(kd_heatmap=dict(type="
                         "'HeatmapKLDistillLoss'))")
    for n in takers:
        terms[n]['temperature'] = t


def takes_temperature(loss_type: str) -> bool:
    import kdkit.losses  # noqa: F401  (registers the losses)
    from mmpose.registry import MODELS
    cls = MODELS.get(loss_type)
    if cls is None:
        raise ValueError(f'term type {loss_type!r} is not a registered loss')
    return 'temperature' in inspect.signature(cls.__init__).parameters


def resolve_synthesis(setting: dict, base: dict, kd_names: list, where: str) -> dict:
    if 'synthesis' in setting:
        syn = dict(setting['synthesis'])
        if 'type' not in syn:
            raise ValueError(f'{where}: synthesis needs a type')
    elif 'rule' in setting:
        if setting['rule'] not in RULES:
            raise ValueError(f"{where}: rule={setting['rule']!r}; expected one of {list(RULES)}")
        syn = dict(type=RULES[setting['rule']])
    else:
        syn = copy.deepcopy(base['synthesis'])
    if syn['type'] == 'UncertaintyWeighting':
        syn.setdefault('terms', ['gt', *kd_names])
    if syn['type'] == 'ConfidenceGating':
        syn.setdefault('kind', teacher_output_kind(base['teacher']))
    return syn


def teacher_output_kind(teacher: dict) -> str:
    """'simcc' for a SimCC-head teacher, else 'heatmap' (read from its config)."""
    from kdkit.distill.teacher import load_any_config
    head = load_any_config(teacher['config']).model.get('head', {})
    return 'simcc' if head.get('type') in SIMCC_HEADS else 'heatmap'


def has_params(synthesis: dict) -> bool:
    return synthesis['type'] == 'UncertaintyWeighting'


def resolve_schedule(schedule, weights: dict, kd_names: list, where: str):
    """None (constant weights, no hook) or ``{term: schedule config}``."""
    from kdkit.engine.schedules import check_schedule
    if schedule is None or schedule == 'constant':
        return None
    if isinstance(schedule, str):
        try:
            return {n: schedule_preset(schedule, weights[n]) for n in kd_names}
        except ValueError as e:
            raise ValueError(f'{where}: {e}') from None
    if not isinstance(schedule, dict):
        raise ValueError(f'{where}: schedule must be a preset name or {{term: schedule}}')
    for name, cfg in schedule.items():
        if name not in weights:
            raise ValueError(f'{where}: schedule for unknown term {name!r}')
        check_schedule(name, cfg)
    return dict(schedule)


def schedule_name(schedule) -> str:
    if schedule is None or isinstance(schedule, str):
        return schedule or 'constant'
    return 'custom'


def default_label(r: dict, swapped=()) -> str:
    """e.g. 'weighted_sum gt=1 kd=2 T=0.1 cosine [kd_heatmap=HeatmapKL]'."""
    parts = [r['rule'], f"gt={r['gt_weight']:g}"]
    parts.append(f"kd={r['kd_weight']:g}" if not math.isnan(r['kd_weight']) else 'kd=mixed')
    if not math.isnan(r['temperature']):
        parts.append(f"T={r['temperature']:g}")
    if r['schedule'] != 'constant':
        parts.append(r['schedule'])
    if swapped:
        types = [f"{n}={r['terms'][n]['type'].removesuffix('DistillLoss')}" for n in swapped]
        parts.append(f"[{', '.join(types)}]")
    return ' '.join(parts)


# ----------------------------------------------------------- config edits
def apply_setting(cfg, resolved: dict, teacher: dict) -> None:
    """Rewrite ``cfg`` (an MMEngine Config) in place to run ``resolved``."""
    route, spec = find_distill_spec(cfg)
    distill = dict(terms=resolved['terms'], weights=resolved['weights'],
                   synthesis=resolved['synthesis'])
    hooks = [h for h in (cfg.get('custom_hooks') or []) if h.get('type') != 'DistillLossHook']
    if resolved['route'] == 'hook':
        hooks.insert(min(1, len(hooks)), dict(type='DistillLossHook', teacher=teacher, **distill))
    else:
        model = _plain(cfg.model)
        model.update(type='KDPoseEstimator', teacher=teacher, distill=distill)
        cfg.model = model
    if resolved['schedules']:
        hooks.append(dict(type='WeightScheduleHook', schedules=resolved['schedules']))
    cfg.custom_hooks = hooks


def setting_key(payload: dict) -> str:
    """Stable 16-hex key of a JSON-able dict (sorted keys, floats as repr)."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _plain(obj):
    """ConfigDict / nested containers -> plain dicts and lists (deep copy)."""
    if hasattr(obj, 'to_dict'):
        obj = obj.to_dict()
    return copy.deepcopy(json.loads(json.dumps(obj, default=_json_default)))


def _json_default(obj):
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f'not JSON-able: {obj!r}')
