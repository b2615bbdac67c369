#!/usr/bin/env python3
"""Independent checks of v6audit's CI formats, by consumers that are not ours.

    ci_formats.py junit REPORT.xml
    ci_formats.py sarif REPORT.sarif SCHEMA.json

junit: parsed with junitparser (PyPI), the library CI plug-ins use; prints
suites, cases and failures as it reads them, so a test can compare them with
v6audit's own report. sarif: validated against the SARIF 2.1.0 JSON schema
(from the npm package @microsoft/jest-sarif) with jsonschema (PyPI).
Exit 0 when valid; 1 with the reason otherwise.
"""
import json
import sys


def junit(path):
    from junitparser import JUnitXml, Failure, Error, Skipped

    xml = JUnitXml.fromfile(path)
    suites = cases = failures = errors = skipped = 0
    for suite in xml:
        suites += 1
        for case in suite:
            cases += 1
            for r in case.result:
                if isinstance(r, Failure):
                    failures += 1
                    if not r.message:
                        raise SystemExit(f"{suite.name}/{case.name}: a failure without a message")
                elif isinstance(r, Error):
                    errors += 1
                elif isinstance(r, Skipped):
                    skipped += 1
    print(json.dumps({"suites": suites, "cases": cases, "failures": failures,
                      "errors": errors, "skipped": skipped}))


def sarif(path, schema_path):
    import jsonschema

    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    with open(path, encoding="utf-8") as f:
        log = json.load(f)
    validator = jsonschema.Draft4Validator(schema)
    problems = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
    if problems:
        for p in problems[:20]:
            print(f"{'/'.join(map(str, p.path))}: {p.message}", file=sys.stderr)
        raise SystemExit(1)
    results = log["runs"][0]["results"]
    print(json.dumps({"results": len(results), "rules": len(log["runs"][0]["tool"]["driver"]["rules"])}))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "junit":
        junit(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "sarif":
        sarif(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(__doc__)
