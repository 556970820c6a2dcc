# wifi.py  a board's WiFi station: connected at start, and again whenever it drops
# network.WLAN.connect() returns at once; the wait for the link is asyncio's, beside the loop.
import asyncio


async def keep(wifi, log):
    import network

    sta = network.WLAN(network.STA_IF)
    sta.active(True)
    while True:
        if not sta.isconnected():
            log("wifi: connecting to %s" % wifi["ssid"])  # (never the password)
            try:
                sta.connect(wifi["ssid"], wifi["password"])
            except OSError as e:
                log("wifi: %s" % e)
            for _ in range(30):
                await asyncio.sleep_ms(1000)
                if sta.isconnected():
                    log("wifi: up, %s" % sta.ifconfig()[0])
                    break
        await asyncio.sleep_ms(5000)
