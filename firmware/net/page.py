# page.py  the page the meter serves: the LCD, balance, supply, a token field, the short codes
# Phone-sized; the PIN is typed once and kept in the page's memory only (sent as a Bearer
# header with each request). The short codes are the ui's own (ui/texts.py).
# Imported by web.py for a GET / and let go after it: from a file system its .mpy's bytes
# constants (3 KB) are in the heap only while a page is sent (frozen, they stay in flash).
from ui.texts import CODES

_HEAD = b"""<!doctype html><html lang=en><head><meta charset=utf-8>
<meta name=viewport content="width=device-width,initial-scale=1"><title>stsmeter</title><style>
body{font:17px system-ui,sans-serif;margin:0 auto;max-width:30em;padding:12px}
#lcd{font:20px monospace;background:#9c3;color:#111;padding:8px;border-radius:6px;
white-space:pre;overflow:hidden}input,button{font-size:20px;padding:8px;box-sizing:border-box}
#token,#pin{width:100%}button{width:100%;margin-top:6px}.off{color:#b00}.on{color:#080}
li{margin:2px 0}</style></head><body><h1>Meter</h1>
<form id=pinf><label>PIN <input id=pin type=password inputmode=numeric autocomplete=off>
</label><button>Unlock</button></form>
<div id=main hidden><div id=lcd></div><p>Balance <b id=bal></b> kWh. Supply <b id=sup></b>
<span id=low></span></p><form id=tokf><label>Token or short code
<input id=token inputmode=numeric autocomplete=off placeholder="20 digits"></label>
<button>Enter</button></form><p id=res role=status></p><details><summary>Short codes
</summary><ul>"""
_TAIL = b"""</ul></details></div><p id=err role=alert></p><script>
let pin="";const $=i=>document.getElementById(i);
async function api(p,body){const r=await fetch(p,{method:body?"POST":"GET",
headers:{Authorization:"Bearer "+pin},body:body?JSON.stringify(body):undefined});
const j=await r.json();if(r.status==401||r.status==429){$("err").textContent=j.locked?
"Locked for "+j.locked+" s":j.error;if(r.status==401){$("main").hidden=true;
$("pinf").hidden=false}throw 0}$("err").textContent="";return j}
function show(s){$("lcd").textContent=s.lines.join("\\n");if(s.fault){$("bal").textContent="-";
return}$("bal").textContent=s.balance.toFixed(1);$("sup").textContent=s.supply?"ON":"OFF";
$("sup").className=s.supply?"on":"off";$("low").textContent=s.low_credit?"(low credit)":""}
async function poll(){try{show(await api("/api/status"))}catch(e){}}
$("pinf").onsubmit=async e=>{e.preventDefault();pin=$("pin").value;$("pin").value="";
try{show(await api("/api/status"));$("pinf").hidden=true;$("main").hidden=false}catch(e){}};
$("tokf").onsubmit=async e=>{e.preventDefault();try{const r=await api("/api/token",
{token:$("token").value});$("res").textContent=r.lines.join(" ");$("res").dataset.result=r.result;
$("token").value="";poll()}catch(e){}};setInterval(()=>{if(pin)poll()},2000);
</script></body></html>"""


def chunks():
    """The page, a piece at a time (no copy of the whole on the heap): its head, one list
    item per short code, its tail."""
    yield _HEAD
    for k in sorted(CODES, key=lambda k: (len(k), k)):
        yield b"<li><b>%s</b> %s</li>" % (k.encode(), CODES[k].replace("_", " ").encode())
    yield _TAIL
