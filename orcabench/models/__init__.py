"""Models: the registry, the bundled GGUF models, chat-template rendering, the shared tokenizer."""
