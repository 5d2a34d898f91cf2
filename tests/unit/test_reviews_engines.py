"""The local engine's worker processes (``--workers N``) end with their parent, even when it is killed."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("pandas")

PARENT = textwrap.dedent(
    """
    import multiprocessing as mp
    import time

    import pandas as pd

    from affectkit.reviews.engines import run_local
    from affectkit.reviews.score import ScorerSpec


    def sink(scored):
        # the workers are up and scoring: say who they are, then hang until killed
        print(" ".join(str(p.pid) for p in mp.active_children()), flush=True)
        time.sleep(600)


    if __name__ == "__main__":
        frame = pd.DataFrame({"row": range(8), "text": ["a lovely little shop"] * 8, "embed": [False] * 8})
        spec = ScorerSpec(sentiment="lexicon", emotion=None, aspects=False, embed=False)
        run_local(frame, spec, workers=2, batch_size=1, sink=sink)
    """
)


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie waiting to be reaped counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_workers_die_when_their_parent_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    with subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          cwd=tmp_path) as parent:
        lines: queue.Queue = queue.Queue()
        reader = threading.Thread(target=lambda: [lines.put(line) for line in parent.stdout], daemon=True)
        reader.start()
        workers: list[int] = []
        try:
            try:
                workers = [int(p) for p in lines.get(timeout=180).split()]
            except queue.Empty:
                parent.kill()
                pytest.fail(f"the parent never scored a batch: {parent.stderr.read().decode()[-2000:]}")
            assert workers and all(_alive(pid) for pid in workers)
            os.kill(parent.pid, signal.SIGKILL)
            assert parent.wait(timeout=30) == -signal.SIGKILL
            deadline = time.monotonic() + 30
            while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
                time.sleep(0.1)
            left = [pid for pid in workers if _alive(pid)]
            assert not left, f"worker processes {left} outlived their killed parent"
        finally:
            for pid in workers:  # never leave a stray process behind, whatever happened
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
            reader.join(timeout=10)


def test_die_with_parent_returns_in_a_child_of_this_process():
    """Armed in a process whose parent is alive, it returns and the process goes on."""
    code = "import os, sys; from affectkit.reviews.engines import die_with_parent; die_with_parent(int(sys.argv[1])); print('ok')"
    done = subprocess.run([sys.executable, "-c", code, str(os.getpid())], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    # a parent that is not this process's parent: it ends at once (the parent is taken for gone)
    gone = subprocess.run([sys.executable, "-c", code, "1" if os.getpid() != 1 else "2"], capture_output=True,
                          text=True, timeout=120)
    assert gone.returncode == 1 and gone.stdout == ""
