"""Eval suite: score any planner or predictions file on YAML cases by execution accuracy."""

from skipper.evals.cases import Case, CasesFile, CaseSuite, Turn, load_cases
from skipper.evals.runner import EvalRun, run_eval
from skipper.evals.scoring import Reference, Verdict, compare
from skipper.evals.systems import Planner, Predictions

__all__ = [
    "Case",
    "CaseSuite",
    "CasesFile",
    "EvalRun",
    "Planner",
    "Predictions",
    "Reference",
    "Turn",
    "Verdict",
    "compare",
    "load_cases",
    "run_eval",
]
