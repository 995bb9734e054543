"""Generate: chat-model backends, prompts and answers grounded in retrieved passages."""
