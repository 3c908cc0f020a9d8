"""Learned predictors: the kit's :class:`nasearch.testing.PredictorContract` over every registered
predictor (built-ins and installed plugins)."""

from __future__ import annotations

from nasearch.predictors.base import predictor_names
from nasearch.testing import PredictorContract, contract_classes

globals().update(contract_classes(PredictorContract, predictor_names(), prefix="TestPredictor"))
