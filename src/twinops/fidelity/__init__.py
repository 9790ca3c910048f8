"""Fidelity: calibration (parameter estimation), validation metrics and reports, drift detection."""
