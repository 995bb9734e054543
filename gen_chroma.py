"""Build, update, list or delete the Chroma store of a novel.

    python gen_chroma.py --novel corpus/青石镇奇案.txt          # build or update (incremental)
    python gen_chroma.py --novel book.txt --name 书名 --rebuild  # re-embed everything (atomic)
    python gen_chroma.py --novel book.txt --dry-run --json       # load and chunk only
    python gen_chroma.py --list | --delete NAME

The same command as `shuwen index` (rag/index/cli.py).
"""

import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from rag.index.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(prog="gen_chroma.py"))
