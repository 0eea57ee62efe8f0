"""Training, evaluation and metrics shared by every method."""
