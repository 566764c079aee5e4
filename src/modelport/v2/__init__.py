"""The Open Inference Protocol ("V2" of KServe, Triton and MLServer): tensors and codecs.

Kept apart from the HTTP routes so the codec can be tested (and reused) on its own.
"""
