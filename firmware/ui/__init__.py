# ui  the meter people touch: key events and time in, display frames out (no hardware)
