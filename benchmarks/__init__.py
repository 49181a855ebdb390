"""static-edge benchmarks."""
