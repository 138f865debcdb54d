"""The ``ota`` application: the command line, the radios, the link and the studies built on them.

Importing it sets numpy's documented ``NUMPY_MADVISE_HUGEPAGE`` to 0 unless it is already set (numpy
reads it once, when it is first imported, so this holds for ``ota`` commands and for programs that
import ``ota`` before numpy). numpy otherwise asks the kernel for transparent huge pages on every array
of 4 MiB and more; where the kernel's THP ``defrag`` policy is ``madvise`` (its default), the first
touch of such memory can stall in direct compaction. On the project's 2-core machine the receiver's
first pass over a 10 s capture spent up to 0.66 s in the kernel with the advice and 0.13 to 0.16 s
without it (``benchmarks/phy.py``: ``rx_runs`` against ``rx_runs_numpy_hugepages`` in
``docs/benchmarks/phy/phy.json``). ``NUMPY_MADVISE_HUGEPAGE=1`` restores numpy's behaviour.
"""

import os

NUMPY_ENVIRONMENT = {"NUMPY_MADVISE_HUGEPAGE": "0"}
"""Environment variables that ``ota`` sets for numpy (where they are not set already)."""

for _name, _value in NUMPY_ENVIRONMENT.items():
    os.environ.setdefault(_name, _value)
