"""What the notebooks call: log reading, plots, the slider panel and the live
loss-synthesis view (pure functions behind each widget, so the tests call
them directly)."""
from .curves import load_scalars, plot_training_curves
from .predictions import predict_frames, show_predictions
from .ablation_plots import (plot_rule_comparison, plot_weight_heatmap, separating_metric,
                             summarise_rules)
from .sliders import make_panel, slider_view
from .live_panel import LiveBatch, draw_live_view, live_view, load_live_batch, make_live_panel
from .eval_plots import (bench_table, check_export, clip_frames, load_bench, per_joint_pck,
                         plot_pareto, plot_per_joint, predict_split, show_side_by_side)
from .demo_figure import make_demo_figure, plot_model_bars, plot_skeleton_grid, save_demo_figure

__all__ = ['load_scalars', 'plot_training_curves', 'predict_frames', 'show_predictions',
           'plot_rule_comparison', 'plot_weight_heatmap', 'separating_metric',
           'summarise_rules', 'make_panel', 'slider_view', 'LiveBatch', 'draw_live_view',
           'live_view', 'load_live_batch', 'make_live_panel', 'bench_table', 'check_export',
           'clip_frames', 'load_bench', 'per_joint_pck', 'plot_pareto', 'plot_per_joint',
           'predict_split', 'show_side_by_side', 'make_demo_figure', 'plot_model_bars',
           'plot_skeleton_grid', 'save_demo_figure']
