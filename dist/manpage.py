#!/usr/bin/env python3
"""Writes a daemon's man page (section 8) from its own --help and --version.

Usage: manpage.py PROGRAM DOCDIR OUTPUT

--help stays the single source: this reads the layout lib/daemon.c prints
(vg__usage) and marks it up as roff, losing no word of it. The layout:

    Usage: PROG ...            the synopsis; more forms on lines indented 7
    PROG - summary             the NAME line
    Heading:                   a section; its body is indented 2
      Entry  text              in a list section: a term, 2+ spaces, text;
               more text       continuation lines are indented deeper
      a sentence               a paragraph of its own
    Heading (a note):          the note becomes the section's first paragraph

In a text section (Description, Counters) the body is paragraphs, and lines
indented deeper than 2 are a preformatted table. "See also" names the other
daemons' pages and the installed documentation instead of the source tree.
help2man is not used: it knows only its own headings (Options, Files, ...)
and would nest Signals, Exit status and See also under the wrong ones
(docs/dependencies.md).

Exits 1, saying why, on a --help it cannot read that way, so that the
build fails rather than install a page that lost part of it.
"""

import datetime
import os
import re
import subprocess
import sys

DAEMONS = ("vigil-collector", "vigil-correlator", "vigil-shipper")
LIST_SECTIONS = {"Options", "One-shot modes", "Signals", "Exit status", "Files"}
TEXT_SECTIONS = {"Description", "Counters", "See also"}
TERM_RE = re.compile(r"^  (\S.*?)  +(\S.*)$")
PLACEHOLDER_RE = re.compile(r"^(\[?)([A-Z][A-Z_]*(?:=[A-Z_]+)?)((?:\.\.\.)?\]?(?:\.\.\.)?[,;]?)$")


class HelpError(Exception):
    pass


def esc(text):
    """Escapes text for roff: backslashes, option dashes, a leading dot or quote."""
    text = text.replace("\\", "\\e")
    text = re.sub(r"(?<![\w/.-])-(-?)(?=\w)", lambda m: "\\-" + ("\\-" if m.group(1) else ""), text)
    if text[:1] in (".", "'"):
        text = "\\&" + text
    return text


def term_markup(term):
    """A term in bold, its placeholders (FILE, NAME=FILE, [ARGS...]) in italics."""
    words = []
    for w in term.split(" "):
        m = PLACEHOLDER_RE.match(w)
        if m and not w.startswith("SIG"):
            words.append(esc(m.group(1)) + "\\fI" + esc(m.group(2)) + "\\fR" + esc(m.group(3)))
        else:
            words.append("\\fB" + esc(w) + "\\fR")
    return " ".join(words)


def split_sections(lines, prog):
    """Returns (synopsis lines, summary, [(heading, note, body lines)])."""
    if not lines or not lines[0].startswith("Usage: " + prog + " "):
        raise HelpError("the first line is not 'Usage: %s ...'" % prog)
    i, synopsis = 1, [lines[0][len("Usage: "):]]
    while i < len(lines) and lines[i].startswith(" " * 7 + prog):
        synopsis.append(lines[i].strip())
        i += 1
    while i < len(lines) and not lines[i]:
        i += 1
    if i >= len(lines) or not lines[i].startswith(prog + " - "):
        raise HelpError("no '%s - summary' line after the synopsis" % prog)
    summary = lines[i][len(prog) + 3:]
    sections = []
    for line in lines[i + 1:]:
        if not line:
            continue
        if not line.startswith(" "):
            m = re.match(r"^([A-Z][A-Za-z -]*?)(?: \((.*)\))?:$", line)
            if not m:
                raise HelpError("line %r: neither a heading nor indented" % line)
            if m.group(1) not in LIST_SECTIONS | TEXT_SECTIONS:
                raise HelpError("unknown heading %r: add it to LIST_SECTIONS or TEXT_SECTIONS"
                                % m.group(1))
            sections.append((m.group(1), m.group(2), []))
        elif not sections:
            raise HelpError("line %r comes before any heading" % line)
        else:
            sections[-1][2].append(line)
    return synopsis, summary, sections


