"""The JavaScript sandbox for expressions (SPEC §5); see `sandbox.py` for why V8."""

from engine.expressions.sandbox import EvalResult, ExpressionError, evaluate, js_truthy

__all__ = ["EvalResult", "ExpressionError", "evaluate", "js_truthy"]
