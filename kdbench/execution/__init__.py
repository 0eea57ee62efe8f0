"""Running a sweep anywhere: a planner turns runs into a DAG of picklable jobs, an executor (a
plugin: ``local``, ``ray``, ``slurm``) runs them, and ``execute(job, context)`` runs one job in
whatever process it lands in. Results and cache are shared through the file system, with a lock
per teacher and per run, so any number of runners can work on one track."""