def indent(line):
    return len(line) - len(line.lstrip(" "))


def list_body(body):
    """Roff for a list section: .TP entries, and a paragraph for each run of
    lines that are no entry (a term, 2+ spaces, text)."""
    out, k = [], 0
    while k < len(body):
        line = body[k]
        if indent(line) != 2:
            raise HelpError("line %r: continuation without an entry" % line)
        m = TERM_RE.match(line)
        cont = []
        k += 1
        while k < len(body) and indent(body[k]) > 2:
            cont.append(body[k].strip())
            k += 1
        if m:
            term, text = m.group(1), [m.group(2)] + cont
        elif cont:
            term, text = line.strip(), cont
        else:
            # a sentence of its own, and the lines after it that are no
            # entry either: one paragraph, filled as --help wraps it
            para = [esc(line.strip())]
            while k < len(body) and indent(body[k]) == 2 and not TERM_RE.match(body[k]):
                para.append(esc(body[k].strip()))
                k += 1
            out += [".PP"] + para
            continue
        out += [".TP", term_markup(term)] + [esc(t) for t in text]
    return out


def text_body(body):
    """Roff for a text section: paragraphs, deeper lines as a preformatted block."""
    out, pre = [".PP"], False
    for line in body:
        deep = indent(line) > 2
        if deep and not pre:
            out += [".RS 2", ".nf"]
        elif not deep and pre:
            out += [".fi", ".RE"]
        pre = deep
        out.append(esc(line[4:] if deep else line.strip()))
    if pre:
        out += [".fi", ".RE"]
    return out


def see_also(prog, docdir):
    others = ", ".join("\\fB%s\\fR(8)" % d for d in DAEMONS if d != prog)
    return [".PP", others + ".", ".PP",
            "The documentation in \\fI%s\\fR: README.md, then in docs/:" % esc(docdir),
            "architecture.md, configuration.md (every key), deployment.md, rules.md,",
            "shipper.md."]


def synopsis_markup(prog, form):
    rest = form[len(prog):].strip()
    note = ""
    m = re.match(r"^(.*?)\s{2,}\((.*)\)$", rest)
    if m:
        rest, note = m.group(1), m.group(2)
    line = "\\fB%s\\fR %s" % (prog, term_markup(rest).replace("\\fB|\\fR", "|"))
    return [line + (" (%s)" % esc(note) if note else ""), ".br"]


def manpage(prog, help_text, version, docdir, date):
    synopsis, summary, sections = split_sections(help_text.rstrip("\n").split("\n"), prog)
    out = ['.TH %s 8 "%s" "%s" "System Administration"' % (prog.upper(), date, esc(version)),
           ".nh", ".ad l", ".SH NAME", "%s \\- %s" % (prog, esc(summary)), ".SH SYNOPSIS"]
    for form in synopsis:
        out += synopsis_markup(prog, form)
    for heading, note, body in sections:
        out.append('.SH "%s"' % heading.upper())
        if heading == "See also":
            out += see_also(prog, docdir)
            continue
        if note:
            out += [".PP", esc(note[0].upper() + note[1:]) + "."]
        out += list_body(body) if heading in LIST_SECTIONS else text_body(body)
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) != 4:
        sys.stderr.write("usage: manpage.py PROGRAM DOCDIR OUTPUT\n")
        return 2
    program, docdir, output = argv[1:]
    prog = os.path.basename(program)
    env = dict(os.environ, LC_ALL="C")
    help_text = subprocess.run([program, "--help"], check=True, capture_output=True,
                               text=True, env=env).stdout
    version = subprocess.run([program, "--version"], check=True, capture_output=True,
                             text=True, env=env).stdout.split("\n")[0]
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = (datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch
            else datetime.datetime.now(datetime.timezone.utc))
    try:
        page = manpage(prog, help_text, version, docdir, when.strftime("%Y-%m-%d"))
    except HelpError as e:
        sys.stderr.write("manpage.py: %s --help: %s\n" % (prog, e))
        return 1
    with open(output, "w", encoding="utf-8") as f:
        f.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
