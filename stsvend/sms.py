# sms.py  the text a customer reads: the meter, the codes in order with the key to press after
# each, the 2-minute window of a key change, the amount with the credit code; one SMS (160
# GSM-7 characters) or numbered parts that each fit one, from a template per language
import json
import os
import string

SMS = 160  # GSM-7 characters in one SMS (03.38 default alphabet)
# GSM 03.38: the default alphabet (one character each) and its extension table (two each:
# an escape, then the character). Anything else would send the text as UCS-2, 70 a message.
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_EXTENSION = "^{}\\[~]|€\f"
_HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "campaign")
LANGUAGES = ("en", "fr")  # shipped: stsvend/campaign/sms-LANG.json
# What a template holds, and the fields each text may use.
FIELDS = {
    "migrate": ("meter", "window"),  # the first line of a key change set
    "window": ("codes",),  # codes 1 and 2 (or 1 to 4) go within 2 minutes
    "pair": ("first", "last"),  # "1 and 2"
    "range": ("first", "last"),  # "1 to 4"
    "credit_only": ("meter",),  # the first line of a credit token alone
    "code": ("n", "code"),  # one code of a key change
    "credit": ("n", "code", "amount", "unit"),  # the credit code, with its amount
    "part": ("i", "n"),  # before each part of a text that needs more than one SMS
}


class SmsError(ValueError):
    """A template that cannot make a customer's text, or a text no SMS can carry."""


_NOT_BASIC = str.maketrans("", "", _BASIC)  # (str.translate drops the basic characters)
_NOT_EITHER = str.maketrans("", "", _EXTENSION)


def gsm7_length(text):
    """Characters one SMS counts for `text` in GSM-7, or None if it has a character GSM-7 lacks."""
    rest = text.translate(_NOT_BASIC)  # what is left: extension characters, or none of GSM-7's
    if rest.translate(_NOT_EITHER):
        return None
    return len(text) + len(rest)  # (an extension character counts twice)


def _check(name, text):
    if not isinstance(text, str):
        raise SmsError("template %s: a string, got %s" % (name, type(text).__name__))
    bad = [c for c in text if c not in _BASIC and c not in _EXTENSION]
    if bad:
        raise SmsError(
            "template %s: %r is not in the SMS alphabet (GSM-7): the text would go as UCS-2, "
            "70 characters a message" % (name, bad[0])
        )
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as e:
        raise SmsError("template %s: %s" % (name, e)) from None
    for _, field, spec, conv in parsed:
        if field is not None and (field not in FIELDS[name] or spec or conv):
            raise SmsError(
                "template %s: {%s} is not one of its fields: %s"
                % (name, field, ", ".join("{%s}" % f for f in FIELDS[name]))
            )


def load(which="en"):
    """A template: a shipped language (en, fr) or a utility's own JSON file (a path)."""
    path = os.path.join(_HERE, "sms-%s.json" % which) if which in LANGUAGES else which
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise SmsError(
            "SMS template %s: cannot read it (%s); the shipped ones: %s"
            % (which, e.strerror or e, ", ".join(LANGUAGES))
        ) from None
    except ValueError as e:
        raise SmsError("SMS template %s is not JSON: %s" % (which, e)) from None
    if not isinstance(data, dict):
        raise SmsError("SMS template %s: a JSON object expected" % which)
    missing = [k for k in FIELDS if k not in data]
    if missing:
        raise SmsError("SMS template %s: missing %s" % (which, ", ".join(missing)))
    for name in FIELDS:
        _check(name, data[name])
    return {k: data[k] for k in FIELDS}


def grouped(digits):
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def lines(template, meter, codes, amount=None, unit="kWh"):
    """The text's lines: a first line naming the meter (and the key change's window), then each
    code in typing order; the last carries the amount when it is credit (amount not None)."""
    t = template
    n = len(codes) - (1 if amount is not None else 0)  # key change codes
    if n:
        codes_text = (t["pair"] if n == 2 else t["range"]).format(first=1, last=n)
        head = t["migrate"].format(meter=meter, window=t["window"].format(codes=codes_text))
    else:
        head = t["credit_only"].format(meter=meter)
    out = [head]
    for i, c in enumerate(codes, 1):
        if amount is not None and i == len(codes):
            out.append(t["credit"].format(n=i, code=grouped(c), amount=amount, unit=unit))
        else:
            out.append(t["code"].format(n=i, code=grouped(c)))
    return out


def texts(template, meter, codes, amount=None, unit="kWh", limit=SMS):
    """The customer's text as SMS: [one text] when it fits, else numbered parts, each within
    `limit` GSM-7 characters, split between lines (never inside a code)."""
    body = lines(template, meter, codes, amount, unit)
    whole = "\n".join(body)
    if gsm7_length(whole) <= limit:
        return [whole]
    for n in range(2, len(body) + 1):
        parts, cur = [], []
        for line in body:
            trial = cur + [line]
            head = template["part"].format(i=len(parts) + 1, n=n)
            if cur and gsm7_length(head + "\n".join(trial)) > limit:
                parts.append(cur)
                cur = [line]
            else:
                cur = trial
        parts.append(cur)
        out = [template["part"].format(i=i, n=n) + "\n".join(p) for i, p in enumerate(parts, 1)]
        if len(out) == n and all(gsm7_length(p) <= limit for p in out):
            return out
    raise SmsError(
        "the customer's text cannot be split into SMS of %d characters: a line is longer "
        "(%s...)" % (limit, max(body, key=len)[:40])
    )
