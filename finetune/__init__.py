"""Fine-tuning kit, in pipeline order: base (GGUF → HF) · qa / persona / dialogue (data) · export · train · merge · to_gguf."""
