# hd44780.py  what an HD44780 character LCD does, for any bus (after dhylands/python_lcd)
# A subclass per bus implements hal_write_init_nibble, hal_write_command, hal_write_data
# and, if it can, hal_backlight; the logic here is tested once for every wiring.
from micropython import const

_CLR = const(0x01)
_HOME = const(0x02)
_ENTRY_INC = const(0x06)  # entry mode: address counter increments, display does not shift
_DISPLAY = const(0x08)  # display control; | 0x04 display on, | 0x02 cursor, | 0x01 blink
_DISPLAY_ON = const(0x04)
_FUNCTION_4BIT_2LINE = const(0x28)
_FUNCTION_4BIT_1LINE = const(0x20)
_CGRAM = const(0x40)
_DDRAM = const(0x80)
# DDRAM address of each row's first column: lines 3 and 4 of a 20x4 continue lines 1 and 2
_ROW_ADDR = b"\x00\x40\x14\x54"


class HD44780:
    """A rows x cols character LCD: clear, move_to, putstr, and show(lines) for the UI."""

    def __init__(self, rows, cols):
        self.rows = rows
        self.cols = cols
        self.x = 0
        self.y = 0
        # what the glass shows, so show() writes only the characters that changed
        self._shadow = bytearray(b" " * (rows * cols))
        self._backlight = True
        self._init_controller()

    def _init_controller(self):
        # the datasheet's reset by instruction: three 8-bit function sets bring the
        # controller to 8-bit mode from any state (even half way through a 4-bit byte)
        for _ in range(3):
            self.hal_write_init_nibble(0x03)
            self.hal_sleep_ms(5)
        self.hal_write_init_nibble(0x02)
        self.hal_write_command(_FUNCTION_4BIT_2LINE if self.rows > 1 else _FUNCTION_4BIT_1LINE)
        self.hal_write_command(_DISPLAY | _DISPLAY_ON)
        self.clear()
        self.hal_write_command(_ENTRY_INC)

    def recover(self):
        """Set the controller up again after a bus error (a loose wire, a module plugged
        back in): the glass is blanked, and the next show() draws the whole frame."""
        self._init_controller()

    def clear(self):
        """Blank the display and put the cursor at the top left."""
        self.hal_write_command(_CLR)
        self.hal_sleep_ms(2)  # clear takes 1.52 ms and the busy flag cannot be read
        for i in range(len(self._shadow)):
            self._shadow[i] = 32
        self.x = 0
        self.y = 0

    def move_to(self, col, row):
        """Put the cursor at col, row (both from 0)."""
        self.x = col
        self.y = row
        self.hal_write_command(_DDRAM | (_ROW_ADDR[row] + col))

    def putchar(self, ch):
        """Write one character at the cursor; wrap to the next row at the end of a row."""
        if ch == "\n":
            self.x = self.cols  # forces the wrap below
        else:
            c = ord(ch)
            self._write_at(c if c < 256 else 0x3F)
        if self.x >= self.cols:
            self.move_to(0, (self.y + 1) % self.rows)

    def putstr(self, s):
        """Write a string at the cursor."""
        for ch in s:
            self.putchar(ch)

    def _write_at(self, c):
        self.hal_write_data(c)
        i = self.y * self.cols + self.x
        if i < len(self._shadow):
            self._shadow[i] = c
        self.x += 1

    def show(self, lines):
        """Draw a frame: up to `rows` strings, each padded or cut to `cols`."""
        cols = self.cols
        sh = self._shadow
        for row in range(self.rows):
            line = lines[row] if row < len(lines) else ""
            n = len(line)
            base = row * cols
            for col in range(cols):
                c = ord(line[col]) if col < n else 32
                if c > 255:
                    c = 0x3F  # "?": the character ROM has nothing for it
                if sh[base + col] != c:
                    # the address counter already points here after a write to the left
                    if self.y != row or self.x != col:
                        self.move_to(col, row)
                    self._write_at(c)

    def custom_char(self, location, charmap):
        """Define character 0..7 from 8 bytes of 5-pixel rows."""
        self.hal_write_command(_CGRAM | ((location & 7) << 3))
        for b in charmap[:8]:
            self.hal_write_data(b)
        self.move_to(self.x, self.y)  # DDRAM again, so later data lands on the glass

    def display(self, on, cursor=False, blink=False):
        """Turn the display, the underline cursor and the blinking block on or off."""
        self.hal_write_command(
            _DISPLAY | (_DISPLAY_ON if on else 0) | (2 if cursor else 0) | (1 if blink else 0)
        )

    def backlight(self, on):
        """Switch the backlight, where the bus has one."""
        self._backlight = bool(on)
        self.hal_backlight(self._backlight)

    # What a bus implements.
    def hal_write_init_nibble(self, nibble):
        """Write the 4-bit value to D7..D4 as one 8-bit-mode instruction (RS=0)."""
        raise NotImplementedError

    def hal_write_command(self, cmd):
        raise NotImplementedError

    def hal_write_data(self, data):
        raise NotImplementedError

    def hal_backlight(self, on):
        pass

    def hal_sleep_ms(self, ms):
        pass
