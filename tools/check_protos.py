#!/usr/bin/env python3
"""Fail when a .c file declares a non-static function prototype.

A function used by more than one file is declared once, in the header of
the file that defines it (STYLE.md); a prototype written by hand in a .c
file can drift from the definition without the compiler noticing. This
finds them at file scope and at block scope.

    usage: tools/check_protos.py FILE.c...

Prints "file:line: prototype of NAME outside a header" for each and exits 1
if there is any. Static prototypes (forward declarations of a file's own
functions) are allowed. The scan is lexical: comments, strings and
preprocessor lines are removed, the rest is cut into statements at ; { }
and a statement is a prototype when it is TYPE... NAME ( ... ) ATTRS ;
with no initialiser.
"""
import bisect
import re
import sys

# Names whose prototype a .c file may write because no header of ours can
# own them: the libFuzzer entry point is declared by the fuzz engine's
# contract, not by a header we have.
ALLOWED = {"LLVMFuzzerTestOneInput", "LLVMFuzzerInitialize"}

KEYWORDS = {
    "return", "if", "while", "for", "switch", "case", "goto", "else", "do",
    "sizeof", "typeof", "__typeof__", "asm", "__asm__", "default", "break",
    "continue", "_Static_assert", "static_assert", "_Generic", "alignof",
    "_Alignof", "__builtin_offsetof", "offsetof",
}
TOKEN = re.compile(r"[A-Za-z_]\w*|\d[\w.]*|->|\+\+|--|<<=|>>=|[<>=!&|^+\-*/%]=|&&|\|\||<<|>>|\S")


def strip(text):
    """Comments, string and character literals and preprocessor lines
    become blanks; line breaks stay so line numbers hold."""
    out = []
    i, n = 0, len(text)
    at_line_start = True
    while i < n:
        c = text[i]
        if at_line_start and c == "#":
            # a preprocessor line, with its continuations
            while i < n and text[i] != "\n":
                if text[i] == "\\" and i + 1 < n and text[i + 1] == "\n":
                    out.append("\n")
                    i += 2
                    continue
                i += 1
            continue
        if c == "/" and text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
            continue
        if c == "/" and text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
            continue
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + c)  # an empty literal keeps the statement's shape
            out.append(re.sub(r"[^\n]", "", text[i + 1:j]))
            i = j + 1
            continue
        if c == "\n":
            at_line_start = True
        elif not c.isspace():
            at_line_start = False
        out.append(c)
        i += 1
    return "".join(out)


def drop_attributes(tokens):
    """Remove __attribute__((...)) groups (and the tree's attribute
    macros, which expand to them) from a token list."""
    out = []
    i = 0
    while i < len(tokens):
        t = tokens[i][0]
        if t in ("__attribute__", "__attribute", "__declspec", "_Alignas", "alignas"):
            i += 1
            depth = 0
            while i < len(tokens):
                if tokens[i][0] == "(":
                    depth += 1
                elif tokens[i][0] == ")":
                    depth -= 1
                    if depth == 0:
                        i += 1
                        break
                i += 1
            continue
        if re.fullmatch(r"__(must_check|noreturn|unused|used|packed|aligned|printf_like|cold|hot|pure|const|section|weak|always_inline|noinline|maybe_unused)\w*", t):
            i += 1
            continue
        out.append(tokens[i])
        i += 1
    return out


def prototype_name(stmt):
    """NAME when the statement (a list of (token, line)) declares a
    non-static function, else None."""
    toks = drop_attributes(stmt)
    if not toks:
        return None
    words = [t for t, _ in toks]
    if "=" in words or "static" in words or "typedef" in words:
        return None
    if words[0] in KEYWORDS or not re.fullmatch(r"[A-Za-z_]\w*", words[0]):
        return None
    try:
        p = words.index("(")
    except ValueError:
        return None
    head = words[:p]
    if any(not (re.fullmatch(r"[A-Za-z_]\w*", w) or w == "*") for w in head):
        return None
    if sum(1 for w in head if w != "*") < 2 or head[-1] == "*":
        return None
    if any(w in KEYWORDS for w in head):
        return None
    # ( params ) and nothing after it but the end of the statement
    depth = 0
    for k in range(p, len(words)):
        if words[k] == "(":
            depth += 1
        elif words[k] == ")":
            depth -= 1
            if depth == 0:
                return head[-1] if k == len(words) - 1 else None
    return None


def scan(path):
    """(line, name) of each non-static prototype in the file."""
    text = strip(open(path, encoding="utf-8", errors="replace").read())
    starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
    found = []
    stmt = []
    for m in TOKEN.finditer(text):
        t = m.group()
        if t in (";", "{", "}") or (t == ":" and not (stmt and stmt[0][0] == "case")):
            if t == ";":
                name = prototype_name(stmt)
                if name and name not in ALLOWED:
                    found.append((stmt[0][1], name))
            stmt = []
            continue
        stmt.append((t, bisect.bisect_right(starts, m.start())))
    return found


def main(paths):
    bad = 0
    for path in paths:
        for line, name in scan(path):
            print(f"{path}:{line}: prototype of {name} outside a header")
            bad += 1
    if bad:
        print(f"check_protos: {bad} prototype(s) in .c files; declare them in the "
              "header of the file that defines them", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
