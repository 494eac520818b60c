#!/usr/bin/env python3
"""Reads every sr2ctl YAML golden with PyYAML (a YAML 1.1 reader, the stricter one about
plain scalars) and checks that it holds exactly the data of the matching JSON golden."""
import json
import pathlib
import sys

import yaml

testdata = pathlib.Path(__file__).parent
failures = 0
checked = 0
for y in sorted(testdata.glob("*.yaml")):
    for suffix, load in ((".json", json.load),
                         (".jsonl", lambda f: [json.loads(line) for line in f])):
        j = y.with_suffix(suffix)
        if not j.exists():
            continue
        checked += 1
        with open(y) as fy, open(j) as fj:
            if yaml.safe_load(fy) != load(fj):
                print(f"{y.name}: differs from {j.name}")
                failures += 1
if checked == 0:
    print("no YAML golden with a JSON twin found")
    sys.exit(1)
print(f"{checked} YAML goldens checked, {failures} differ")
sys.exit(1 if failures else 0)
