"""A small Chinese (+ a few English number words) ITN grammar in FunASR's ITN model format
(WeTextProcessing layout): writes zh_itn_tagger.txt and zh_itn_verbalizer.txt, OpenFst text
FSTs over byte labels (1..255 = the bytes of UTF-8 text, 0 = epsilon). make-itn.sh compiles them
with fstcompile, removes epsilons and sorts the arcs (fstrmepsilon, fstarcsort).

Only the Python standard library is used. The grammar is written here as combinators that build
Thompson-style epsilon machines (a fresh copy at every use). What it covers is listed in
docs/itn.md ("The test grammar"); the output conventions follow WeTextProcessing's Chinese ITN
(e.g. 二零二四年三月五日 -> 2024/03/05, 五十元 -> ¥50, 上午八点半 -> 8:30a.m.).

Tagger output: tokens `name { key: "value" ... }` separated by one space, e.g.
  我有一百二十三个 -> char { value: "我" } char { value: "有" } cardinal { value: "123" } char { value: "个" }
Field orders are those a tagger naturally produces from Chinese word order (money: value before
currency, fraction: denominator before numerator, time: noon first); the verbaliser accepts only
FunASR's reordered field orders (itn-token-parser), so the reordering step is exercised.
"""
import argparse
import os


class Builder:
    """Arcs of one FST under construction. A machine is a (start, final) pair of states."""

    def __init__(self):
        self.n = 0
        self.arcs = []  # (src, dst, ilabel, olabel, weight)

    def state(self):
        self.n += 1
        return self.n - 1

    def arc(self, s, d, i, o, w=0.0):
        self.arcs.append((s, d, i, o, w))

    # --- primitives -------------------------------------------------------------------
    def cross(self, inp, out, w=0.0):
        """inp -> out (strings), aligned byte by byte, epsilon-padded; weight w on the first arc."""
        ib, ob = inp.encode(), out.encode()
        s = self.state()
        cur = s
        k = max(len(ib), len(ob))
        if k == 0:
            f = self.state()
            self.arc(s, f, 0, 0, w)
            return s, f
        for j in range(k):
            nxt = self.state()
            self.arc(cur, nxt, ib[j] if j < len(ib) else 0, ob[j] if j < len(ob) else 0, w if j == 0 else 0.0)
            cur = nxt
        return s, cur

    def acc(self, text):
        return self.cross(text, text)

    def ins(self, text, w=0.0):
        return self.cross("", text, w)

    def dele(self, text):
        return self.cross(text, "")

    def eps(self, w=0.0):
        return self.cross("", "", w)

    def bytes_in(self, byte_values, mapping=None):
        """One byte from byte_values, copied (or mapped: mapping[b] = output byte, 0 = delete)."""
        s, f = self.state(), self.state()
        for b in byte_values:
            self.arc(s, f, b, b if mapping is None else mapping[b])
        return s, f

    # --- combinators ------------------------------------------------------------------
    def seq(self, *ms):
        s = self.state()
        cur = s
        for a, b in ms:
            self.arc(cur, a, 0, 0)
            cur = b
        f = self.state()
        self.arc(cur, f, 0, 0)
        return s, f

    def alt(self, *ms):
        s, f = self.state(), self.state()
        for a, b in ms:
            self.arc(s, a, 0, 0)
            self.arc(b, f, 0, 0)
        return s, f

    def weight(self, m, w):
        return self.seq(self.eps(w), m)

    def opt(self, m):
        return self.alt(m, self.eps())

    def star(self, m):
        s, f = self.state(), self.state()
        a, b = m
        self.arc(s, f, 0, 0)
        self.arc(s, a, 0, 0)
        self.arc(b, a, 0, 0)
        self.arc(b, f, 0, 0)
        return s, f

    def plus(self, make):
        return self.seq(make(), self.star(make()))

    def string_map(self, pairs):
        return self.alt(*[self.cross(i, o) for i, o in pairs])

    def write(self, path, start, final):
        # fstcompile takes the first listed arc's source as the start state: list it first.
        arcs = sorted(self.arcs, key=lambda a: a[0] != start)
        with open(path, "w", encoding="ascii") as out:
            for s, d, i, o, w in arcs:
                out.write(f"{s}\t{d}\t{i}\t{o}" + (f"\t{w:g}" if w else "") + "\n")
            if not arcs:
                out.write(f"{start}\t{start}\t0\t0\n")
            out.write(f"{final}\n")


