"""书问 ShuWen: ask questions about a Chinese novel (ingest → index → retrieve → generate → speak)."""

__version__ = "0.1.0"
