"""One module per workflow stage: pure functions from input paths + params to output paths."""
