"""Where sweep points train: local worker processes, or Slurm jobs through submitit.

Both start the same worker (``vaultlab.executors.worker``) on a job file in the point's run
directory; workers only ever write run directories, never notes.
"""
