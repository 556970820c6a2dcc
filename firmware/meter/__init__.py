# meter  the rules of an STS meter (IEC 62055-41), pure logic: no hardware, no clock of its own
# The one entry point is Meter.apply(digits, now) -> Result; state lives in a RecordStore.
