"""Measurements: speed, scale, memory, browser, server, tokenizer and parity tables in benchmarks/results/."""
