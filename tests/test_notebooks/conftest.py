"""Helpers of the notebook tests: nb_params.py (each notebook's tiny test
parameters, read from its papermill test) and nb_browser.py (JupyterLab in
headless Chromium, for test_browser.py)."""
import sys
from pathlib import Path

# --import-mode=importlib adds no test folder to sys.path: the tests import
# nb_params and nb_browser from here
sys.path.insert(0, str(Path(__file__).resolve().parent))
