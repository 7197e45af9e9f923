"""`python -m fxticker` runs the command line."""

from fxticker.cli import main

main()
