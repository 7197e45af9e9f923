"""`python -m fxticker` runs the command line."""

from fxticker.cli import main

# Guarded: a process pool started with forkserver (fxticker.collect.ingest, from a process that runs threads)
# imports the main module again in its server, which must not run the command a second time.
if __name__ == "__main__":
    main()
