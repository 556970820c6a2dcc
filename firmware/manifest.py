# manifest.py  the meter's firmware as a MicroPython package: what goes to a board
# metadata, package and module come from MicroPython's makemanifest, not Python:
# boards/<name>/manifest.py include()s this to freeze it; firmware/package.json (mip) is made
# from it (python -m tools.build_mpy --package-json firmware/package.json); `deploy`
# builds the .mpy files it names. Paths are relative to this file. Left out: sts/blocks.py
# (named field layouts: a meter reads fields with sts/kinds.py), sts/stages.py,
# sts/vending.py, sts/dates.py and sts/words.py (the vending tools' and the
# classroom page's), hal/virtual.py (the simulator's and the page's drivers) and
# hal/ssd1306.py (an OLED no board here wires).
# `deploy` also leaves out the energy driver its board.py's ENERGY does not name.
metadata(
    description="stsmeter: an STS (IEC 62055-41) prepaid electricity meter: token decoder, "
    "credit, keypad, LCD, relay",
    version="0.2.0",  # pyproject.toml's [project] version
)
package(
    "sts",
    files=(
        "__init__.py",
        "_viper.py",
        "amount.py",
        "codec.py",
        "crc.py",
        "digits.py",
        "errors.py",
        "kernels.py",
        "kinds.py",
        "misty1.py",
        "sta.py",
        "sta_portable.py",  # where viper does not load: the portable twin
    ),
)
package("meter")
package(
    "hal",
    files=(
        "__init__.py",
        "clock.py",
        "energy.py",
        "gpio.py",
        "hd44780.py",
        "keypad.py",
        "pcf8574_lcd.py",
        "pzem.py",
        "s0.py",
        "wiring.py",
    ),
)
package("ui")
package("net")  # the home meter (WiFi boards): used only when /home.json is there
module("app.py")
module("startup.py")
module("selftest.py")
module("main.py")
