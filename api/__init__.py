"""书问 over HTTP: an OpenAI-compatible API (`python -m rag serve`) over the same pipeline as the page and CLI."""
