# net  the home meter's network side: settings, an MQTT 3.1.1 client, Home Assistant
# discovery, the page and its JSON API. It runs beside app.Loop (asyncio), never inside a
# pass the watchdog times: with the network gone the meter is a keypad meter.

LOW_CREDIT = 50  # tenths of a kWh, as the ui's default


class Settings:
    """The home meter's settings (net/settings.py reads them). wifi, mqtt, http: dicts, or
    None when that part is off. repr() hides every secret."""

    wifi = mqtt = http = None  # dicts, or None when that part is off
    low_credit = LOW_CREDIT  # tenths
    interval = 60  # s between two state messages when nothing changed

    def __repr__(self):
        on = [k for k in ("wifi", "mqtt", "http") if getattr(self, k)]
        return "<Settings %s low_credit=%d>" % (" ".join(on) or "off", self.low_credit)
