# goals.py  the benchmark's goals: each section reports whether its goal was met, and
# `make bench` (bench/run.py) exits non-zero when any was missed. Tests assert no goal: a
# figure depends on the machine; the bench is where a goal is judged.

FLEET_RATE = 3000  # issue 22: stsvend batch migrate, 2 workers, meters a second (bench/batch.py)


class Goals:
    def __init__(self):
        self.missed = []
        self.count = 0

    def check(self, name, met):
        """Record one goal; the word the report prints for it."""
        self.count += 1
        if not met:
            self.missed.append(name)
        return "PASS" if met else "FAIL"

    def summary(self):
        """The closing line, and the exit status: 0 when every goal was met, else 1."""
        if self.missed:
            return "goals: %d of %d missed: %s" % (
                len(self.missed),
                self.count,
                "; ".join(self.missed),
            ), 1
        return "goals: all %d met" % self.count, 0
