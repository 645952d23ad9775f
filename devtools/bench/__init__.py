"""callsteer's benchmark: `python -m devtools.bench [--quick]` (see devtools/bench/run.py and the README).

Kept free of imports: `python -m devtools.bench.coldstart` must start from a clean interpreter.
"""
