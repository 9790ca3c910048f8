"""Drift detection: one-step-ahead residuals of a twin's model, watched by change detectors.

While telemetry flows, a :class:`StepPredictor` (the twin's production model, or a baseline)
predicts each point; a :class:`DriftMonitor` keeps per (twin, field) detector state — CUSUM,
Page-Hinkley, rolling error against the validation RMSE — and answers :class:`DriftAlert`
values with their residual evidence. A :class:`DriftPolicy` says which detectors run, how
alerts are throttled, and which recalibration job spec an alert should start. The wiring into
ingest, the event stream and job submission belongs to the callers.
"""

from __future__ import annotations

from twinops.fidelity.drift_detectors import (
    Cusum,
    Detector,
    DetectorStep,
    PageHinkley,
    RollingError,
    StreamingDetector,
)
from twinops.fidelity.drift_monitor import (
    BatchDetail,
    BatchOutcome,
    DriftMonitor,
    PointLike,
    StreamStatus,
    check_series,
)
from twinops.fidelity.drift_policy import DriftAlert, DriftPolicy, ResidualEvidence
from twinops.fidelity.drift_predictors import (
    BehaviorModelPredictor,
    EwmaPredictor,
    PersistencePredictor,
    RegressionPredictor,
    StepInputs,
    StepPredictor,
)

__all__ = [
    "BatchDetail",
    "BatchOutcome",
    "BehaviorModelPredictor",
    "Cusum",
    "Detector",
    "DetectorStep",
    "DriftAlert",
    "DriftMonitor",
    "DriftPolicy",
    "EwmaPredictor",
    "PageHinkley",
    "PersistencePredictor",
    "PointLike",
    "RegressionPredictor",
    "ResidualEvidence",
    "RollingError",
    "StepInputs",
    "StepPredictor",
    "StreamStatus",
    "StreamingDetector",
    "check_series",
]
