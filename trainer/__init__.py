"""static-edge trainer: distill and train static embedding models (needs the `train` extra)."""