DIGITS = {"一": "1", "二": "2", "三": "3", "四": "4", "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}
MULT_DIGITS = dict(DIGITS, **{"两": "2"})          # 两 only before a unit (两百, 两千, 两万)
STRING_DIGITS = dict(DIGITS, **{"零": "0", "幺": "1"})  # digit strings: 二零二四, 幺三五
EN_UNITS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
EN_TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
            "nineteen"]
EN_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]

CHAR_COST = 1.0   # one unconverted character (or ASCII word)
CLASS_COST = 0.5  # one converted token of any class: fewer, longer tokens win


def tagger(b, whitelist):
    digit = lambda: b.string_map(MULT_DIGITS.items())  # noqa: E731  1..9
    zero = lambda: b.cross("零", "0")  # noqa: E731
    addzero = lambda n=1, w=0.0: b.ins("0" * n, w)  # noqa: E731

    # 十一 -> 11, 十 -> 10
    def teen():
        return b.seq(b.cross("十", "1"), b.alt(digit(), addzero(1, 0.1)))

    # 二十一 -> 21, 三十 -> 30
    def tens():
        return b.seq(digit(), b.dele("十"), b.alt(digit(), addzero(1, 0.1)))

    # 一百二十三 -> 123, 一百零五 -> 105, 一百一 -> 110, 一百 -> 100
    def hundred():
        return b.seq(digit(), b.dele("百"), b.alt(
            tens(), teen(),
            b.weight(b.seq(zero(), digit()), 0.1),
            b.weight(b.seq(digit(), addzero()), 0.5),
            addzero(2, 1.0)))

    # 一千二百 -> 1200, 一千零五十 -> 1050, 一千零五 -> 1005, 一千二 -> 1200, 一千 -> 1000
    def thousand():
        return b.seq(digit(), b.dele("千"), b.alt(
            hundred(),
            b.weight(b.seq(zero(), b.alt(tens(), teen())), 0.1),
            b.weight(b.seq(addzero(), zero(), digit()), 0.5),
            b.weight(b.seq(digit(), addzero(2)), 0.8),
            addzero(3, 1.0)))

    # 三万五千 -> 35000, 十二万 -> 120000
    def ten_thousand():
        return b.seq(b.alt(teen(), tens(), digit()), b.dele("万"), b.alt(
            thousand(),
            b.weight(b.seq(zero(), hundred()), 0.1),
            b.weight(b.seq(addzero(), zero(), b.alt(tens(), teen())), 0.5),
            b.weight(b.seq(addzero(2), zero(), digit()), 0.5),
            b.weight(b.seq(digit(), addzero(3)), 0.8),
            addzero(4, 1.0)))

    def number():  # >= 10; single digits stay characters (一个, 三天)
        return b.alt(teen(), tens(), hundred(), thousand(), ten_thousand())

    def string_digit():
        return b.string_map(STRING_DIGITS.items())

    def digit_string():  # three or more: 二零二四 -> 2024, 幺三五 -> 135
        return b.seq(string_digit(), string_digit(), b.plus(string_digit))

    def decimal():  # 三点五 -> 3.5, 十二点零五 -> 12.05
        return b.seq(b.alt(number(), digit(), zero()), b.cross("点", "."), b.plus(string_digit))

    def amount():  # what percentages and money take
        return b.alt(number(), decimal(), digit())

    def field(key, m):
        return b.seq(b.ins(f'{key}: "'), m, b.ins('"'))

    def token(name, *fields):
        parts = [b.ins(f"{name} {{ ")]
        for k, f in enumerate(fields):
            if k:
                parts.append(b.ins(" "))
            parts.append(f)
        parts.append(b.ins(" }"))
        return b.weight(b.seq(*parts), CLASS_COST)

    # English number words: one .. nine hundred ninety nine
    def en_units():
        return b.string_map((w, str(k + 1)) for k, w in enumerate(EN_UNITS))

    def en_ten_to_ninety_nine():
        tens_ = lambda: b.string_map((w, str(2 + k)) for k, w in enumerate(EN_TENS))  # noqa: E731
        return b.alt(b.string_map((w, str(10 + k)) for k, w in enumerate(EN_TEENS)),
                     b.seq(tens_(), b.ins("0")),
                     b.seq(tens_(), b.dele(" "), en_units()))

    def en_number():
        hundreds = b.seq(en_units(), b.dele(" hundred"), b.alt(
            b.seq(b.dele(" "), b.alt(b.seq(b.ins("0"), en_units()), en_ten_to_ninety_nine())),
            b.ins("00")))
        return b.alt(en_units(), en_ten_to_ninety_nine(), hundreds)

    cardinal = token("cardinal", field("value", b.alt(
        number(), decimal(), digit_string(),
        b.seq(b.cross("负", "-"), b.alt(number(), decimal(), digit())),
        en_number())))

    percent = token("percent", field("value", b.seq(b.dele("百分之"), amount())))

    fraction = token("fraction",
                     field("denominator", b.alt(number(), digit())),
                     b.seq(b.dele("分之"), field("numerator", b.alt(number(), digit()))))

    month_names = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二"]
    day_names = ([d for d in "一二三四五六七八九"] + ["十"] + ["十" + d for d in "一二三四五六七八九"] + ["二十"]
                 + ["二十" + d for d in "一二三四五六七八九"] + ["三十", "三十一"])
    year4 = lambda: b.seq(string_digit(), string_digit(), string_digit(), string_digit())  # noqa: E731
    year = lambda: field("year", b.seq(year4(), b.dele("年")))  # noqa: E731
    month = lambda: field("month", b.seq(b.string_map((m, f"{k + 1:02d}") for k, m in enumerate(month_names)),  # noqa: E731
                                         b.dele("月")))
    day = lambda: field("day", b.seq(b.string_map((d, f"{k + 1:02d}") for k, d in enumerate(day_names)),  # noqa: E731
                                     b.alt(b.dele("日"), b.dele("号"))))
    date = b.alt(token("date", year(), month(), day()),
                 token("date", year(), month()),
                 token("date", month(), day()),
                 token("date", field("year", b.seq(year4(), b.acc("年")))))

    hour_names = ["零", "一", "二", "两", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二"] + \
                 ["十" + d for d in "三四五六七八九"] + ["二十", "二十一", "二十二", "二十三", "二十四"]
    hour_values = ["0", "1", "2", "2"] + [str(k) for k in range(3, 25)]
    sixty = [("零" + d, f"0{v}") for d, v in DIGITS.items()] + [(d, f"0{v}") for d, v in DIGITS.items()]
    sixty += [("十", "10")] + [("十" + d, f"1{v}") for d, v in DIGITS.items()]
    for t, tv in zip("二三四五", "2345"):
        sixty += [(t + "十", tv + "0")] + [(t + "十" + d, tv + v) for d, v in DIGITS.items()]
    hour = lambda: field("hour", b.seq(b.string_map(zip(hour_names, hour_values)), b.dele("点")))  # noqa: E731
    minute = lambda: field("minute", b.alt(b.seq(b.string_map(sixty), b.dele("分")), b.cross("半", "30")))  # noqa: E731
    second = lambda: field("second", b.seq(b.string_map(sixty), b.dele("秒")))  # noqa: E731
    noon = lambda: field("noon", b.string_map([("上午", "a.m."), ("下午", "p.m.")]))  # noqa: E731
    time = b.alt(token("time", hour(), minute()),
                 token("time", hour(), minute(), second()),
                 token("time", noon(), hour(), minute()),
                 token("time", noon(), hour(), minute(), second()))

    money = token("money", field("value", amount()),
                  field("currency", b.string_map([("元", "¥"), ("美元", "$")])))

    classes = [cardinal, percent, fraction, date, time, money]
    if whitelist:
        classes.append(token("whitelist", field("value", b.string_map(whitelist))))

    # Fallbacks: any other UTF-8 character (quote and backslash escaped), or a run of ASCII
    # letters as one token (so that number words are only converted as whole words).
    def utf8_char():
        cont = lambda: b.bytes_in(range(0x80, 0xC0))  # noqa: E731
        ascii_other = [c for c in range(1, 0x80) if not chr(c).isalpha() and chr(c) not in '"\\']
        return b.alt(b.bytes_in(ascii_other),
                     b.cross('"', '\\"'), b.cross("\\", "\\\\"),
                     b.seq(b.bytes_in(range(0xC2, 0xE0)), cont()),
                     b.seq(b.bytes_in(range(0xE0, 0xF0)), cont(), cont()),
                     b.seq(b.bytes_in(range(0xF0, 0xF5)), cont(), cont(), cont()))

    letters = [c for c in range(1, 0x80) if chr(c).isalpha()]
    char = b.weight(b.seq(b.ins('char { value: "'), utf8_char(), b.ins('" }')), CHAR_COST)
    word = b.weight(b.seq(b.ins('char { value: "'), b.plus(lambda: b.bytes_in(letters)), b.ins('" }')), CHAR_COST)

    return b.alt(*(classes + [char, word]))


def build_tagger(b, whitelist):
    # Machines are used once each: the token union is built twice (first token, then the loop).
    first = tagger(b, whitelist)
    rest = tagger(b, whitelist)
    return b.opt(b.seq(first, b.star(b.seq(b.ins(" "), rest))))


def build_verbalizer(b):
    value_bytes = [c for c in range(1, 0x100) if c != 0x22]
    v = lambda: b.plus(lambda: b.bytes_in(value_bytes))  # noqa: E731
    take = lambda key: b.seq(b.dele(f'{key}: "'), v(), b.dele('"'))  # noqa: E731

    def tok():
        plain = [c for c in range(1, 0x100) if c not in (0x22, 0x5C)]
        char_value = b.plus(lambda: b.alt(b.bytes_in(plain), b.cross('\\"', '"'), b.cross("\\\\", "\\")))
        return b.alt(
            b.seq(b.dele('char { value: "'), char_value, b.dele('" }')),
            b.seq(b.dele("cardinal { "), take("value"), b.dele(" }")),
            b.seq(b.dele("whitelist { "), take("value"), b.dele(" }")),
            b.seq(b.dele("percent { "), take("value"), b.ins("%"), b.dele(" }")),
            b.seq(b.dele("fraction { "), take("numerator"), b.dele(" "), b.ins("/"), take("denominator"), b.dele(" }")),
            b.seq(b.dele("date { "), b.alt(
                b.seq(take("year"), b.dele(" "), b.ins("/"), take("month"),
                      b.opt(b.seq(b.dele(" "), b.ins("/"), take("day")))),
                b.seq(take("month"), b.dele(" "), b.ins("/"), take("day")),
                take("year")), b.dele(" }")),
            b.seq(b.dele("time { "), take("hour"), b.dele(" "), b.ins(":"), take("minute"),
                  b.opt(b.seq(b.dele(" "), b.ins(":"), take("second"))),
                  b.opt(b.seq(b.dele(" "), take("noon"))), b.dele(" }")),
            b.seq(b.dele("money { "), take("currency"), b.dele(" "), take("value"), b.dele(" }")))

    return b.opt(b.seq(tok(), b.star(b.seq(b.dele(" "), tok()))))


def read_whitelist(path):
    pairs = []
    if path:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if not line or line.startswith("#"):
                    continue
                src, _, dst = line.partition("\t")
                if not dst or '"' in dst:
                    raise SystemExit(f"{path}: want 'spoken<TAB>written' lines without '\"', got {line!r}")
                pairs.append((src, dst))
    return pairs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="folder for zh_itn_tagger.txt / zh_itn_verbalizer.txt")
    ap.add_argument("--whitelist", help="extra 'spoken<TAB>written' pairs, tagged as whitelist tokens")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    b = Builder()
    s, f = build_tagger(b, read_whitelist(args.whitelist))
    b.write(os.path.join(args.out, "zh_itn_tagger.txt"), s, f)
    b = Builder()
    s, f = build_verbalizer(b)
    b.write(os.path.join(args.out, "zh_itn_verbalizer.txt"), s, f)


if __name__ == "__main__":
    main()
