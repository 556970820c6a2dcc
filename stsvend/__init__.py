# stsvend  the vending side in CPython: decoder keys, tokens of every class, TID ledger,
# fleet batches, the `stsvend` CLI. One codec for both sides: `sts` is the firmware's own,
# packaged from firmware/sts.
