"""Backends answer requests: vLLM (offline engine), Hugging Face transformers."""
