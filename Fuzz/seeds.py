#!/usr/bin/env python3
"""Regenerates the seed corpus in Fuzz/corpus/<target>/ from the repository's own inputs.

Seeds come from the sample files (Processes/*.bpmn, Samples/*.json) and from the string literals
of the tests under Tests/ (BPMN documents and bodies, FEEL expressions and scripts, templates,
JSON texts). Generated seeds are named `t-<sha1>`; hand-written seeds (`hand-*`) are left alone.
Run it after adding tests, then commit the corpus:

    python3 Fuzz/seeds.py
"""

import hashlib
import html
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "Fuzz", "corpus")
# Seeds longer than a target's -max_len in Fuzz/run.sh would be cut by libFuzzer: keep below it.
MAX_LEN = {"loader": 16384, "feel": 2048, "template": 4096, "json": 4096}

DOCUMENT = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:procrun="urn:procrun:bpmn:1" \
xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D">
<process id="P" isExecutable="true">
{body}
</process>
</definitions>"""

BPMN_TAGS = re.compile(
    r"<(startEvent|endEvent|task|userTask|serviceTask|scriptTask|sequenceFlow|exclusiveGateway|"
    r"parallelGateway|inclusiveGateway|subProcess|callActivity|boundaryEvent|intermediate\w+|process|"
    r"definitions|procrun:\w+|eventBasedGateway|receiveTask|sendTask|manualTask|businessRuleTask)\b")


def swift_unescape(text):
    def replace(match):
        escape = match.group(1)
        if escape.startswith("u{"):
            return chr(int(escape[2:-1], 16))
        return {"n": "\n", "t": "\t", "r": "\r", "0": "\0", '"': '"', "'": "'", "\\": "\\"}.get(escape, escape)

    return re.sub(r"\\(u\{[0-9a-fA-F]+\}|.)", replace, text)


def flows(specs):
    """Tests/EngineTests/Support.swift's flows(...) helper."""
    lines = []
    for index, spec in enumerate(specs):
        parts = [p.strip() for p in spec.split(":", 1)]
        source, target = parts[0].split("->")
        condition = ""
        if len(parts) > 1:
            condition = "<conditionExpression>%s</conditionExpression>" % parts[1].replace("<", "&lt;").replace(">", "&gt;")
        lines.append('<sequenceFlow id="f%d" sourceRef="%s" targetRef="%s">%s</sequenceFlow>' % (index + 1, source, target, condition))
    return "\n".join(lines)


def expand_interpolations(text):
    """Replaces `\\(...)`: flows(...) as the helper writes them, anything else by a plausible word."""
    out = []
    i = 0
    while i < len(text):
        if text.startswith("\\(", i):
            depth, j = 1, i + 2
            while j < len(text) and depth:
                depth += {"(": 1, ")": -1}.get(text[j], 0)
                j += 1
            inner = text[i + 2 : j - 1]
            if inner.startswith("flows("):
                out.append(flows([swift_unescape(s) for s in re.findall(r'"((?:[^"\\]|\\.)*)"', inner)]))
            elif inner in ("executable",):
                out.append("true")
            else:
                out.append("x")
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def literals(source):
    """The string literals of a Swift file: multi-line, raw (#"…"#) and plain."""
    found = []
    for match in re.finditer(r'"""\n(.*?)\n([ \t]*)"""', source, re.S):
        indent = match.group(2)
        lines = [line[len(indent):] if line.startswith(indent) else line.lstrip() for line in match.group(1).split("\n")]
        found.append(swift_unescape(expand_interpolations("\n".join(lines))))
    source = re.sub(r'"""\n.*?\n[ \t]*"""', "", source, flags=re.S)
    for match in re.finditer(r'#"(.*?)"#', source):
        found.append(match.group(1))
    source = re.sub(r'#".*?"#', "", source)
    for match in re.finditer(r'"((?:[^"\\\n]|\\.)*)"', source):
        found.append(swift_unescape(expand_interpolations(match.group(1))))
    return found


def main():
    seeds = {name: set() for name in MAX_LEN}
    for folder, _, files in os.walk(os.path.join(ROOT, "Processes")):
        for name in files:
            if name.endswith(".bpmn"):
                seeds["loader"].add(open(os.path.join(folder, name), encoding="utf-8").read())
    for folder, _, files in os.walk(os.path.join(ROOT, "Samples")):
        for name in files:
            if name.endswith(".json"):
                seeds["json"].add(open(os.path.join(folder, name), encoding="utf-8").read())

    for folder, _, files in os.walk(os.path.join(ROOT, "Tests")):
        for name in sorted(files):
            if not name.endswith(".swift"):
                continue
            path = os.path.join(folder, name)
            for text in literals(open(path, encoding="utf-8").read()):
                stripped = text.strip()
                if not stripped:
                    continue
                if BPMN_TAGS.search(text):
                    document = text if "<definitions" in text else DOCUMENT.format(body=text)
                    seeds["loader"].add(document)
                    for body in re.findall(r"<(?:conditionExpression|script|completionCondition|loopCondition)\b[^>]*>(.*?)</", document, re.S):
                        seeds["feel"].add(html.unescape(body))
                    for value in re.findall(r'(?:url|value|body)="([^"]*\{[$D][^"]*)"', document):
                        seeds["template"].add(html.unescape(value))
                    continue
                if "{$" in text or "{DateTime(" in text:
                    seeds["template"].add(text)
                    continue
                if stripped[0] in "{[" or name == "JSONTests.swift":
                    try:
                        json.loads(text)
                        seeds["json"].add(text)
                    except ValueError:
                        if name == "JSONTests.swift":
                            seeds["json"].add(text)
                    continue
                if name == "FEELTests.swift" and len(text) < 300:
                    seeds["feel"].add(text)

    total = 0
    for target, texts in seeds.items():
        folder = os.path.join(CORPUS, target)
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            if name.startswith("t-"):
                os.remove(os.path.join(folder, name))
        kept = 0
        for text in sorted(texts):
            data = text.encode("utf-8")
            if len(data) > MAX_LEN[target]:
                continue
            with open(os.path.join(folder, "t-" + hashlib.sha1(data).hexdigest()), "wb") as file:
                file.write(data)
            kept += 1
            total += len(data)
        print("%s: %d seeds from the repository" % (target, kept))
    print("%d bytes" % total, file=sys.stderr)


if __name__ == "__main__":
    main()
