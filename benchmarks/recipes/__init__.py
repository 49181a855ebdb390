"""Training recipes: three models trained from ../shared/data, their shared steps and data readers."""
