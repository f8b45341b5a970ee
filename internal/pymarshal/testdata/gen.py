"""Writes marshal fixtures for internal/pymarshal with whichever Python runs
it (2.7 and 3.6-3.13 were used: see gen.sh), plus its expectations: the
co_names, co_name and string constants of every code object, as that
Python itself reports them. The code is compiled, never called.
"""
import json
import marshal
import sys
import types

SRC = '''
def outer(x, *args, **kw):
    big = 123456789012345678901234567890
    neg = -98765432109876543210
    f = 1.5
    c = 2j
    b = b"raw bytes"
    u = u"unicode \\u00e9"
    fs = frozenset([1, 2])
    t = (None, True, False, Ellipsis)
    inner = lambda y: __import__("os").system("echo pwned")
    return inner(x) + big + neg
'''


def codes(co):
    out = [co]
    for c in co.co_consts:
        if isinstance(c, types.CodeType):
            out.extend(codes(c))
    return out


def strings(co):
    res = []
    for c in co.co_consts:
        if isinstance(c, bytes) and str is not bytes:
            res.append(c.decode("latin-1"))
        elif isinstance(c, str) or (str is bytes and isinstance(c, unicode)):  # noqa: F821
            res.append(c if isinstance(c, str) else c.encode("utf-8"))
    return res


def main():
    tag = "py%d%d" % sys.version_info[:2]
    mod = compile(SRC, "<fixture>", "exec")
    outer = [c for c in mod.co_consts if isinstance(c, types.CodeType)][0]
    lam = compile('lambda x: __import__("os").system("echo pwned")', "<lambda-file>", "eval").co_consts[0]
    for name, co in (("outer", outer), ("lambda", lam)):
        with open("%s_%s.marshal" % (tag, name), "wb") as f:
            f.write(marshal.dumps(co))
        exp = {"functions": [c.co_name for c in codes(co)],
               "names": sorted(set(n for c in codes(co) for n in c.co_names)),
               "strings": sorted(set(s for c in codes(co) for s in strings(c)))}
        with open("%s_%s.json" % (tag, name), "w") as f:
            json.dump(exp, f, indent=1, sort_keys=True)


main()
