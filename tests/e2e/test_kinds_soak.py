# test_kinds_soak.py  every meter kind in the heap of a board: STA under DKGA02 and DKGA04, MISTY1
# under DKGA04, editions 1 and 2, each in its own simulator process (bench/kinds.py): its nine
# scenarios (credit, management, key changes of 2 and 4 sections, a TID rollover, power cycles
# between), and a soak through key changes, a rollover and power cycles (-m soak)
# The firmware and the simulator run as .mpy, as a board runs them. A board has 64 KB; this
# 64-bit binary's objects are twice a board's: KINDS_HEAP is what corresponds, measured for
# the same runs (92K fails some; on the 32-bit build, bench/micropython32.sh, every kind runs
# in 64K: `make bench MICROPYTHON32=...`). SOAK_HEAP and SOAK_MARCH (environment) run another
# heap and .mpy architecture, as for the keypad soak; KINDS_SOAK_TOKENS the soak's length.
import os

import pytest

from bench import kinds
from conftest import micropython_binary

KINDS_HEAP = dict.fromkeys(kinds.KINDS, "96K")
SOAK_HEAP = os.environ.get("SOAK_HEAP")
SOAK_MARCH = os.environ.get("SOAK_MARCH", "x64")


@pytest.fixture(scope="module")
def firmware_mpy(tmp_path_factory):
    """The firmware and the simulator as .mpy, once for the module, in a short folder (each
    module's path is a string on the heap)."""
    import shutil
    import tempfile

    d = tempfile.mkdtemp(prefix="k", dir="/tmp")
    yield kinds.build(os.path.join(d, "fw"), SOAK_MARCH)
    shutil.rmtree(d, ignore_errors=True)


def _run(plan, kind, firmware_mpy):
    import tempfile

    with tempfile.TemporaryDirectory(prefix="w", dir="/tmp") as work:
        return kinds.run(
            plan, micropython_binary(), SOAK_HEAP or KINDS_HEAP[kind], firmware_mpy, work
        )


@pytest.mark.parametrize("kind", sorted(kinds.KINDS))
def test_every_scenario_of_a_meter_kind_passes_in_the_heap_of_a_board(kind, firmware_mpy):
    failed = []
    for _, name, plan in kinds.scenarios([kind]):
        ok, why, _free = _run(plan, kind, firmware_mpy)
        if not ok:
            failed.append("%s: %s" % (name, why))
    assert not failed, "\n".join(failed)


@pytest.mark.soak
@pytest.mark.parametrize("kind", sorted(kinds.KINDS))
def test_a_meter_kind_soaks_through_key_changes_a_rollover_and_power_cycles(kind, firmware_mpy):
    n = int(os.environ.get("KINDS_SOAK_TOKENS", "1000"))
    plan = kinds.soak(kind, n)
    ok, why, free = _run(plan, kind, firmware_mpy)
    assert ok, why
    print(
        "\nkinds soak: %s meter, %d tokens (%d checks) in micropython -X heapsize=%s (.mpy): "
        "%d B free at the end" % (kind, n, len(plan.checks), SOAK_HEAP or KINDS_HEAP[kind], free)
    )
