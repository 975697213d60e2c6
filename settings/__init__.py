"""The bottom layer every other package may import: what a run reads from its environment, and
the one base class of errors that make a run unusable."""
