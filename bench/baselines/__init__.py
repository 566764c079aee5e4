"""The servers users write today, as tutorials teach them: the baselines of the benchmark."""
