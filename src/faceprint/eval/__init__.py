"""Accuracy, fairness and speed measurement. Nothing in the runtime imports this package."""
