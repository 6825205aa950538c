"""Evaluation of interpolations: metrics, aggregation, reports."""
