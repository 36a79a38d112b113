"""Ablations of the loss synthesis: grids of (rule, weights, temperature,
schedule) trained under one budget and seed list, cached on disk, returned
as a tidy table (``kdkit ablate``)."""
from .runner import load_curve, load_results, run_grid
from .settings import SCHEDULE_PRESETS, expand_grid, resolve_setting, schedule_preset
from .summary import format_summary, summarise_settings

__all__ = ['run_grid', 'load_results', 'load_curve', 'expand_grid', 'resolve_setting',
           'schedule_preset', 'SCHEDULE_PRESETS', 'summarise_settings', 'format_summary']
