"""Studies: one file each, a typed ``Args`` dataclass and ``run(args, out, progress)``; run with
``simalloc run NAME``."""
