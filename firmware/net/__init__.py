# net  the home meter's network side: settings, an MQTT 3.1.1 client, Home Assistant
# discovery, the page and its JSON API. It runs beside app.Loop (asyncio), never inside a
# pass the watchdog times: with the network gone the meter is a keypad meter.
