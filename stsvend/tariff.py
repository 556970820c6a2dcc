# tariff.py  a utility's tariff: a sum of money -> the energy a vending office sells for it.
# A file (JSON): currency, the price of a unit (kWh for electricity) or blocks of prices, the
# minimum purchase. The units sold are whole tenths that a token can carry (IEC 62055-41
# transfer amounts: 0.1 kWh steps up to 1638.3 kWh, coarser above), never more than the money
# pays for; what the money does not buy is the change, stated.
import decimal
import json
import os
import re
from decimal import Decimal

from sts import amount

_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")  # ASCII digits: 79, 79.5 (not 7.9e1, 1_000)


class TariffError(ValueError):
    """A tariff file that sets no price, or a sale it cannot make (below the minimum)."""


def number(value, what):
    """A price or a sum as a Decimal: a JSON number or a string of ASCII digits, >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TariffError("%s: a number, got %s" % (what, type(value).__name__))
    text = value.strip() if isinstance(value, str) else repr(value)
    if not _NUMBER.fullmatch(text):
        shown = text if len(text) <= 24 else text[:20] + "..."
        raise TariffError("%s: a number in digits 0-9 (like 79.5), got %r" % (what, shown))
    return Decimal(text)


class Tariff:
    """Prices per unit, in blocks: [(units in the block or None for the rest, price)]."""

    def __init__(self, data, where="tariff"):
        if not isinstance(data, dict):
            raise TariffError("%s: a JSON object expected" % where)
        self.name = data.get("name", where)
        self.currency = data.get("currency")
        if not (isinstance(self.currency, str) and 0 < len(self.currency) <= 8):
            raise TariffError("%s: currency: its code, like XOF or XAF" % where)
        d = data.get("decimals", 0)
        if not isinstance(d, int) or isinstance(d, bool) or not 0 <= d <= 3:
            raise TariffError("%s: decimals: the currency's decimal places, 0..3" % where)
        self.unit = Decimal(1).scaleb(-d)  # the smallest coin: 1 FCFA, 0.01 of most others
        self.minimum = number(data.get("minimum", 0), "%s: minimum" % where)
        if ("price" in data) == ("blocks" in data):
            raise TariffError(
                "%s: give either price (per kWh) or blocks ([{kwh, price}, ..., {price}])" % where
            )
        if "price" in data:
            self.blocks = [(None, number(data["price"], "%s: price" % where))]
        else:
            blocks = data["blocks"]
            if not isinstance(blocks, list) or not blocks:
                raise TariffError("%s: blocks: a list of {kwh, price}, the last {price}" % where)
            self.blocks = []
            for i, b in enumerate(blocks, 1):
                last = i == len(blocks)
                if not isinstance(b, dict) or "price" not in b or ("kwh" in b) == last:
                    raise TariffError(
                        "%s: block %d: {kwh, price}%s"
                        % (
                            where,
                            i,
                            "; the last block has a price alone (the rest)" if last else "",
                        )
                    )
                size = None if last else number(b["kwh"], "%s: block %d kwh" % (where, i))
                self.blocks.append((size, number(b["price"], "%s: block %d price" % (where, i))))
        if any(price <= 0 for _, price in self.blocks):
            raise TariffError("%s: every price is above zero" % where)

    def cost(self, tenths):
        """The price of `tenths` tenths of a unit, exact (blocks count from each sale's start)."""
        left = Decimal(tenths) / 10
        total = Decimal(0)
        for size, price in self.blocks:
            take = left if size is None else min(left, size)
            total += take * price
            left -= take
            if not left:
                break
        return total

    def _affordable(self, money):
        """The most whole tenths `money` pays for."""
        tenths = 0
        for size, price in self.blocks:
            if size is None or money < size * price:
                return tenths + int((money * 10 / price).to_integral_value(decimal.ROUND_FLOOR))
            money -= size * price
            tenths += int(size * 10)
        return tenths

    def sell(self, money):
        """A sum of money -> Sale: the tenths a token carries for it, the price, the change."""
        money = number(money, "money") if not isinstance(money, Decimal) else money
        if money != money.quantize(self.unit, rounding=decimal.ROUND_FLOOR):
            raise TariffError(
                "%s %s: the %s has %d decimal place(s)"
                % (money, self.currency, self.currency, -self.unit.as_tuple().exponent)
            )
        if money < self.minimum:
            raise TariffError(
                "%s %s is below the minimum purchase of %s %s: no token is sold for it"
                % (_show(money), self.currency, _show(self.minimum), self.currency)
            )
        tenths = min(self._affordable(money), amount.MAX_TENTHS)
        tenths = _encodable_down(tenths)
        if tenths <= 0:
            raise TariffError(
                "%s %s buys less than 0.1 kWh at %s: no token is sold for it"
                % (_show(money), self.currency, self.price_text())
            )
        # The office charges whole coins, rounded up, never more than was paid (money is whole
        # coins and cost(tenths) <= money).
        charged = self.cost(tenths).quantize(self.unit, rounding=decimal.ROUND_CEILING)
        return Sale(self, money, tenths, charged, money - charged)

    def price_text(self):
        if len(self.blocks) == 1:
            return "%s %s/kWh" % (_show(self.blocks[0][1]), self.currency)
        parts = []
        start = Decimal(0)
        for size, price in self.blocks:
            if size is None:
                parts.append("above %s kWh %s" % (_show(start), _show(price)))
            else:
                parts.append("%s-%s kWh %s" % (_show(start), _show(start + size), _show(price)))
                start += size
        return "%s (%s/kWh)" % (", ".join(parts), self.currency)


class Sale:
    """What a sum bought: tenths (what the token carries), the price charged, the change."""

    def __init__(self, tariff, money, tenths, charged, change):
        self.tariff, self.money, self.tenths = tariff, money, tenths
        self.charged, self.change = charged, change

    def text(self):
        c = self.tariff.currency
        return "paid %s %s: %d.%d kWh at %s = %s %s, change %s %s" % (
            _show(self.money),
            c,
            self.tenths // 10,
            self.tenths % 10,
            self.tariff.price_text(),
            _show(self.charged),
            c,
            _show(self.change),
            c,
        )

    def as_dict(self):
        return {
            "paid": str(self.money),
            "currency": self.tariff.currency,
            "tenths": self.tenths,
            "charged": str(self.charged),
            "change": str(self.change),
        }


def _show(d):
    """A Decimal as a person writes it: 150, 12.5 (no exponent, no trailing zeros)."""
    text = format(d.normalize(), "f")
    return text


def _encodable_down(tenths):
    """The largest amount a token carries that is at most `tenths` (STS amounts are exact in
    0.1 steps up to 1638.3, then coarser: the office never sells more than was paid for)."""
    raw = amount.encode(tenths)
    if amount.decode(raw) == tenths or raw == 0:
        return amount.decode(raw)
    return amount.decode(raw - 1)  # (the ranges join: one step down is the next value below)


_HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "campaign")


def load(path):
    """A tariff file; a bare name with no such file here (demo) is a packaged one."""
    packaged = os.path.join(_HERE, "tariff-%s.json" % path)
    if os.sep not in path and not os.path.exists(path) and os.path.exists(packaged):
        path = packaged
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise TariffError("cannot read tariff %s: %s" % (path, e.strerror or e)) from None
    except ValueError as e:
        raise TariffError("tariff %s is not JSON: %s" % (path, e)) from None
    return Tariff(data, path)
