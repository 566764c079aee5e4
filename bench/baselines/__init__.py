"""The servers users write today, as tutorials teach them (the baselines of the benchmark),
and the bare ASGI + ONNX Runtime app: the reference, the limit, not a baseline to beat."""
