"""factory: a rejection-sampling and distillation data factory for reasoning language models."""

__version__ = "0.1.0"
