"""Power-loss simulation (SPEC R17): the trees a power cut can leave, for any migrator.

A kill (R10) keeps everything the process wrote: it is in the page cache, and the kernel
writes it out later. A power cut loses the page cache: data never fsynced, and directory
changes never made durable by an fsync of their directory. This package builds those
states ALICE's way (Pillai et al., OSDI 2014): record the fault-free run's syscalls with the
bytes it wrote and the file positions (:func:`harness.faults.trace.record` with a
``data_limit`` and ``positions=True``), then replay the trace onto a model of the page cache
that keeps a volatile and a durable version of every file and directory, and write out the
durable version at every point where it can change.
``docs/power-loss.md`` says why this mechanism and not a FUSE layer, and what it cannot see.

Modules, one job each:

- :mod:`~harness.explore.powerloss.model`: the page cache (inodes, volatile vs durable, what an
  fsync makes durable); five kinds of crash image, ``synced``, ``committed``, ``prefix``,
  ``torn`` and ``reordered``;
- :mod:`~harness.explore.powerloss.profiles`: persistence profiles (``--fs``): which kinds a
  file system can leave, and ext4's flush on a rename over a file;
- :mod:`~harness.explore.powerloss.trace_replay`: strace events applied to the model; the crash
  points
  (just before every fsync, rename, unlink, mkdir, rmdir, link, symlink and file creation
  in the tree, and the end of the run);
- :mod:`~harness.explore.powerloss.image`: crash images as frozen data, with a digest so equal
  states are judged once;
- :mod:`~harness.explore.powerloss.materialise`: an image written out as a real tree;
- :mod:`~harness.explore.powerloss.baseline`: the fault explorer's recorded run, with written bytes;
- :mod:`~harness.explore.powerloss.judge`: one crash state judged (no content lost, converged);
- :mod:`~harness.explore.powerloss.failed_fsync`: a failed fsync (EIO) then a power cut: the run
  recorded with the error injected, its lost pages never on disk (``K:EIO+power-loss``);
- :mod:`~harness.explore.powerloss.explorer`: cases, results and the report, in the fault
  explorer's vocabulary (:mod:`harness.explore.results`); :func:`explore_power_loss`;
- :mod:`~harness.cli.powerloss`: ``python -m harness.cli.powerloss``, also the replay command.

The exploration modules are imported on demand (``harness.explore.powerloss.explorer``), so the
model can be used without the fault explorer.
"""

from harness.explore.powerloss.image import (
    COMMITTED,
    KINDS,
    SYNCED,
    VOLATILE,
    CrashImage,
    ImageNode,
)
from harness.explore.powerloss.materialise import materialise
from harness.explore.powerloss.model import FileSystem, ModelError
from harness.explore.powerloss.trace_replay import (
    CrashPoint,
    Replayer,
    ReplayError,
    crash_points,
    replay_images,
)

__all__ = [
    "COMMITTED",
    "KINDS",
    "SYNCED",
    "VOLATILE",
    "CrashImage",
    "CrashPoint",
    "FileSystem",
    "ImageNode",
    "ModelError",
    "ReplayError",
    "Replayer",
    "crash_points",
    "materialise",
    "replay_images",
]
