"""Prints the speed comparisons' table (bench/compare_*.sh): one row per run, one column per round.
  speed_table.py RESULTS TITLE NAME=COLUMN[/BASE]...
RESULTS holds one line per round of whitespace-separated tokens/s; a row shows COLUMN's values and,
with /BASE, each one's ratio to column BASE of the same round and the median ratio."""
import statistics
import sys

rounds = [[float(x) for x in line.split()] for line in open(sys.argv[1])]
width = 18
print(f"{sys.argv[2]:<52}" + "".join(f"{'round ' + str(i + 1):>{width}}" for i in range(len(rounds))) + f"{'median':>9}")
for spec in sys.argv[3:]:
    name, columns = spec.rsplit("=", 1)
    column, _, base = columns.partition("/")
    values = [r[int(column)] for r in rounds]
    bases = [r[int(base)] for r in rounds] if base else None
    cells = [f"{v:,.0f}" + (f" ({v / b:.2f}x)" if bases else "") for v, b in zip(values, bases or values)]
    median = f"{statistics.median(v / b for v, b in zip(values, bases)):.2f}x" if bases else ""
    print(f"{name:<52}" + "".join(f"{c:>{width}}" for c in cells) + f"{median:>9}")
