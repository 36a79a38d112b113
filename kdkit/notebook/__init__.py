"""What the notebooks call: log reading, plots and the slider panel (pure
functions behind each widget, so the tests call them directly)."""
from .curves import load_scalars, plot_training_curves
from .predictions import predict_frames, show_predictions

__all__ = ['load_scalars', 'plot_training_curves', 'predict_frames', 'show_predictions']
